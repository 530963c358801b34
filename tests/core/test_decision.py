"""What the API server receives: warnings within its limits, deny lines, audit keys."""

from __future__ import annotations

import pytest

from webhook.core.decision import (
    ANNOTATIONS_TOTAL_MAX,
    WARNING_LENGTH_MAX,
    WARNINGS_TOTAL_MAX,
    audit_annotations,
    deny_message,
    within_budget,
)
from webhook.core.policy import Finding, Reason
from webhook.core.workloads import ContainerType, ImageSite


def findings(
    count: int, image_length: int = 100, reason: Reason = Reason.TAG_NOT_MIRRORED
) -> list[Finding]:
    return [
        Finding(
            ImageSite(f"/spec/containers/{n}/image", f"c{n}", ContainerType.CONTAINER, image),
            reason,
            "pulled by tag, and no ImageTagMirrorSet serves it",
            f"pin it: {image}@sha256:<digest>",
            "tag not mirrored",
        )
        for n in range(count)
        for image in [f"quay.io/acme/{n:03d}" + "x" * image_length + ":1"]
    ]


@pytest.mark.parametrize("count", [1, 10, 34, 35, 36, 200])
@pytest.mark.parametrize("length", [40, 97, 119, 200])
def test_warnings_stay_within_the_api_servers_budget(count: int, length: int) -> None:
    texts = [f"{n:03d}" + "x" * length for n in range(count)]
    warnings = within_budget(texts, "images")
    assert all(len(w) <= WARNING_LENGTH_MAX for w in warnings)
    assert sum(len(w) for w in warnings) <= WARNINGS_TOTAL_MAX


def test_the_last_warning_says_how_many_did_not_fit() -> None:
    warnings = within_budget(["y" * 119] * 100, "images not pinned")
    shown = len(warnings) - 1
    assert warnings[-1] == f"… and {100 - shown} more images not pinned"


def test_everything_that_fits_is_shown_as_it_is() -> None:
    assert within_budget(["a", "b"], "images") == ("a", "b")


def annotations_size(annotations: dict[str, str]) -> int:
    return sum(len(key) + len(value) for key, value in annotations.items())


@pytest.mark.parametrize("count", [1, 20, 30, 200])
@pytest.mark.parametrize("image_length", [10, 100, 500])
def test_audit_annotations_stay_within_their_budget(count: int, image_length: int) -> None:
    assert annotations_size(audit_annotations(findings(count, image_length))) <= (
        ANNOTATIONS_TOTAL_MAX
    )


def test_the_last_audit_annotation_says_how_many_findings_were_not_recorded() -> None:
    annotations = audit_annotations(findings(200))
    recorded = len(annotations) - 1
    assert list(annotations)[-1] == "more-findings"
    assert annotations["more-findings"] == f"… and {200 - recorded} more findings not recorded"


def test_every_audit_finding_that_fits_is_recorded() -> None:
    annotations = audit_annotations(findings(3))
    assert list(annotations) == ["tag-not-mirrored-0", "tag-not-mirrored-1", "tag-not-mirrored-2"]


def test_a_denial_for_missing_mirrors_says_the_image_would_not_go_through_a_mirror() -> None:
    headline = deny_message(findings(2)).splitlines()[0]
    assert headline == "idms-guard: 2 images would not be pulled through a mirror:"


@pytest.mark.parametrize("reason", [Reason.REGISTRY_NOT_ALLOWED, Reason.NOT_IN_MIRROR])
def test_a_denial_that_a_mirror_would_not_cure_says_the_pull_would_fail(reason: Reason) -> None:
    mixed = findings(1) + findings(1, reason=reason)
    headline = deny_message(mixed).splitlines()[0]
    assert headline == "idms-guard: 2 images would fail to pull on the nodes:"

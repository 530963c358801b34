"""`registry-not-allowed`: the node's signature policy rejects the image the pod names.

The same finding reaches the webhook's answer, `check` and `report`; its message names the
setting that causes it and the fix.
"""

from __future__ import annotations

from typing import Any

from tests.support.cluster_objects import item, workload
from tests.support.mirror_objects import entry, image_config, mirror_object
from tests.support.reviews import pod_review
from webhook.core.admission import read_review, validate
from webhook.core.decision import Mode, Outcome
from webhook.core.explanation import finding_for_image
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings, Reason
from webhook.core.report import report_rows
from webhook.core.signature_policy import parse_policy

D = "sha256:" + "a" * 64
QUAY = mirror_object("idms", "quay", [entry("quay.io", "mirror.corp/quay")])


def index_of(*objects: dict[str, Any]) -> MirrorIndex:
    return MirrorIndex.from_config(load_mirror_sets(objects))


BLOCKED = index_of(QUAY, image_config(blockedRegistries=["quay.io"]))
ALLOWED = index_of(QUAY, image_config(allowedRegistries=["mirror.corp"]))


def test_a_blocked_mirrored_source_names_the_setting_the_mirror_and_the_fix() -> None:
    finding = finding_for_image(f"quay.io/ns/app@{D}", BLOCKED, PolicySettings())
    assert finding is not None
    assert finding.reason is Reason.REGISTRY_NOT_ALLOWED
    assert finding.problem == (
        "quay.io is in blockedRegistries of Image/cluster: the pull through "
        f"mirror.corp/quay/ns/app@{D} fails at the signature policy"
    )
    assert finding.fix == (
        "remove quay.io from blockedRegistries, or pull by the mirror's own name: "
        f"mirror.corp/quay/ns/app@{D}"
    )


def test_a_source_missing_from_allowed_registries_says_the_source_must_be_allowed() -> None:
    finding = finding_for_image(f"quay.io/ns/app@{D}", ALLOWED, PolicySettings())
    assert finding is not None
    assert finding.problem.startswith("quay.io is not in allowedRegistries of Image/cluster")
    assert finding.fix.startswith("add quay.io (the registry the pod names, not its mirror)")


def test_the_mirrors_own_name_is_suggested_only_when_the_policy_accepts_it() -> None:
    index = index_of(QUAY, image_config(allowedRegistries=["registry.redhat.io"]))
    finding = finding_for_image(f"quay.io/ns/app@{D}", index, PolicySettings())
    assert finding is not None
    assert "mirror's own name" not in finding.fix


def test_an_image_named_by_its_mirror_is_accepted() -> None:
    assert finding_for_image(f"mirror.corp/quay/ns/app@{D}", BLOCKED, PolicySettings()) is None


def test_a_node_policy_file_is_named_as_such() -> None:
    policy = parse_policy(
        {
            "default": [{"type": "insecureAcceptAnything"}],
            "transports": {"docker": {"quay.io/ns": [{"type": "reject"}]}},
        }
    )
    index = MirrorIndex(index_of(QUAY).tables, signature_policy=policy)
    finding = finding_for_image(f"quay.io/ns/app@{D}", index, PolicySettings())
    assert finding is not None
    assert finding.problem.startswith(
        'the node\'s policy.json rejects it (transports.docker["quay.io/ns"] requires reject)'
    )
    assert finding.fix.startswith(
        'change transports.docker["quay.io/ns"] in the node\'s policy.json'
    )


def test_a_signature_requirement_alone_is_no_finding() -> None:
    policy = parse_policy(
        {"default": [{"type": "sigstoreSigned", "keyPath": "/etc/pki/cosign.pub"}]}
    )
    index = MirrorIndex(index_of(QUAY).tables, signature_policy=policy)
    assert finding_for_image(f"quay.io/ns/app@{D}", index, PolicySettings()) is None


def test_the_webhook_denies_in_enforce_mode_with_the_finding() -> None:
    request = read_review(pod_review({"app": f"quay.io/ns/app@{D}"}))
    validation = validate(request, Mode.ENFORCE, BLOCKED, PolicySettings())
    assert validation.decision.outcome is Outcome.DENIED
    assert [f.reason for f in validation.findings] == [Reason.REGISTRY_NOT_ALLOWED]


def test_the_report_lists_the_finding() -> None:
    rows = report_rows(
        [item(workload("Deployment", "shop", "web", f"quay.io/ns/app@{D}"))],
        BLOCKED,
        PolicySettings(),
        {},
    )
    assert [row.reason for row in rows] == [Reason.REGISTRY_NOT_ALLOWED]

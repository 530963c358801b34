"""Which tags get pinned, where their digests may be looked up, and what is written."""

from __future__ import annotations

import pytest

from tests.support.mirror_objects import entry, mirror_object
from webhook.core.lookups import Lookup, LookupOutcome, Resolution
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.pinning import Lookups, pin_plan, pinned_image, resolve_pins
from webhook.core.workloads import ContainerType, ImageSite

DIGEST = "sha256:" + "c" * 64

INDEX = MirrorIndex.from_config(
    load_mirror_sets(
        [
            mirror_object("idms", "acme", [entry("quay.io/acme", "dm.local/acme", "dm2.local/a")]),
            mirror_object("itms", "acme", [entry("quay.io/acme", "tm.local/acme")]),
            mirror_object("itms", "tags-only", [entry("ghcr.io/team", "tm.local/team")]),
            mirror_object("idms", "rh", [entry("registry.redhat.io", "m.local/rh", never=True)]),
            mirror_object(
                "idms",
                "blocked-mirror",
                [
                    entry("quay.io/vendor", "blocked.local/vendor"),
                    entry("blocked.local", "other.local/b", never=True),
                ],
            ),
        ]
    )
)


def site(image: str | None) -> ImageSite:
    return ImageSite("/spec/containers/0/image", "app", ContainerType.CONTAINER, image)


@pytest.mark.parametrize(
    ("image", "specs"),
    [
        pytest.param(
            "quay.io/acme/app:1",
            ("tm.local/acme/app:1", "dm.local/acme/app:1", "dm2.local/a/app:1"),
            id="tag-mirrors-first-then-digest-mirrors-asked-by-tag",
        ),
        pytest.param(
            "quay.io/acme/app",
            ("tm.local/acme/app:latest", "dm.local/acme/app:latest", "dm2.local/a/app:latest"),
            id="no-tag-is-latest",
        ),
        pytest.param(
            "registry.redhat.io/ubi9/ubi:9.4", ("m.local/rh/ubi9/ubi:9.4",), id="blocked-source"
        ),
        pytest.param(
            "m.local/rh/ubi9/ubi:9.4",
            ("m.local/rh/ubi9/ubi:9.4",),
            id="an-image-named-on-a-mirror-registry-is-asked-there",
        ),
    ],
)
def test_lookups_go_only_to_mirrors_the_mirror_sets_name(
    image: str, specs: tuple[str, ...]
) -> None:
    plan = pin_plan(site(image), INDEX)
    assert plan is not None
    assert (plan.lookup_specs, plan.unpinnable) == (specs, "")


def test_the_source_is_asked_last_only_when_allowed() -> None:
    plan = pin_plan(site("quay.io/acme/app:1"), INDEX, include_source=True)
    assert plan is not None
    assert plan.lookup_specs[-1] == "quay.io/acme/app:1"


def test_a_blocked_source_is_never_asked_even_when_sources_are_allowed() -> None:
    plan = pin_plan(site("registry.redhat.io/ubi9/ubi:9.4"), INDEX, include_source=True)
    assert plan is not None
    assert "registry.redhat.io/ubi9/ubi:9.4" not in plan.lookup_specs


def test_a_mirror_in_a_blocked_scope_is_never_asked() -> None:
    plan = pin_plan(site("quay.io/vendor/agent:1"), INDEX)
    assert plan is not None
    assert plan.lookup_specs == ()


@pytest.mark.parametrize(
    "image",
    [
        pytest.param("evil.example/x/y:1", id="host-no-mirror-set-names"),
        pytest.param("10.0.0.1:5000/x:1", id="private-address-in-a-pod-spec"),
    ],
)
def test_no_lookup_goes_to_a_host_chosen_by_the_pod_spec(image: str) -> None:
    plan = pin_plan(site(image), INDEX, include_source=True)
    assert plan is not None
    assert plan.lookup_specs == ()
    assert plan.unpinnable


def test_a_tag_an_image_tag_mirror_set_serves_but_no_digest_mirror_is_left_unsaid() -> None:
    assert pin_plan(site("ghcr.io/team/app:1"), INDEX) is None  # the tag pull works as it is


def test_a_tag_whose_digest_pull_no_mirror_serves_is_not_pinned() -> None:
    plan = pin_plan(site("docker.io/library/nginx:1.27"), INDEX)
    assert plan is not None
    assert plan.lookup_specs == ()
    assert plan.unpinnable == "no ImageDigestMirrorSet would serve it by digest"


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(f"quay.io/acme/app@{DIGEST}", id="already-a-digest"),
        pytest.param(f"quay.io/acme/app:1@{DIGEST}", id="tag-and-digest"),
        pytest.param("nginx:1.27", id="short-name"),
        pytest.param("quay.io/Acme/app:1", id="invalid"),
        pytest.param(None, id="no-image"),
    ],
)
def test_nothing_to_pin(image: str | None) -> None:
    assert pin_plan(site(image), INDEX) is None


@pytest.mark.parametrize(
    ("image", "keep_tag", "expected"),
    [
        pytest.param("quay.io/acme/app:1", False, f"quay.io/acme/app@{DIGEST}", id="source-name"),
        pytest.param("quay.io/acme/app:1", True, f"quay.io/acme/app:1@{DIGEST}", id="keep-tag"),
        pytest.param("quay.io/acme/app", True, f"quay.io/acme/app:latest@{DIGEST}", id="latest"),
        pytest.param("docker.io/nginx:1", False, f"docker.io/nginx@{DIGEST}", id="name-as-written"),
    ],
)
def test_the_pinned_reference_keeps_the_source_name(
    image: str, keep_tag: bool, expected: str
) -> None:
    assert pinned_image(image, DIGEST, keep_tag) == expected


SPLIT = MirrorIndex.from_config(
    load_mirror_sets(
        [
            mirror_object("itms", "tags", [entry("quay.io/acme", "m.local/tags")]),
            mirror_object("idms", "digests", [entry("quay.io/acme", "m.local/digests")]),
        ]
    )
)
SAME = MirrorIndex.from_config(
    load_mirror_sets(
        [
            mirror_object("itms", "tags", [entry("quay.io/acme", "m.local/acme")]),
            mirror_object("idms", "digests", [entry("quay.io/acme", "m.local/acme")]),
        ]
    )
)


class Registries:
    """A resolve function over fixed answers: spec → digest (absent: not found)."""

    def __init__(self, digests: dict[str, str]) -> None:
        self.digests = digests
        self.asked: list[list[str]] = []

    def __call__(self, lookups: Lookups, timeout: float) -> list[Resolution]:
        results = []
        for image, specs in lookups:
            self.asked.append(list(specs))
            hit = next((s for s in specs if s in self.digests), None)
            attempts = tuple(
                Lookup(
                    s,
                    LookupOutcome.FOUND if s == hit else LookupOutcome.NOT_FOUND,
                    self.digests.get(s),
                )
                for s in specs[: specs.index(hit) + 1 if hit else len(specs)]
            )
            results.append(Resolution(image, self.digests.get(hit) if hit else None, attempts))
        return results


def pins(index: MirrorIndex, registries: Registries) -> dict[str, Resolution]:
    plan = pin_plan(site("quay.io/acme/app:1"), index)
    assert plan is not None
    return resolve_pins([plan], index, registries, 5.0, lambda: 0.0)


def test_a_digest_found_by_tag_elsewhere_is_checked_on_the_digest_mirrors() -> None:
    registries = Registries({"m.local/tags/app:1": DIGEST, f"m.local/digests/app@{DIGEST}": DIGEST})
    assert pins(SPLIT, registries)["quay.io/acme/app:1"].digest == DIGEST
    assert registries.asked[-1] == [f"m.local/digests/app@{DIGEST}"]


def test_a_digest_missing_from_the_digest_mirrors_is_not_pinned() -> None:
    result = pins(SPLIT, Registries({"m.local/tags/app:1": DIGEST}))["quay.io/acme/app:1"]
    assert result.digest is None
    assert result.reason == "the digest found at m.local is not on the digest mirrors"


def test_no_check_when_tags_and_digests_share_the_mirror_path() -> None:
    registries = Registries({"m.local/acme/app:1": DIGEST})
    assert pins(SAME, registries)["quay.io/acme/app:1"].digest == DIGEST
    assert len(registries.asked) == 1

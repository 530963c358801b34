"""Policy findings for cases the golden reviews do not show."""

from __future__ import annotations

import fnmatch

import pytest

from tests.support.mirror_objects import entry, mirror_object
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import (
    PolicySettings,
    Reason,
    image_exempt,
    image_finding,
    namespace_exempt,
)
from webhook.core.workloads import ContainerType, ImageSite

D = "sha256:" + "d" * 64


def index_of(*objects: dict[str, object]) -> MirrorIndex:
    return MirrorIndex.from_config(load_mirror_sets(objects))


def finding(index: MirrorIndex, image: str, settings: PolicySettings | None = None) -> object:
    site = ImageSite("/spec/template/spec/containers/0/image", "c", ContainerType.CONTAINER, image)
    result = image_finding(site, index, settings or PolicySettings())
    return result.reason if result else None


def test_a_source_listed_among_its_own_mirrors_does_not_make_its_registry_trusted() -> None:
    """IDMS quay.io/acme → [quay.io/acme, mirror.local/acme]: the tag still goes to quay.io."""
    index = index_of(
        mirror_object("idms", "a", [entry("quay.io/acme", "quay.io/acme", "mirror.local/acme")])
    )
    assert finding(index, "quay.io/acme/app:v1") is Reason.TAG_NOT_MIRRORED
    assert finding(index, "quay.io/other/tool:1") is Reason.TAG_NOT_MIRRORED
    assert finding(index, f"quay.io/acme/app@{D}") is None


def test_only_the_mirror_locations_are_trusted_not_their_whole_registry() -> None:
    index = index_of(mirror_object("idms", "a", [entry("quay.io/acme", "quay.io/acme-mirror")]))
    assert finding(index, "quay.io/acme-mirror/app:v1") is None
    assert finding(index, "quay.io/elsewhere/app:v1") is Reason.TAG_NOT_MIRRORED


@pytest.mark.parametrize("blank", [" ", "  ", "\t"])
def test_a_blank_template_image_is_left_for_its_trigger_to_fill(blank: str) -> None:
    """OpenShift image-change triggers put " " in a DeploymentConfig's template."""
    assert finding(index_of(), blank) is None


def test_an_exempt_image_is_exempt_even_when_it_does_not_parse() -> None:
    settings = PolicySettings(exempt_images=("legacy/*",))
    assert finding(index_of(), "legacy/Odd_Name:1", settings) is None


def test_a_short_name_fix_names_the_registry_a_mirror_serves_when_there_is_one() -> None:
    index = index_of(mirror_object("itms", "hub", [entry("docker.io/library", "m.local/library")]))
    site = ImageSite("/spec/containers/0/image", "c", ContainerType.CONTAINER, "busybox:1")
    result = image_finding(site, index, PolicySettings())
    assert result is not None
    assert result.fix == "write the registry a mirror serves: docker.io/library/busybox:1"


def test_a_short_name_without_any_mirror_says_to_mirror_it_too() -> None:
    site = ImageSite("/spec/containers/0/image", "c", ContainerType.CONTAINER, "busybox")
    result = image_finding(site, index_of(), PolicySettings())
    assert result is not None
    assert result.fix == "write the registry, e.g. docker.io/library/busybox:latest, and mirror it"


@pytest.mark.parametrize(
    "registry",
    [
        pytest.param("image-registry.openshift-image-registry.svc:5000", id="short-name"),
        pytest.param(
            "image-registry.openshift-image-registry.svc.cluster.local:5000", id="long-name"
        ),
    ],
)
def test_the_openshift_internal_registry_is_exempt_by_default_under_either_name(
    registry: str,
) -> None:
    assert finding(index_of(), f"{registry}/apps/web:latest") is None


def test_a_repeated_image_is_reported_at_each_of_its_own_sites() -> None:
    index = index_of()
    sites = [
        ImageSite(f"/spec/containers/{n}/image", f"c{n}", ContainerType.CONTAINER, "quay.io/a:1")
        for n in range(2)
    ]
    findings = [image_finding(site, index, PolicySettings()) for site in sites]
    assert [f.site for f in findings if f] == sites
    assert findings[0] is not None
    assert findings[1] is not None
    assert findings[0].fix == findings[1].fix


def test_a_verdict_holds_for_the_index_it_was_reached_on_only() -> None:
    unmirrored = index_of()
    mirrored = index_of(mirror_object("itms", "q", [entry("quay.io", "m.local/quay")]))
    assert finding(unmirrored, "quay.io/a:1") is Reason.TAG_NOT_MIRRORED
    assert finding(mirrored, "quay.io/a:1") is None
    assert finding(unmirrored, "quay.io/a:1") is Reason.TAG_NOT_MIRRORED


def test_a_verdict_holds_for_the_settings_it_was_reached_with_only() -> None:
    index = index_of()
    assert finding(index, "quay.io/a:1") is Reason.TAG_NOT_MIRRORED
    assert finding(index, "quay.io/a:1", PolicySettings(exempt_images=("quay.io/*",))) is None


PATTERNS = ("kube-*", "openshift-?pi", "team-[ab]", "literal.name", "*[!x]")


@pytest.mark.parametrize(
    "text",
    ["kube-system", "kube", "openshift-api", "openshift-apis", "team-a", "team-c",
     "literal.name", "literalxname", "endsinx", "ends-in-y", "", "a\nkube-x", "[", "*"],
)  # fmt: skip
def test_exemption_patterns_match_as_fnmatchcase_does_each(text: str) -> None:
    settings = PolicySettings(exempt_namespaces=PATTERNS, exempt_images=PATTERNS)
    expected = any(fnmatch.fnmatchcase(text, pattern) for pattern in PATTERNS)
    assert namespace_exempt(text, settings) is expected
    assert image_exempt(text, settings) is expected


def test_no_exemption_patterns_exempt_nothing() -> None:
    settings = PolicySettings(exempt_namespaces=(), exempt_images=())
    assert not namespace_exempt("kube-system", settings)
    assert not image_exempt("", settings)

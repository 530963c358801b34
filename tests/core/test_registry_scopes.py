"""Insecure and blocked scopes over the mirror tables: runtime-utils' `EditRegistriesConfig`.

The expected tables are the ones runtime-utils' own `TestEditRegistriesConfig` asserts
(same inputs, same table order), compared after rendering and reading back with tomllib.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from tests.support.mirror_objects import entry, mirror_object
from webhook.core.image_reference import parse_normalized
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.registries_conf import render
from webhook.core.registry_scopes import (
    NestedScopeError,
    apply_registry_scopes,
    scope_is_nested_inside_scope,
)
from webhook.core.registry_tables import RegistryTable, build_tables

D = "sha256:" + "a" * 64


def tables(
    objects: list[dict[str, Any]], insecure: list[str], blocked: list[str]
) -> tuple[RegistryTable, ...]:
    config = load_mirror_sets(objects)
    assert config.problems == ()
    return apply_registry_scopes(build_tables(config.rules), insecure, blocked)


def toml_tables(found: tuple[RegistryTable, ...]) -> list[dict[str, Any]]:
    registries: list[dict[str, Any]] = tomllib.loads(render(found, ())).get("registry", [])
    return registries


def table(scope: str, *mirrors: dict[str, Any], **flags: bool) -> dict[str, Any]:
    wildcard = scope.startswith("*.")
    result: dict[str, Any] = {"prefix": scope if wildcard else ""}
    if not wildcard:
        result["location"] = scope
    result.update(flags)
    if mirrors:
        result["mirror"] = list(mirrors)
    return result


def digest(location: str, **flags: bool) -> dict[str, Any]:
    return {"location": location, **flags, "pull-from-mirror": "digest-only"}


def tag(location: str, **flags: bool) -> dict[str, Any]:
    return {"location": location, **flags, "pull-from-mirror": "tag-only"}


NESTED_CASES = [
    # (sub scope, super scope, nested?)
    pytest.param("quay.io", "quay.io", True, id="equal"),
    pytest.param("quay.io/ns", "quay.io", True, id="path-below"),
    pytest.param("quay.io2", "quay.io", False, id="longer-host"),
    pytest.param("quay.io:443", "quay.io", False, id="port-is-another-scope"),
    pytest.param("a.example.com", "*.example.com", True, id="host-in-wildcard"),
    pytest.param("a.example.com:5000/x", "*.example.com", True, id="host-port-in-wildcard"),
    pytest.param("*.a.example.com", "*.example.com", True, id="wildcard-in-wildcard"),
    pytest.param("example.com", "*.example.com", False, id="wildcard-needs-subdomain"),
    pytest.param("quay.io/x.example.com", "*.example.com", False, id="wildcard-only-host"),
    pytest.param("*.example.com", "example.com", False, id="wildcard-not-in-host"),
]


@pytest.mark.parametrize(("sub", "sup", "nested"), NESTED_CASES)
def test_scope_nesting_follows_runtime_utils(sub: str, sup: str, nested: bool) -> None:
    assert scope_is_nested_inside_scope(sub, sup) is nested


def test_insecure_and_blocked_registries_get_tables_blocked_first() -> None:
    found = tables(
        [],
        insecure=["registry.access.redhat.com", "insecure.com", "common.com"],
        blocked=["blocked.com", "common.com", "docker.io"],
    )
    assert toml_tables(found) == [
        table("blocked.com", blocked=True),
        table("common.com", insecure=True, blocked=True),
        table("docker.io", blocked=True),
        table("registry.access.redhat.com", insecure=True),
        table("insecure.com", insecure=True),
    ]


def test_flags_reach_nested_tables_and_mirrors_inside_the_scopes() -> None:
    idms = mirror_object(
        "idms",
        "i",
        [
            entry("insecure.com/ns-i1", "blocked.com/ns-b1", "other.com/ns-o1"),
            entry("blocked.com/ns-b/ns2-b", "other.com/ns-o2", "insecure.com/ns-i2"),
            entry(
                "other.com/ns-o3",
                "insecure.com/ns-i2",
                "blocked.com/ns-b/ns3-b",
                "foo.insecure-example.com/bar",
            ),
        ],
    )
    found = tables(
        [idms],
        insecure=["insecure.com", "*.insecure-example.com", "*.insecure.blocked-example.com"],
        blocked=["blocked.com", "*.blocked.insecure-example.com", "*.blocked-example.com"],
    )
    assert toml_tables(found) == [
        table(
            "blocked.com/ns-b/ns2-b",
            digest("other.com/ns-o2"),
            digest("insecure.com/ns-i2", insecure=True),
            blocked=True,
        ),
        table(
            "insecure.com/ns-i1",
            digest("blocked.com/ns-b1"),
            digest("other.com/ns-o1"),
            insecure=True,
        ),
        table(
            "other.com/ns-o3",
            digest("insecure.com/ns-i2", insecure=True),
            digest("blocked.com/ns-b/ns3-b"),
            digest("foo.insecure-example.com/bar", insecure=True),
        ),
        table("blocked.com", blocked=True),
        table("*.blocked.insecure-example.com", insecure=True, blocked=True),
        table("*.blocked-example.com", blocked=True),
        table("insecure.com", insecure=True),
        table("*.insecure-example.com", insecure=True),
        table("*.insecure.blocked-example.com", insecure=True, blocked=True),
    ]


def test_a_blocked_table_inside_a_mirrored_scope_keeps_the_mirrors() -> None:
    objects = [
        mirror_object(
            "idms",
            "d",
            [
                entry("primary.com/top", "mirror.com/primary"),
                entry("primary.com/top/insecure/more-specific", "mirror.com/more-specific"),
            ],
        ),
        mirror_object(
            "itms",
            "t",
            [
                entry("primary.com/top", "mirror-tag.com/primary"),
                entry("primary.com/top/insecure/more-specific", "mirror-tag.com/more-specific"),
            ],
        ),
    ]
    found = tables(objects, ["primary.com/top/insecure"], ["primary.com/top/blocked"])
    assert toml_tables(found) == [
        table("primary.com/top", digest("mirror.com/primary"), tag("mirror-tag.com/primary")),
        table(
            "primary.com/top/insecure/more-specific",
            digest("mirror.com/more-specific"),
            tag("mirror-tag.com/more-specific"),
            insecure=True,
        ),
        table(
            "primary.com/top/blocked",
            digest("mirror.com/primary/blocked"),
            tag("mirror-tag.com/primary/blocked"),
            blocked=True,
        ),
        table(
            "primary.com/top/insecure",
            digest("mirror.com/primary/insecure"),
            tag("mirror-tag.com/primary/insecure"),
            insecure=True,
        ),
    ]


def test_a_wildcard_mirror_scope_with_a_nested_table_is_refused() -> None:
    idms = mirror_object("idms", "d", [entry("*.example.com", "mirror.local/ex")])
    with pytest.raises(NestedScopeError, match=r'wildcard scope "\*\.example\.com"'):
        tables([idms], [], ["reg.example.com"])


def test_the_trap_blocking_a_mirrored_source_keeps_its_mirrors() -> None:
    idms = mirror_object("idms", "d", [entry("quay.io", "mirror.corp/quay")])
    index = MirrorIndex(tables([idms], [], ["quay.io"]))
    plan = index.candidates(parse_normalized(f"quay.io/ns/app@{D}"))
    assert [(c.pull_spec, c.blocked, c.origins) for c in plan.candidates] == [
        (f"mirror.corp/quay/ns/app@{D}", False, ("ImageDigestMirrorSet/d",)),
        (f"quay.io/ns/app@{D}", True, ("Image/cluster",)),
    ]


def test_candidates_in_an_insecure_scope_are_insecure() -> None:
    idms = mirror_object("idms", "d", [entry("quay.io", "mirror.corp:5000/quay")])
    index = MirrorIndex(tables([idms], ["mirror.corp:5000"], []))
    plan = index.candidates(parse_normalized(f"quay.io/app@{D}"))
    assert [(c.pull_spec, c.insecure) for c in plan.candidates] == [
        (f"mirror.corp:5000/quay/app@{D}", True),
        (f"quay.io/app@{D}", False),
    ]
    assert index.insecure("mirror.corp:5000/quay/app")
    assert not index.insecure("quay.io/app")


def test_no_scopes_leave_the_tables_as_they_were() -> None:
    idms = mirror_object("idms", "d", [entry("quay.io", "mirror.corp/quay")])
    config = load_mirror_sets([idms])
    assert apply_registry_scopes(build_tables(config.rules)) == build_tables(config.rules)

"""Image and ClusterVersion documents through their CRD gates (tests/data/crds)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.crd_schema import CRD_DIR, crd_schema_errors
from webhook.core.image_config_schema import RegistrySources, read_config_object
from webhook.core.mirror_set_schema import ProblemScope


def image(name: str = "cluster", **sources: Any) -> dict[str, Any]:
    return {
        "apiVersion": "config.openshift.io/v1",
        "kind": "Image",
        "metadata": {"name": name},
        "spec": {"registrySources": sources},
    }


def cluster_version(release: Any, name: str = "version") -> dict[str, Any]:
    return {
        "apiVersion": "config.openshift.io/v1",
        "kind": "ClusterVersion",
        "metadata": {"name": name},
        "spec": {"clusterID": "5d4c3b2a-0000-4000-8000-000000000001"},
        "status": {"desired": {"image": release}},
    }


def refused(document: dict[str, Any]) -> list[str]:
    problems = read_config_object(document, 0).problems
    return [str(p) for p in problems if p.scope is ProblemScope.OBJECT_REFUSED]


def test_registry_sources_are_read_in_order() -> None:
    read = read_config_object(
        image(
            blockedRegistries=["quay.io", "*.example.com"],
            insecureRegistries=["mirror.corp:5000/ns"],
            containerRuntimeSearchRegistries=["mirror.corp", "registry.redhat.io"],
        ),
        0,
    )
    assert read.problems == []
    assert read.sources == RegistrySources(
        blocked=("quay.io", "*.example.com"),
        insecure=("mirror.corp:5000/ns",),
        search=("mirror.corp", "registry.redhat.io"),
    )


BAD_IMAGES = [
    # (registrySources, the field named)
    pytest.param({"blockedRegistries": ["quay.io:latest"]}, "blockedRegistries[0]", id="tag"),
    pytest.param({"allowedRegistries": ["https://quay.io"]}, "allowedRegistries[0]", id="scheme"),
    pytest.param({"insecureRegistries": [""]}, "insecureRegistries[0]", id="empty"),
    pytest.param({"blockedRegistries": ["*.x.io/ns"]}, "blockedRegistries[0]", id="wildcard-path"),
    pytest.param({"blockedRegistries": ["a" * 257]}, "blockedRegistries[0]", id="too-long"),
    pytest.param(
        {"blockedRegistries": [f"r{n}.io" for n in range(1025)]}, "blockedRegistries", id="too-many"
    ),
    pytest.param({"blockedRegistries": "quay.io"}, "blockedRegistries", id="not-a-list"),
    pytest.param(
        {"containerRuntimeSearchRegistries": []}, "containerRuntimeSearchRegistries", id="no-search"
    ),
    pytest.param(
        {"containerRuntimeSearchRegistries": ["mirror.corp:5000"]},
        "containerRuntimeSearchRegistries[0]",
        id="search-with-port",
    ),
    pytest.param(
        {"containerRuntimeSearchRegistries": ["a.io", "a.io"]},
        "containerRuntimeSearchRegistries[1]",
        id="search-duplicate",
    ),
]


@pytest.mark.parametrize(("sources", "field"), BAD_IMAGES)
def test_what_the_crd_refuses_is_refused_naming_the_field(
    sources: dict[str, Any], field: str
) -> None:
    problems = refused(image(**sources))
    assert problems
    assert f"spec.registrySources.{field}:" in problems[0]


def test_unknown_registry_source_fields_are_dropped_as_the_api_server_prunes_them() -> None:
    read = read_config_object(image(blockRegistries=["quay.io"]), 0)
    assert [p.scope for p in read.problems] == [ProblemScope.FIELD_DROPPED]
    assert read.sources == RegistrySources()


def test_an_image_not_named_cluster_changes_nothing() -> None:
    read = read_config_object(image("other", blockedRegistries=["quay.io"]), 0)
    assert read.sources is None
    assert "reads only Image/cluster" in str(read.problems[0])


def test_the_release_image_is_read_from_cluster_version_status() -> None:
    read = read_config_object(cluster_version("quay.io/ocp/release@sha256:" + "b" * 64), 0)
    assert read.release_image == "quay.io/ocp/release@sha256:" + "b" * 64


def test_a_cluster_version_without_cluster_id_is_refused() -> None:
    document = cluster_version("quay.io/ocp/release:4.20")
    del document["spec"]["clusterID"]
    assert "spec.clusterID" in refused(document)[0]


def test_the_image_crd_schema_is_the_one_shipped() -> None:
    crd = yaml.safe_load((CRD_DIR / "0000_10_config-operator_01_images.crd.yaml").read_text())
    assert crd["spec"]["names"]["kind"] == "Image"


@cache
def _cel_pattern() -> re.Pattern[str]:
    """The CRD's own CEL rule for registry scopes (jsonschema does not run CEL)."""
    crd = yaml.safe_load((CRD_DIR / "0000_10_config-operator_01_images.crd.yaml").read_text())
    version = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    items = version["properties"]["spec"]["properties"]["registrySources"]["properties"][
        "blockedRegistries"
    ]["items"]
    rule = items["x-kubernetes-validations"][0]["rule"]
    pattern = rule[len("self.matches('") : -len("')")].replace("\\\\", "\\")
    return re.compile(pattern.replace("$", r"\Z"))


SCOPES = st.sampled_from(
    [
        "quay.io",
        "quay.io/acme",
        "mirror.local:5000/a/b",
        "localhost",
        "*.example.com",
        "*",
        "*.x.io/ns",
        "Quay.IO/acme",
        "quay.io/Acme",
        "quay.io/acme/",
        "https://quay.io",
        "quay.io:latest",
        "a..b",
        "",
        "x" * 257,
    ]
)
LISTS = st.sampled_from(["allowedRegistries", "blockedRegistries", "insecureRegistries"])


@settings(max_examples=200, derandomize=True, deadline=None)
@given(field=LISTS, items=st.lists(SCOPES, max_size=3))
def test_refusals_agree_with_the_crd_schema_and_its_cel_rule(field: str, items: list[str]) -> None:
    document = image(**{field: items})
    pattern = _cel_pattern()
    crd_refuses = bool(crd_schema_errors(document)) or any(
        pattern.match(item) is None for item in items
    )
    assert bool(refused(document)) == crd_refuses

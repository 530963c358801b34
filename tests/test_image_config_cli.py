"""Image/cluster from `--mirror-sets`: `registries-conf` (and its `--policy-json` and
`--search-conf`), `explain` and `check`, as a user runs them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.support.mirror_objects import entry, image_config, mirror_object
from tests.test_cli import DIGEST, run, write

RELEASE = "quay.io/openshift-release-dev/ocp-release@sha256:" + "b" * 64


def cluster_version() -> dict[str, Any]:
    return {
        "apiVersion": "config.openshift.io/v1",
        "kind": "ClusterVersion",
        "metadata": {"name": "version"},
        "spec": {"clusterID": "5d4c3b2a-0000-4000-8000-000000000001"},
        "status": {"desired": {"image": RELEASE}},
    }


@pytest.fixture
def trap(tmp_path: Path) -> Path:
    """quay.io mirrored, and blocked: the pull through the mirror fails at the policy."""
    return write(
        tmp_path / "cluster.yaml",
        mirror_object("idms", "quay", [entry("quay.io", "mirror.corp/quay")]),
        image_config(
            blockedRegistries=["quay.io"], containerRuntimeSearchRegistries=["mirror.corp"]
        ),
        cluster_version(),
    )


def test_an_image_in_a_named_file_is_read_not_refused(trap: Path) -> None:
    code, _, err = run("registries-conf", "--mirror-sets", str(trap))
    assert code == 0
    assert err == ""


def test_registries_conf_blocks_the_registry_and_keeps_its_mirror(trap: Path) -> None:
    _, out, _ = run("registries-conf", "--mirror-sets", str(trap))
    conf = tomllib.loads(out)
    assert conf["unqualified-search-registries"] == ["registry.access.redhat.com", "docker.io"]
    assert conf["registry"] == [
        {
            "prefix": "",
            "location": "quay.io",
            "blocked": True,
            "mirror": [{"location": "mirror.corp/quay", "pull-from-mirror": "digest-only"}],
        }
    ]


def test_policy_json_rejects_the_blocked_registry_for_docker_and_atomic(trap: Path) -> None:
    code, out, _ = run("registries-conf", "--policy-json", "--mirror-sets", str(trap))
    policy = json.loads(out)
    assert code == 0
    assert policy["default"] == [{"type": "insecureAcceptAnything"}]
    for transport in ("docker", "atomic"):
        assert policy["transports"][transport]["quay.io"] == [{"type": "reject"}]
        payload = policy["transports"][transport]["quay.io/openshift-release-dev/ocp-release"]
        assert payload == [{"type": "insecureAcceptAnything"}]


def test_search_conf_is_the_drop_in_the_operator_writes(trap: Path) -> None:
    _, out, _ = run("registries-conf", "--search-conf", "--mirror-sets", str(trap))
    assert tomllib.loads(out)["unqualified-search-registries"] == ["mirror.corp"]


def test_without_an_image_there_is_no_drop_in_and_the_template_policy(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", mirror_object("idms", "q", [entry("quay.io", "m.corp/q")]))
    _, search, _ = run("registries-conf", "--search-conf", "--mirror-sets", str(path))
    _, policy, _ = run("registries-conf", "--policy-json", "--mirror-sets", str(path))
    assert search == ""
    assert json.loads(policy) == {
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {"docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}},
    }


def test_a_refused_image_config_exits_1_with_the_operators_message(tmp_path: Path) -> None:
    path = write(
        tmp_path / "both.yaml",
        image_config(allowedRegistries=["mirror.corp"], blockedRegistries=["docker.io"]),
        cluster_version(),
    )
    code, out, err = run("registries-conf", "--mirror-sets", str(path))
    assert code == 1
    assert "only one of AllowedRegistries or BlockedRegistries may be specified" in err
    assert "blocked" not in out


def test_explain_says_the_signature_policy_rejects_the_pull_through_the_mirror(trap: Path) -> None:
    code, out, _ = run("explain", f"quay.io/ns/app@{DIGEST}", "--mirror-sets", str(trap))
    assert code == 0
    assert "the source is blocked (blockedRegistries of Image/cluster)" in out
    assert 'rejected: policy.json transports.docker["quay.io"] requires reject' in out
    assert "registry-not-allowed: quay.io is in blockedRegistries of Image/cluster" in out


def test_explain_json_has_policy_and_short_name_expansions(trap: Path) -> None:
    _, out, _ = run(
        "explain", "--json", f"quay.io/ns/app@{DIGEST}", "app:1", "--mirror-sets", str(trap)
    )
    qualified, short = (json.loads(line) for line in out.splitlines())
    assert qualified["policy"].startswith("rejected: ")
    assert short["expansions"] == [
        {
            "reference": "mirror.corp/app:1",
            "candidates": [
                {"pull_spec": "mirror.corp/app:1", "role": "source", "blocked": False, "from": []}
            ],
            "policy": "accepted",
        }
    ]
    assert short["candidates"] == short["expansions"][0]["candidates"]


def test_explain_json_without_an_image_is_as_before(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", mirror_object("idms", "q", [entry("quay.io", "m.corp/q")]))
    _, out, _ = run("explain", "--json", f"quay.io/a@{DIGEST}", "app:1", "--mirror-sets", str(path))
    for line in out.splitlines():
        assert set(json.loads(line)) == {"image", "reference", "by_digest", "candidates"}


def test_check_reports_registry_not_allowed(tmp_path: Path, trap: Path) -> None:
    manifest = write(
        tmp_path / "pod.yaml",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "team"},
            "spec": {"containers": [{"name": "c", "image": f"quay.io/ns/app@{DIGEST}"}]},
        },
    )
    code, out, _ = run("check", str(manifest), "--mirror-sets", str(trap), "--output", "json")
    assert code == 1
    [finding] = json.loads(out)
    assert finding["reason"] == "registry-not-allowed"
    assert "remove quay.io from blockedRegistries" in finding["fix"]

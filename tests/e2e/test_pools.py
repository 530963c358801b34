"""What each MachineConfigPool runs, read from the in-process API server: `report --pools`,
`explain --pool`, and explain/check reading the live cluster's mirror sets."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import webhook.cli
from tests.support.fake_kube import FakeKube
from tests.support.machine_configs import machine_config_pool, rendered_machine_config
from tests.support.mirror_objects import entry, mirror_object
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets

REDHAT = mirror_object("idms", "redhat", [entry("registry.redhat.io", "mirror.corp/redhat")])
ACME = mirror_object("itms", "acme", [entry("quay.io/acme", "mirror.corp/acme")])
UBI = "registry.redhat.io/ubi9/ubi@sha256:" + "d" * 64


def cli(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    return webhook.cli.main(list(argv), stdout, stderr), stdout.getvalue(), stderr.getvalue()


def rendered(name: str, *objects: dict[str, Any], **options: Any) -> dict[str, Any]:
    text = MirrorIndex.from_config(load_mirror_sets(list(objects))).registries_conf()
    return rendered_machine_config(name, {"registries.conf": text}, **options)


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with FakeKube() as server:
        server.put(REDHAT)
        server.put(ACME)
        server.put(rendered("rendered-master-1", REDHAT, ACME, encoding="percent"))
        server.put(rendered("rendered-worker-1", ACME, created="2026-11-28T08:15:00Z"))
        server.put(rendered("rendered-worker-2", REDHAT, ACME))
        server.put(machine_config_pool("master", "rendered-master-1", "rendered-master-1", 3, 3))
        server.put(machine_config_pool("worker", "rendered-worker-2", "rendered-worker-1", 5, 3))
        yield server


@pytest.fixture
def kubeconfig(fake: FakeKube, tmp_path: Path) -> str:
    return str(fake.write_kubeconfig(tmp_path / "kubeconfig"))


def test_report_pools_says_per_pool_whether_its_files_match_the_objects(kubeconfig: str) -> None:
    code, out, err = cli("report", "--pools", "--kubeconfig", kubeconfig)
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "pool master: 3 of 3 nodes updated; the registries files match the objects",
        "pool worker: 3 of 5 nodes updated to rendered-worker-2 (the others run "
        "rendered-worker-1); the registries files differ from the objects",
        "  - ImageDigestMirrorSet/redhat not yet on pool worker: 3 of 5 nodes updated",
    ]


def test_report_pools_exits_0_when_every_pool_is_done(fake: FakeKube, kubeconfig: str) -> None:
    fake.put(machine_config_pool("worker", "rendered-worker-2", "rendered-worker-2", 5, 5))
    code, out, _ = cli("report", "--pools", "--kubeconfig", kubeconfig)
    assert code == 0
    assert "pool worker: 5 of 5 nodes updated; the registries files match the objects" in out


def test_a_configuration_the_operator_refuses_keeps_the_nodes_files(
    fake: FakeKube, kubeconfig: str
) -> None:
    fake.put(machine_config_pool("worker", "rendered-worker-1", "rendered-worker-1", 5, 5))
    fake.put(mirror_object("icsp", "legacy", [entry("quay.io/NS/", "mirror.corp/ns")]))
    code, out, err = cli("report", "--pools", "--kubeconfig", kubeconfig)
    assert code == 1
    assert (
        "pool worker: 5 of 5 nodes updated; the operator refused the current objects (invalid "
        'format for source "quay.io/NS/"): nodes keep the configuration of 2026-11-28T08:15:00Z'
    ) in out.splitlines()
    assert "the machine-config operator would refuse this configuration" in err


def test_explain_pool_judges_with_the_files_every_node_of_the_pool_runs(kubeconfig: str) -> None:
    code, out, _ = cli("explain", UBI, "--json", "--pool", "worker", "--kubeconfig", kubeconfig)
    assert code == 0
    assert [c["pull_spec"] for c in json.loads(out)["candidates"]] == [UBI]
    code, out, _ = cli("explain", UBI, "--json", "--pool", "master", "--kubeconfig", kubeconfig)
    assert [c["role"] for c in json.loads(out)["candidates"]] == ["mirror", "source"]
    assert json.loads(out)["candidates"][0]["from"] == [
        'registries.conf [[registry]] "registry.redhat.io"'
    ]


def test_explain_pool_names_the_pools_there_are(kubeconfig: str) -> None:
    code, _, err = cli("explain", UBI, "--pool", "infra", "--kubeconfig", kubeconfig)
    assert code == 2
    assert "no MachineConfigPool 'infra'; the cluster has master, worker" in err


def test_explain_without_mirror_sets_reads_the_clusters(kubeconfig: str) -> None:
    code, out, err = cli("explain", UBI, "--json", "--kubeconfig", kubeconfig)
    assert (code, err) == (0, "")
    candidates = json.loads(out)["candidates"]
    assert candidates[0]["from"] == ["ImageDigestMirrorSet/redhat"]


def test_check_without_mirror_sets_reads_the_clusters(kubeconfig: str, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\n"
        f"spec: {{containers: [{{name: c, image: '{UBI}'}}, "
        "{name: t, image: quay.io/acme/t:1}]}\n"
    )
    code, out, err = cli("check", str(manifest), "--kubeconfig", kubeconfig)
    assert (code, out, err) == (0, "", "")


def test_a_cluster_without_pools_is_told_so(fake: FakeKube, kubeconfig: str) -> None:
    fake.missing.add("machineconfigpools")
    code, _, err = cli("report", "--pools", "--kubeconfig", kubeconfig)
    assert code == 2
    assert "this cluster has no MachineConfigPools" in err


def test_report_pools_as_json_gives_each_pools_fields(kubeconfig: str) -> None:
    code, out, err = cli("report", "--pools", "-o", "json", "--kubeconfig", kubeconfig)
    assert (code, err) == (1, "")
    pools = {pool["pool"]: pool for pool in json.loads(out)["pools"]}
    assert pools["master"]["matches"] is True
    assert pools["master"]["differences"] == []
    worker = pools["worker"]
    assert (worker["matches"], worker["rolling"]) == (False, True)
    assert (worker["machines"], worker["updated"]) == (5, 3)
    assert (worker["current"], worker["target"]) == ("rendered-worker-1", "rendered-worker-2")
    assert worker["differences"] == [
        "ImageDigestMirrorSet/redhat not yet on pool worker: 3 of 5 nodes updated"
    ]


@pytest.mark.parametrize("flag", ["--oc-mirror", "--verify-mirror"])
def test_report_pools_refuses_image_options(kubeconfig: str, flag: str) -> None:
    code, out, err = cli("report", "--pools", flag, "--kubeconfig", kubeconfig)
    assert (code, out) == (2, "")
    assert "--pools reports pools, not images" in err

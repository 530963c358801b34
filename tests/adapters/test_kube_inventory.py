"""Namespaces, pods and workloads read page by page from the in-process API server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kubernetes.client
import pytest

from tests.support.cluster_objects import namespace, workload
from tests.support.fake_kube import FakeKube
from webhook.adapters.kube_inventory import WORKLOAD_RESOURCES, list_namespaces, scan
from webhook.adapters.mirror_watcher import load_api_client
from webhook.core.workloads import SUPPORTED_KINDS
from webhook.errors import KubeApiError

IMAGE = "docker.io/library/nginx:1.27"


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with FakeKube() as server:
        yield server


@pytest.fixture
def client(fake: FakeKube, tmp_path: Path) -> Iterator[kubernetes.client.ApiClient]:
    api_client = load_api_client(str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    yield api_client
    api_client.close()


def test_every_kind_the_webhook_checks_is_scanned() -> None:
    assert {(r.group, r.kind) for r in WORKLOAD_RESOURCES} == SUPPORTED_KINDS


def test_namespaces_are_the_labelled_ones_unless_all_are_asked_for(
    fake: FakeKube, client: kubernetes.client.ApiClient
) -> None:
    for name, mode in [("b", "warn"), ("a", "enforce"), ("plain", None), ("c", "audit")]:
        fake.put(namespace(name, mode))
    assert list_namespaces(client, page_size=2) == {"a": "enforce", "b": "warn", "c": "audit"}
    assert list_namespaces(client, all_namespaces=True, page_size=3) == {
        "a": "enforce",
        "b": "warn",
        "c": "audit",
        "plain": None,
    }
    selectors = {r.query.get("labelSelector") for r in fake.requests if r.path.endswith("spaces")}
    assert selectors == {"idms-guard.io/mode", None}


def test_scan_reads_every_page_skips_unserved_kinds_and_reports_progress(
    fake: FakeKube, client: kubernetes.client.ApiClient
) -> None:
    fake.missing.add("deploymentconfigs")
    for number in range(3):
        fake.put(workload("Pod", "shop", f"pod-{number}", IMAGE))
    fake.put(workload("Deployment", "shop", "web", IMAGE))
    fake.put(workload("CronJob", "ops", "nightly", IMAGE))
    seen: list[tuple[int, int, str]] = []
    items = list(scan(client, ["ops", "shop"], progress=lambda *a: seen.append(a), page_size=2))
    assert [(i.namespace, i.group, i.kind, i.name) for i in items] == [
        ("ops", "batch", "CronJob", "nightly"),
        ("shop", "apps", "Deployment", "web"),
        ("shop", "", "Pod", "pod-0"),
        ("shop", "", "Pod", "pod-1"),
        ("shop", "", "Pod", "pod-2"),
    ]
    assert items[2].obj["spec"]["containers"][0]["image"] == IMAGE
    assert seen == [(1, 2, "ops"), (2, 2, "shop")]
    pod_lists = [r for r in fake.requests if r.path == "/api/v1/namespaces/shop/pods"]
    assert [bool(r.query.get("continue")) for r in pod_lists] == [False, True]
    asked_for_configs = [r for r in fake.requests if r.path.endswith("/deploymentconfigs")]
    assert len(asked_for_configs) == 1  # not again for the second namespace


def test_api_failures_become_one_line(fake: FakeKube, client: kubernetes.client.ApiClient) -> None:
    fake.failing.add("pods")
    with pytest.raises(KubeApiError, match=r"listing pods: HTTP 500 .*simulated failure") as info:
        list(scan(client, ["shop"]))
    assert "\n" not in str(info.value)
    fake.missing.add("namespaces")
    with pytest.raises(KubeApiError, match=r"listing namespaces: HTTP 404"):
        list_namespaces(client)

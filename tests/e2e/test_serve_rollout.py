"""`idms-guard serve` on a cluster mid-rollout: the per-pool gauge, and a warning (never a
denial) for an image whose verdict the nodes not yet updated would not share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_pools import ACME, REDHAT, UBI, rendered
from tests.e2e.test_serve_cluster import serving_cluster, wait_until_ready
from tests.e2e.test_serve_https import Server
from tests.support.fake_kube import FakeKube
from tests.support.machine_configs import machine_config_pool
from tests.support.processes import wait_for
from tests.support.reviews import pod_review

ROLLOUT_WARNING = (
    f"{UBI}: the mirror set for registry.redhat.io is not on all worker nodes yet: 3 of 5 updated"
)


@pytest.fixture
def cluster() -> Iterator[FakeKube]:
    with FakeKube() as fake:
        fake.put(REDHAT)
        fake.put(ACME)
        fake.put(rendered("rendered-master-1", REDHAT, ACME))
        fake.put(rendered("rendered-worker-1", ACME))
        fake.put(rendered("rendered-worker-2", REDHAT, ACME))
        fake.put(machine_config_pool("master", "rendered-master-1", "rendered-master-1", 3, 3))
        fake.put(machine_config_pool("worker", "rendered-worker-2", "rendered-worker-1", 5, 3))
        yield fake


@pytest.fixture
def server(tmp_path: Path, cluster: FakeKube) -> Iterator[Server]:
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
    env = {"IDMS_GUARD_POOL_POLL_SECONDS": "0.2"}
    with serving_cluster(tmp_path, kubeconfig, env) as server:
        wait_until_ready(server)
        yield server


def metrics(server: Server) -> str:
    connection = server.connect()
    try:
        connection.request("GET", "/metrics")
        return str(connection.getresponse().read().decode())
    finally:
        connection.close()


def warnings(server: Server, mode: str) -> tuple[bool, list[str]]:
    _, reply = server.post(f"/validate/{mode}", pod_review({"app": UBI}))
    return reply["response"]["allowed"], reply["response"].get("warnings", [])


def test_each_pool_has_a_gauge_saying_whether_its_files_match(server: Server) -> None:
    wait_for(
        lambda: 'idms_guard_pool_files_match{pool="worker"} 0.0' in metrics(server),
        "the pools to be read",
        log_path=server.log,
    )
    assert 'idms_guard_pool_files_match{pool="master"} 1.0' in metrics(server)


def test_enforce_allows_what_the_objects_allow_and_warns_of_the_rollout(server: Server) -> None:
    wait_for(
        lambda: warnings(server, "enforce")[1] != [], "the rollout warning", log_path=server.log
    )
    assert warnings(server, "enforce") == (True, [ROLLOUT_WARNING])


def test_audit_mode_stays_silent(server: Server) -> None:
    wait_for(lambda: warnings(server, "warn")[1] != [], "the rollout warning", log_path=server.log)
    assert warnings(server, "audit") == (True, [])


def test_the_warning_goes_when_the_pool_has_rolled_out(server: Server, cluster: FakeKube) -> None:
    wait_for(lambda: warnings(server, "warn")[1] != [], "the rollout warning", log_path=server.log)
    cluster.put(machine_config_pool("worker", "rendered-worker-2", "rendered-worker-2", 5, 5))
    wait_for(lambda: warnings(server, "warn") == (True, []), "no warning", log_path=server.log)
    assert 'idms_guard_pool_files_match{pool="worker"} 1.0' in metrics(server)

"""`idms-guard serve --node-config DIR`: the webhook judges with a node's own files (as on
MicroShift), answers in their words, and follows a changed drop-in without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_serve_https import UNMIRRORED, Server
from tests.support.processes import PYTHON, free_port, running, wait_for
from tests.support.reviews import pod_review
from webhook.adapters.tls_certificates import (
    generate_ca,
    generate_serving_certificate,
    service_dns_names,
    write_certificate_files,
)

QUAY_TAG_MIRROR = """
[[registry]]
location = "quay.io/acme"
[[registry.mirror]]
location = "m.local/acme"
pull-from-mirror = "tag-only"
"""
DOCKER_HUB_MIRROR = """
[[registry]]
location = "docker.io/library"
[[registry.mirror]]
location = "m.local/library"
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    certs, node = tmp_path / "certs", tmp_path / "containers"
    ca = generate_ca()
    write_certificate_files(
        certs, ca, generate_serving_certificate(ca, service_dns_names("idms-guard", "idms-guard"))
    )
    (node / "registries.conf.d").mkdir(parents=True)
    (node / "registries.conf").write_text('unqualified-search-registries = ["docker.io"]\n')
    (node / "registries.conf.d" / "50-quay.conf").write_text(QUAY_TAG_MIRROR)
    port, log = free_port(), tmp_path / "server.log"
    argv = [
        PYTHON, "-m", "webhook.cli", "serve",
        "--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key"),
        "--node-config", str(node), "--host", "127.0.0.1", "--port", str(port),
        "--threads", "2", "--no-cluster",
    ]  # fmt: skip
    with running(argv, log, {"IDMS_GUARD_MIRROR_SET_POLL_SECONDS": "0.2"}) as process:
        server = Server(port, tmp_path, process, log, ca)
        wait_for(lambda: server.get("/readyz") == 200, "readiness", process=process, log_path=log)
        yield server


def test_a_tag_the_node_files_mirror_is_allowed(server: Server) -> None:
    review = pod_review({"web": "quay.io/acme/shop:1.4"})
    assert server.post("/validate/enforce", review)[1]["response"]["allowed"] is True


def test_an_unmirrored_tag_is_denied_in_the_words_of_the_node_files(server: Server) -> None:
    status, reply = server.post("/validate/enforce", pod_review({"web": UNMIRRORED}))
    assert status == 200
    assert reply["response"]["allowed"] is False
    assert "no [[registry]] mirror for tags serves" in reply["response"]["status"]["message"]


def test_a_new_drop_in_changes_the_decision_without_a_restart(server: Server) -> None:
    review = pod_review({"web": UNMIRRORED})
    (server.directory / "containers" / "registries.conf.d" / "60-hub.conf").write_text(
        DOCKER_HUB_MIRROR
    )
    wait_for(
        lambda: server.post("/validate/enforce", review)[1]["response"]["allowed"] is True,
        "the new drop-in to apply",
    )


def test_a_broken_drop_in_keeps_the_previous_files(server: Server) -> None:
    drop_in = server.directory / "containers" / "registries.conf.d" / "70-broken.conf"
    drop_in.write_text('[registries.search]\nregistries = ["docker.io"]\n')
    wait_for(lambda: "V1 registries.conf format" in server.log.read_text(), "the warning")
    review = pod_review({"web": "quay.io/acme/shop:1.4"})
    assert server.post("/validate/enforce", review)[1]["response"]["allowed"] is True

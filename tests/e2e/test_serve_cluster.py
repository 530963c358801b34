"""`idms-guard serve --kubeconfig`: gunicorn follows the cluster's mirror sets as they change.

The cluster is the in-process list/watch server of tests/support/fake_kube.py; each test
polls, with a generous limit, for a watch event to reach the decision.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_serve_https import Server
from tests.support.fake_kube import FakeKube
from tests.support.mirror_objects import entry, mirror_object
from tests.support.processes import PYTHON, free_port, running, wait_for
from tests.support.reviews import pod_review
from webhook.adapters.tls_certificates import (
    generate_ca,
    generate_serving_certificate,
    service_dns_names,
    write_certificate_files,
)

DIGEST_IMAGE = "quay.io/acme/app@sha256:" + "9" * 64
IDMS = mirror_object("idms", "acme", [entry("quay.io/acme", "mirror.local/acme")])


@pytest.fixture
def cluster() -> Iterator[FakeKube]:
    with FakeKube() as fake:
        yield fake


@contextmanager
def serving_cluster(
    tmp_path: Path, kubeconfig: Path, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """`idms-guard serve` over HTTPS (a throwaway CA) following the API server that
    `kubeconfig` names; the caller waits for what it needs (liveness or readiness)."""
    ca = generate_ca()
    names = service_dns_names("idms-guard", "idms-guard")
    write_certificate_files(tmp_path / "certs", ca, generate_serving_certificate(ca, names))
    port, log = free_port(), tmp_path / "server.log"
    argv = [
        PYTHON, "-m", "webhook.cli", "serve",
        "--cert", str(tmp_path / "certs" / "tls.crt"),
        "--key", str(tmp_path / "certs" / "tls.key"),
        "--kubeconfig", str(kubeconfig), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with running(argv, log, {"HOME": str(tmp_path), **(env or {})}) as process:
        yield Server(port, tmp_path, process, log, ca)


@pytest.fixture
def server(tmp_path: Path, cluster: FakeKube) -> Iterator[Server]:
    with serving_cluster(tmp_path, cluster.write_kubeconfig(tmp_path / "kubeconfig")) as server:
        wait_until_ready(server)
        yield server


def wait_until_ready(server: Server) -> None:
    wait_for(
        lambda: server.get("/readyz") == 200,
        "readiness",
        process=server.process,
        log_path=server.log,
    )


def allowed(server: Server) -> bool:
    _, reply = server.post("/validate/enforce", pod_review({"app": DIGEST_IMAGE}))
    return bool(reply["response"]["allowed"])


def test_the_decision_follows_an_idms_created_changed_and_deleted(
    server: Server, cluster: FakeKube
) -> None:
    assert not allowed(server)
    cluster.put(IDMS)
    wait_for(lambda: allowed(server), "the new IDMS to allow the pod", log_path=server.log)
    moved = mirror_object("idms", "acme", [entry("quay.io/other", "mirror.local/other")])
    cluster.put(moved)
    wait_for(lambda: not allowed(server), "the changed IDMS to deny it", log_path=server.log)
    cluster.put(IDMS)
    wait_for(lambda: allowed(server), "the IDMS back", log_path=server.log)
    cluster.delete("imagedigestmirrorsets", "acme")
    wait_for(lambda: not allowed(server), "the deleted IDMS to deny it", log_path=server.log)


def test_a_missing_crd_does_not_keep_the_webhook_unready(tmp_path: Path) -> None:
    with FakeKube() as fake:
        fake.missing.add("imagecontentsourcepolicies")
        ca = generate_ca()
        names = service_dns_names("idms-guard", "idms-guard")
        write_certificate_files(tmp_path / "certs", ca, generate_serving_certificate(ca, names))
        port, log = free_port(), tmp_path / "server.log"
        argv = [
            PYTHON, "-m", "webhook.cli", "serve",
            "--cert", str(tmp_path / "certs" / "tls.crt"),
            "--key", str(tmp_path / "certs" / "tls.key"),
            "--kubeconfig", str(fake.write_kubeconfig(tmp_path / "kubeconfig")),
            "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
        with running(argv, log, {"HOME": str(tmp_path)}) as process:
            server = Server(port, tmp_path, process, log, ca)
            wait_for(lambda: server.get("/readyz") == 200, "readiness", log_path=log)
            assert "ImageContentSourcePolicy: not served by this cluster" in log.read_text()


def test_the_index_generation_is_exported_as_a_metric(server: Server, cluster: FakeKube) -> None:
    def generation() -> float:
        connection = server.connect()
        try:
            connection.request("GET", "/metrics")
            text = connection.getresponse().read().decode()
        finally:
            connection.close()
        line = next(
            x for x in text.splitlines() if x.startswith("idms_guard_mirror_index_generation")
        )
        return float(line.split()[-1])

    before = generation()
    cluster.put(IDMS)
    wait_for(lambda: generation() > before, "a new index generation", log_path=server.log)


class SilentTlsApi:
    """An HTTPS "API server" that completes the TLS handshake and then never answers, as
    a congested control plane may: a watch waiting on it must not stop the webhook."""

    def __init__(self, directory: Path) -> None:
        ca = generate_ca("silent-api-ca")
        serving = generate_serving_certificate(ca, ["localhost"], ip_addresses=["127.0.0.1"])
        self.files = write_certificate_files(directory, ca, serving)
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(self.files["tls.crt"], self.files["tls.key"])
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-api")

    def __enter__(self) -> SilentTlsApi:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for connection in self.held:
            connection.close()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(5)
            try:
                self.held.append(self._context.wrap_socket(raw, server_side=True))
            except OSError:
                raw.close()

    def write_kubeconfig(self, path: Path) -> Path:
        cluster = {
            "server": f"https://127.0.0.1:{self.port}",
            "certificate-authority": str(self.files["ca.crt"]),
        }
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "silent", "cluster": cluster}],
            "users": [{"name": "tester", "user": {"token": "t"}}],
            "contexts": [{"name": "silent", "context": {"cluster": "silent", "user": "tester"}}],
            "current-context": "silent",
        }
        path.write_text(yaml.safe_dump(config))
        return path


def test_a_watch_waiting_on_a_silent_tls_api_does_not_stop_the_webhook(tmp_path: Path) -> None:
    with (
        SilentTlsApi(tmp_path / "api") as api,
        serving_cluster(tmp_path, api.write_kubeconfig(tmp_path / "kubeconfig")) as server,
    ):
        wait_for(lambda: server.get("/healthz") == 200, "liveness", process=server.process)
        wait_for(lambda: len(api.held) >= 1, "the watch to connect", process=server.process)
        for _ in range(5):
            assert server.get("/healthz") == 200
        assert server.get("/readyz") == 503  # nothing listed yet: not ready, but alive

"""`idms-guard serve` as the API server meets it: gunicorn, real TLS, the service DNS name.

Each test polls with a generous limit instead of timing anything, and every process it
starts is stopped (tests/support/processes.py).
"""

from __future__ import annotations

import http.client
import json
import re
import selectors
import signal
import socket
import ssl
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from tests.support.mirror_objects import entry, mirror_object
from tests.support.processes import PYTHON, free_port, running, stop, wait_for
from tests.support.reviews import pod_review
from webhook.adapters.tls_certificates import (
    CertificatePair,
    generate_ca,
    generate_serving_certificate,
    service_dns_names,
    write_certificate_files,
)

SERVICE_NAME = "idms-guard.idms-guard.svc"
MAX_BODY_BYTES = 200_000
UNMIRRORED = "docker.io/library/nginx:1.27"
STALLED_CLIENTS = 128
ANSWER_LIMIT = 2.0  # seconds: a hang-catcher, far above what an answer takes
HALF_A_REQUEST = (
    b"POST /validate/warn HTTP/1.1\r\nHost: idms-guard.idms-guard.svc\r\n"
    b"Content-Type: application/json\r\nContent-Len"
)


@dataclass
class Server:
    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    log: Path
    issuer: CertificatePair

    @property
    def ca(self) -> Path:
        return self.directory / "certs" / "ca.crt"

    def context(self, **versions: ssl.TLSVersion) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        for name, version in versions.items():
            setattr(context, name, version)
        return context

    def connect(self, server_hostname: str = SERVICE_NAME, **versions: ssl.TLSVersion) -> Any:
        """An HTTPS connection to 127.0.0.1 that checks the certificate for `server_hostname`,
        as the API server does for `<service>.<namespace>.svc`."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            connection.sock = self.context(**versions).wrap_socket(
                raw, server_hostname=server_hostname
            )
        except BaseException:
            raw.close()
            raise
        return connection

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        connection = self.connect()
        try:
            connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            reply = connection.getresponse()
            return reply.status, json.loads(reply.read())
        finally:
            connection.close()

    def get(self, path: str) -> int:
        connection = self.connect()
        try:
            connection.request("GET", path)
            reply = connection.getresponse()
            reply.read()
            return reply.status
        finally:
            connection.close()

    def serial(self) -> int:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            context = self.context()
            with context.wrap_socket(raw, server_hostname=SERVICE_NAME) as tls:
                der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der).serial_number


def renew_serving_certificate(server: Server) -> None:
    """A new serving certificate from the same CA, written file by file as a renewal lands."""
    names = service_dns_names("idms-guard", "idms-guard")
    fresh = generate_serving_certificate(server.issuer, names)
    write_certificate_files(server.directory / "certs", server.issuer, fresh)


def write_mirror_sets(path: Path, *objects: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump_all(objects))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    certs = tmp_path / "certs"
    ca = generate_ca()
    names = service_dns_names("idms-guard", "idms-guard")
    write_certificate_files(certs, ca, generate_serving_certificate(ca, names))
    sets = tmp_path / "mirror-sets.yaml"
    write_mirror_sets(sets, mirror_object("itms", "apps", [entry("quay.io/acme", "m.local/acme")]))
    port, log = free_port(), tmp_path / "server.log"
    argv = [
        PYTHON, "-m", "webhook.cli", "serve",
        "--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key"),
        "--mirror-sets", str(sets), "--host", "127.0.0.1", "--port", str(port),
        "--threads", "4", "--no-cluster",
    ]  # fmt: skip
    env = {
        "IDMS_GUARD_MIRROR_SET_POLL_SECONDS": "0.2",
        "IDMS_GUARD_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
    }
    with running(argv, log, env) as process:
        server = Server(port, tmp_path, process, log, ca)
        wait_for(lambda: server.get("/readyz") == 200, "readiness", process=process, log_path=log)
        yield server


def test_the_webhook_answers_over_tls_verified_for_the_service_name(server: Server) -> None:
    status, reply = server.post("/validate/enforce?timeout=10s", pod_review({"web": UNMIRRORED}))
    assert status == 200
    assert reply["response"]["allowed"] is False
    assert "pulled by tag" in reply["response"]["status"]["message"]


def test_a_certificate_for_another_name_is_rejected_by_the_client(server: Server) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        server.connect(server_hostname="other.idms-guard.svc")


def test_tls_older_than_1_2_is_refused_by_the_server(server: Server) -> None:
    context = server.context()
    with warnings.catch_warnings():  # Python deprecates even naming TLS 1.1
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1_1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that this client does offer TLS 1.1
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        pytest.raises(ssl.SSLError) as refused,
    ):
        context.wrap_socket(raw, server_hostname=SERVICE_NAME)
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"


def test_keep_alive_serves_many_requests_on_one_connection(server: Server) -> None:
    connection = server.connect()
    try:
        for _ in range(5):
            connection.request("GET", "/healthz")
            reply = connection.getresponse()
            assert (reply.status, reply.read()) == (200, b"ok\n")
    finally:
        connection.close()


def test_a_renewed_certificate_is_served_without_a_restart(server: Server) -> None:
    before = server.serial()
    renew_serving_certificate(server)
    wait_for(lambda: server.serial() != before, "the renewed certificate", timeout=30)
    assert server.process.poll() is None


def test_a_changed_mirror_set_file_changes_the_decision(server: Server) -> None:
    review = pod_review({"web": UNMIRRORED})
    assert server.post("/validate/enforce", review)[1]["response"]["allowed"] is False
    write_mirror_sets(
        server.directory / "mirror-sets.yaml",
        mirror_object("itms", "dockerhub", [entry("docker.io/library", "m.local/library")]),
    )
    wait_for(
        lambda: server.post("/validate/enforce", review)[1]["response"]["allowed"] is True,
        "the new mirror sets to apply",
    )


def test_garbage_bodies_get_400_and_the_server_stays_up(server: Server) -> None:
    for body in (b"\x00\xff", b"[" * 50_000, b'{"apiVersion": 1}', b"null"):
        connection = server.connect()
        try:
            connection.request("POST", "/validate/warn", body, {"Content-Type": "application/json"})
            reply = connection.getresponse()
            assert reply.status == 400
            assert "error" in json.loads(reply.read())
        finally:
            connection.close()
    assert server.get("/healthz") == 200
    assert "Traceback" not in server.log.read_text()


def test_a_chunked_body_over_the_limit_gets_413_naming_the_setting(server: Server) -> None:
    review = pod_review({"web": UNMIRRORED})
    review["request"]["object"]["metadata"]["annotations"] = {"big": "x" * MAX_BODY_BYTES}
    body = json.dumps(review).encode()
    chunks = (body[start : start + 16_384] for start in range(0, len(body), 16_384))
    connection = server.connect()
    try:
        connection.request(
            "POST",
            "/validate/warn",
            chunks,
            {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        reply = connection.getresponse()
        assert reply.status == 413
        assert "IDMS_GUARD_MAX_BODY_BYTES" in json.loads(reply.read())["error"]
    finally:
        connection.close()


def test_sigterm_shuts_down_gracefully(server: Server) -> None:
    assert stop(server.process) == 0


def test_the_demo_prints_a_command_that_works(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "demo.log"
    argv = [PYTHON, "-m", "webhook.cli", "serve", "--demo", "--port", str(port)]
    with running(argv, log) as process:
        wait_for(lambda: "curl -sS" in log.read_text(), "the demo banner", process=process)
        command = re.search(r"^\s+(curl -sS .*)$", log.read_text(), re.MULTILINE)
        assert command is not None

        def answered() -> bool:
            result = subprocess.run(
                command.group(1), shell=True, capture_output=True, timeout=20, check=False
            )
            return result.returncode == 0 and b'"warnings"' in result.stdout

        wait_for(
            answered, "the printed curl command to get warnings", process=process, log_path=log
        )


def test_clients_that_stall_mid_handshake_do_not_take_the_webhook_down(server: Server) -> None:
    stalled = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(6)]
    try:
        for connection in stalled:
            connection.sendall(b"\x16")  # the first byte of a TLS record, and then nothing
        wait_for(lambda: server.get("/healthz") == 200, "an answer despite stalled clients")
    finally:
        for connection in stalled:
            connection.close()


class StalledClients:
    """`count` TLS connections that each send half a request and then nothing; whichever
    the server drops is opened again, until `stop`."""

    def __init__(self, server: Server, count: int) -> None:
        self._server = server
        self._count = count
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._run, name="stalled-clients")
        self.opened = 0
        self.dropped = 0
        self.held = threading.Event()

    def __enter__(self) -> StalledClients:
        self._thread.start()
        if not self.held.wait(60):
            raise AssertionError(f"could not open {self._count} stalled connections")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()

    def _open(self) -> None:
        try:
            raw = socket.create_connection(("127.0.0.1", self._server.port), timeout=10)
        except OSError:
            self._stop.wait(0.1)  # a full backlog: the server is starved, try again soon
            return
        try:
            tls = self._server.context().wrap_socket(raw, server_hostname=SERVICE_NAME)
            tls.sendall(HALF_A_REQUEST)
        except OSError:
            raw.close()
            return
        tls.setblocking(False)
        self._selector.register(tls, selectors.EVENT_READ)
        self.opened += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            while len(self._selector.get_map()) < self._count and not self._stop.is_set():
                self._open()
            self.held.set()
            for key, _ in self._selector.select(timeout=0.2):
                connection: ssl.SSLSocket = key.fileobj  # type: ignore[assignment]
                try:
                    if connection.recv(4096):
                        continue  # an answer to half a request: keep stalling regardless
                except ssl.SSLWantReadError:
                    continue
                except OSError:
                    pass
                self._selector.unregister(connection)
                connection.close()
                self.dropped += 1


def test_stalled_clients_do_not_starve_the_webhook(server: Server) -> None:
    review = pod_review({"web": UNMIRRORED})
    with StalledClients(server, STALLED_CLIENTS) as stalled:
        durations = []
        for _ in range(20):
            started = time.monotonic()
            status, reply = server.post("/validate/warn", review)
            durations.append(time.monotonic() - started)
            assert status == 200
            assert reply["response"]["allowed"] is True
        assert stalled.opened >= STALLED_CLIENTS
    assert max(durations) < ANSWER_LIMIT, durations


def test_stalled_clients_are_dropped_after_the_request_time_limit(server: Server) -> None:
    with StalledClients(server, 4) as stalled:
        wait_for(lambda: stalled.dropped >= 4, "the server to drop stalled clients")
    assert server.process.poll() is None


def test_an_idle_keep_alive_connection_outlives_the_request_time_limit(server: Server) -> None:
    connection = server.connect()
    try:
        connection.request("GET", "/healthz")
        assert connection.getresponse().read() == b"ok\n"
        time.sleep(6)  # longer than a request may take to arrive, well within keep-alive
        connection.request("GET", "/healthz")
        assert connection.getresponse().read() == b"ok\n"
    finally:
        connection.close()


def test_a_certificate_renewed_under_load_reaches_new_connections_and_no_request_fails(
    server: Server,
) -> None:
    review = pod_review({"web": UNMIRRORED})
    failures: list[Exception] = []
    answered = 0
    stop = threading.Event()

    def load() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                assert server.post("/validate/warn", review)[0] == 200
                answered += 1
            except Exception as error:  # reported below, all at once
                failures.append(error)

    before = server.serial()
    clients = [threading.Thread(target=load) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        renew_serving_certificate(server)
        wait_for(lambda: server.serial() != before, "the renewed certificate", timeout=30)
        settled = answered
        wait_for(lambda: answered > settled + 20, "answers after the renewal")
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=30)
    assert failures == []


def test_sigterm_lets_a_request_in_flight_finish(server: Server) -> None:
    body = json.dumps(pod_review({"web": UNMIRRORED})).encode()
    connection = server.connect()
    try:
        connection.putrequest("POST", "/validate/warn")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body[:100])
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.5)  # the worker has seen the signal and stopped accepting
        connection.send(body[100:])
        reply = connection.getresponse()
        assert reply.status == 200
        assert json.loads(reply.read())["response"]["allowed"] is True
    finally:
        connection.close()
    assert server.process.wait(timeout=30) == 0

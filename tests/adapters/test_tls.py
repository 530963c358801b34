"""What the webhook's TLS must do: certificates the API server accepts, TLS 1.2+ only, and a
certificate renewed on disk served to new connections without a restart.

Handshakes are real, on 127.0.0.1. Time is an injected clock; no test waits for the wall
clock, and every server thread and socket a test opens is closed by its fixtures.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import socket
import ssl
import stat
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webhook.adapters.tls_certificates import (
    CertificatePair,
    generate_ca,
    generate_serving_certificate,
    load_certificate_pair,
    service_dns_names,
    write_certificate_files,
)
from webhook.adapters.tls_serving import ReloadingServerContext
from webhook.errors import CertificateError

API_SERVER_NAME = "idms-guard.ns.svc"  # what the API server checks: <service>.<namespace>.svc
POLL = 0.05  # how long a server loop blocks before it looks at its stop flag
TIMEOUT = 10.0  # an upper bound for a handshake or a join, never an expectation
INTERVAL = 1.0

E = TypeVar("E", bound=x509.ExtensionType)


# --- helpers -------------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class TlsServer:
    """Accepts TLS connections on 127.0.0.1 with `context` and echoes what clients send.

    Each loop blocks at most POLL seconds, so `stop` ends every thread promptly. A failed
    handshake just closes the connection: the client's error is what tests look at.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, name="tls-accept")
        self._handlers: list[threading.Thread] = []
        self._acceptor.start()

    def stop(self) -> None:
        self._stopping.set()
        self._acceptor.join(TIMEOUT)
        for handler in self._handlers:
            handler.join(TIMEOUT)
        self._listener.close()
        assert not any(t.is_alive() for t in [self._acceptor, *self._handlers])

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            handler = threading.Thread(target=self._serve, args=(raw,), name="tls-conn")
            self._handlers.append(handler)
            handler.start()

    def _serve(self, raw: socket.socket) -> None:
        with raw:  # wrap_socket detaches `raw`; this closes it only if wrapping never started
            raw.settimeout(TIMEOUT)
            try:
                with self._context.wrap_socket(raw, server_side=True) as connection:
                    connection.settimeout(POLL)
                    self._echo(connection)
            except OSError:
                return

    def _echo(self, connection: ssl.SSLSocket) -> None:
        while not self._stopping.is_set():
            try:
                data = connection.recv(1024)
            except TimeoutError:
                continue
            if not data:
                return
            connection.sendall(data)


class Connect(Protocol):
    def __call__(
        self,
        server: TlsServer,
        cafile: Path,
        hostname: str | None = API_SERVER_NAME,
        version: ssl.TLSVersion | None = None,
    ) -> ssl.SSLSocket: ...


def client_context(
    cafile: Path, hostname: str | None, version: ssl.TLSVersion | None
) -> ssl.SSLContext:
    """A verifying client like the API server's; `hostname=None` sends no SNI at all."""
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = hostname is not None
    if version is not None:
        with warnings.catch_warnings():  # Python deprecates naming TLS 1.0/1.1 at all
            warnings.filterwarnings("ignore", "ssl.TLSVersion", DeprecationWarning)
            context.minimum_version = context.maximum_version = version
        if version < ssl.TLSVersion.TLSv1_2:
            context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer it, so the
            # refusal we see is the server's
    return context


def peer_serial(connection: ssl.SSLSocket) -> int:
    der = connection.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def serial(pair: CertificatePair) -> int:
    return x509.load_pem_x509_certificate(pair.cert_pem).serial_number


def echoes(connection: ssl.SSLSocket) -> bool:
    connection.sendall(b"ping")
    return connection.recv(4) == b"ping"


def extension(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(kind)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> CertificatePair:
    return generate_ca()


@pytest.fixture
def serving(ca: CertificatePair) -> CertificatePair:
    return generate_serving_certificate(ca, service_dns_names("idms-guard", "ns"))


@pytest.fixture
def renewed(ca: CertificatePair) -> CertificatePair:
    return generate_serving_certificate(ca, service_dns_names("idms-guard", "ns"))


@pytest.fixture
def files(tmp_path: Path, ca: CertificatePair, serving: CertificatePair) -> dict[str, Path]:
    return write_certificate_files(tmp_path / "certs", ca, serving)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def reloading(files: dict[str, Path], clock: FakeClock) -> ReloadingServerContext:
    return ReloadingServerContext(
        files["tls.crt"], files["tls.key"], check_interval=INTERVAL, clock=clock
    )


@pytest.fixture
def serve() -> Iterator[Callable[[ssl.SSLContext], TlsServer]]:
    servers: list[TlsServer] = []

    def start(context: ssl.SSLContext) -> TlsServer:
        servers.append(TlsServer(context))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(
    serve: Callable[[ssl.SSLContext], TlsServer], reloading: ReloadingServerContext
) -> TlsServer:
    return serve(reloading.context())


@pytest.fixture
def connect() -> Iterator[Connect]:
    with contextlib.ExitStack() as opened:

        def open_connection(
            server: TlsServer,
            cafile: Path,
            hostname: str | None = API_SERVER_NAME,
            version: ssl.TLSVersion | None = None,
        ) -> ssl.SSLSocket:
            context = client_context(cafile, hostname, version)
            raw = opened.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            raw.settimeout(TIMEOUT)
            return opened.enter_context(context.wrap_socket(raw, server_hostname=hostname))

        yield open_connection


# --- certificate contents ------------------------------------------------------------------


def test_service_dns_names_include_the_name_the_api_server_connects_to() -> None:
    assert service_dns_names("idms-guard", "ns") == [
        "idms-guard",
        "idms-guard.ns",
        "idms-guard.ns.svc",
        "idms-guard.ns.svc.cluster.local",
    ]


def test_ca_is_self_signed_with_an_ecdsa_p256_key_and_sha256() -> None:
    cert = x509.load_pem_x509_certificate(generate_ca("my-ca").cert_pem)
    public_key = cert.public_key()
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "my-ca"
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP256R1)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    cert.verify_directly_issued_by(cert)


def test_ca_may_sign_certificates_but_no_further_cas() -> None:
    cert = x509.load_pem_x509_certificate(generate_ca().cert_pem)
    constraints = extension(cert, x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    assert extension(cert, x509.KeyUsage).value.key_cert_sign


def test_ca_names_its_own_key_identifier() -> None:
    cert = x509.load_pem_x509_certificate(generate_ca().cert_pem)
    ski = extension(cert, x509.SubjectKeyIdentifier).value
    assert extension(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest


def test_serving_certificate_lists_every_dns_name_and_ip_address_as_a_san(
    ca: CertificatePair,
) -> None:
    names = service_dns_names("idms-guard", "ns")
    pair = generate_serving_certificate(ca, names, ip_addresses=["127.0.0.1", "::1"])
    sans = extension(x509.load_pem_x509_certificate(pair.cert_pem), x509.SubjectAlternativeName)
    assert sans.value.get_values_for_type(x509.DNSName) == names
    assert [str(ip) for ip in sans.value.get_values_for_type(x509.IPAddress)] == [
        "127.0.0.1",
        "::1",
    ]


def test_serving_certificate_common_name_is_the_first_dns_name(
    serving: CertificatePair,
) -> None:
    cert = x509.load_pem_x509_certificate(serving.cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "idms-guard"


def test_serving_certificate_is_for_server_auth_and_cannot_sign_certificates(
    serving: CertificatePair,
) -> None:
    cert = x509.load_pem_x509_certificate(serving.cert_pem)
    constraints = extension(cert, x509.BasicConstraints)
    usage = extension(cert, x509.KeyUsage).value
    assert constraints.critical
    assert not constraints.value.ca
    assert usage.digital_signature
    assert not usage.key_cert_sign
    assert list(extension(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_serving_certificate_is_signed_by_the_ca_and_names_the_ca_key(
    ca: CertificatePair, serving: CertificatePair
) -> None:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    cert = x509.load_pem_x509_certificate(serving.cert_pem)
    cert.verify_directly_issued_by(ca_cert)
    ca_ski = extension(ca_cert, x509.SubjectKeyIdentifier).value.digest
    assert extension(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski
    assert extension(cert, x509.SubjectKeyIdentifier).value.digest != ca_ski


def test_serving_key_is_ecdsa_p256(serving: CertificatePair) -> None:
    key = serialization.load_pem_private_key(serving.key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)


def test_validity_starts_a_minute_early_to_tolerate_clock_skew(ca: CertificatePair) -> None:
    pair = generate_serving_certificate(ca, ["a.ns.svc"], days=30)
    cert = x509.load_pem_x509_certificate(pair.cert_pem)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=30, minutes=1)


def test_serving_certificate_does_not_outlive_its_ca() -> None:
    short_ca = generate_ca(days=10)
    pair = generate_serving_certificate(short_ca, ["a.ns.svc"], days=365)
    ca_end = x509.load_pem_x509_certificate(short_ca.cert_pem).not_valid_after_utc
    assert x509.load_pem_x509_certificate(pair.cert_pem).not_valid_after_utc == ca_end


def test_serving_certificate_needs_a_dns_name(ca: CertificatePair) -> None:
    with pytest.raises(CertificateError, match="DNS name"):
        generate_serving_certificate(ca, [])


def test_an_invalid_ip_address_is_a_certificate_error(ca: CertificatePair) -> None:
    with pytest.raises(CertificateError, match="not-an-ip"):
        generate_serving_certificate(ca, ["a.ns.svc"], ip_addresses=["not-an-ip"])


def test_a_serving_certificate_cannot_act_as_ca(ca: CertificatePair) -> None:
    leaf = generate_serving_certificate(ca, ["a.ns.svc"])
    with pytest.raises(CertificateError, match="not a CA"):
        generate_serving_certificate(leaf, ["b.ns.svc"])


def test_pair_repr_leaves_out_the_private_key(serving: CertificatePair) -> None:
    assert "PRIVATE KEY" not in repr(serving)


# --- the handshake the API server makes ----------------------------------------------------


def test_chain_verifies_for_the_name_the_api_server_checks(
    server: TlsServer, connect: Connect, files: dict[str, Path], serving: CertificatePair
) -> None:
    connection = connect(server, files["ca.crt"], hostname=API_SERVER_NAME)
    assert peer_serial(connection) == serial(serving)
    assert echoes(connection)


def test_chain_fails_verification_for_another_name(
    server: TlsServer, connect: Connect, files: dict[str, Path]
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        connect(server, files["ca.crt"], hostname="idms-guard.other-ns.svc")


def test_chain_fails_verification_against_another_ca(
    server: TlsServer, connect: Connect, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_bytes(generate_ca().cert_pem)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        connect(server, other_ca)


def test_tls_1_1_client_is_refused_by_the_server(
    server: TlsServer, connect: Connect, files: dict[str, Path]
) -> None:
    with pytest.raises(ssl.SSLError) as refused:
        connect(server, files["ca.crt"], version=ssl.TLSVersion.TLSv1_1)
    # An alert from the server, not a client that could not offer TLS 1.1 in the first place.
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"


@pytest.mark.parametrize(
    ("version", "negotiated"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
)
def test_tls_1_2_and_1_3_clients_are_accepted(
    server: TlsServer,
    connect: Connect,
    files: dict[str, Path],
    version: ssl.TLSVersion,
    negotiated: str,
) -> None:
    connection = connect(server, files["ca.crt"], version=version)
    assert connection.version() == negotiated
    assert echoes(connection)


# --- files ---------------------------------------------------------------------------------


def test_files_carry_the_names_of_a_kubernetes_tls_secret_and_its_ca(
    files: dict[str, Path],
) -> None:
    assert sorted(files) == ["ca.crt", "tls.crt", "tls.key"]
    assert all(path.name == name for name, path in files.items())


def test_written_files_load_back_as_the_same_pair(
    files: dict[str, Path], serving: CertificatePair
) -> None:
    assert load_certificate_pair(files["tls.crt"], files["tls.key"]) == serving


def test_written_key_is_readable_by_its_owner_only(files: dict[str, Path]) -> None:
    assert stat.S_IMODE(files["tls.key"].stat().st_mode) == 0o600


def test_writing_replaces_files_and_leaves_no_temporary_file(
    files: dict[str, Path], ca: CertificatePair, renewed: CertificatePair
) -> None:
    directory = files["tls.crt"].parent
    old_inode = files["tls.crt"].stat().st_ino
    write_certificate_files(directory, ca, renewed)
    assert sorted(os.listdir(directory)) == ["ca.crt", "tls.crt", "tls.key"]
    assert files["tls.crt"].stat().st_ino != old_inode  # renamed into place, not rewritten
    assert load_certificate_pair(files["tls.crt"], files["tls.key"]) == renewed


def test_loading_a_missing_file_names_it(files: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "tls.crt"
    with pytest.raises(CertificateError, match=re.escape(f"{missing}: cannot read: No such file")):
        load_certificate_pair(missing, files["tls.key"])


def test_loading_a_truncated_certificate_names_the_certificate_file(
    files: dict[str, Path],
) -> None:
    cert = files["tls.crt"]
    cert.write_bytes(cert.read_bytes()[:200])
    with pytest.raises(CertificateError, match=re.escape(f"{cert}: PEM certificate is truncated")):
        load_certificate_pair(cert, files["tls.key"])


def test_loading_a_key_where_the_certificate_belongs_says_there_is_no_certificate(
    files: dict[str, Path],
) -> None:
    with pytest.raises(CertificateError, match="no PEM certificate"):
        load_certificate_pair(files["tls.key"], files["tls.key"])


def test_loading_a_key_of_another_certificate_names_the_key_file(
    files: dict[str, Path], renewed: CertificatePair
) -> None:
    key = files["tls.key"]
    key.write_bytes(renewed.key_pem)
    with pytest.raises(CertificateError, match=re.escape(f"{key}: private key does not match")):
        load_certificate_pair(files["tls.crt"], key)


def test_loading_an_encrypted_key_says_it_is_encrypted(files: dict[str, Path]) -> None:
    key = serialization.load_pem_private_key(files["tls.key"].read_bytes(), password=None)
    files["tls.key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(CertificateError, match="encrypted"):
        load_certificate_pair(files["tls.crt"], files["tls.key"])


@pytest.mark.parametrize("garbage", [b"", b"not pem", b"-----BEGIN CERTIFICATE-----\nMIIB"])
def test_load_errors_are_one_line(files: dict[str, Path], garbage: bytes) -> None:
    files["tls.crt"].write_bytes(garbage)
    with pytest.raises(CertificateError) as error:
        load_certificate_pair(files["tls.crt"], files["tls.key"])
    assert "\n" not in str(error.value)
    assert str(files["tls.crt"]) in str(error.value)


# --- renewal without a restart -------------------------------------------------------------


def test_a_broken_pair_at_start_is_an_error_naming_the_file(files: dict[str, Path]) -> None:
    files["tls.key"].write_bytes(b"")
    expected = re.escape(f"{files['tls.key']}: no PEM private key")
    with pytest.raises(CertificateError, match=expected):
        ReloadingServerContext(files["tls.crt"], files["tls.key"])


def test_server_context_requires_tls_1_2(reloading: ReloadingServerContext) -> None:
    assert reloading.context().minimum_version == ssl.TLSVersion.TLSv1_2
    assert reloading.context().options & ssl.OP_NO_COMPRESSION


def test_renewed_certificate_is_served_to_new_connections_once_check_interval_passed(
    server: TlsServer,
    connect: Connect,
    files: dict[str, Path],
    clock: FakeClock,
    ca: CertificatePair,
    renewed: CertificatePair,
) -> None:
    write_certificate_files(files["tls.crt"].parent, ca, renewed)
    clock.advance(INTERVAL)
    assert peer_serial(connect(server, files["ca.crt"])) == serial(renewed)


def test_renewed_certificate_is_not_looked_for_before_check_interval_passed(
    server: TlsServer,
    connect: Connect,
    files: dict[str, Path],
    clock: FakeClock,
    ca: CertificatePair,
    serving: CertificatePair,
    renewed: CertificatePair,
) -> None:
    write_certificate_files(files["tls.crt"].parent, ca, renewed)
    clock.advance(INTERVAL / 2)
    assert peer_serial(connect(server, files["ca.crt"])) == serial(serving)


def test_connection_opened_before_renewal_stays_usable(
    server: TlsServer,
    connect: Connect,
    files: dict[str, Path],
    clock: FakeClock,
    ca: CertificatePair,
    serving: CertificatePair,
    renewed: CertificatePair,
) -> None:
    before = connect(server, files["ca.crt"])
    write_certificate_files(files["tls.crt"].parent, ca, renewed)
    clock.advance(INTERVAL)
    after = connect(server, files["ca.crt"])
    assert (peer_serial(before), peer_serial(after)) == (serial(serving), serial(renewed))
    assert echoes(before)
    assert echoes(after)


def test_renewed_certificate_reaches_clients_that_send_no_server_name(
    server: TlsServer,
    connect: Connect,
    files: dict[str, Path],
    clock: FakeClock,
    ca: CertificatePair,
    renewed: CertificatePair,
) -> None:
    write_certificate_files(files["tls.crt"].parent, ca, renewed)
    clock.advance(INTERVAL)
    assert peer_serial(connect(server, files["ca.crt"], hostname=None)) == serial(renewed)


def test_half_written_certificate_keeps_the_previous_one_serving(
    server: TlsServer,
    connect: Connect,
    files: dict[str, Path],
    clock: FakeClock,
    serving: CertificatePair,
    renewed: CertificatePair,
) -> None:
    files["tls.key"].write_bytes(renewed.key_pem)
    files["tls.crt"].write_bytes(renewed.cert_pem[: len(renewed.cert_pem) // 2])
    clock.advance(INTERVAL)
    assert peer_serial(connect(server, files["ca.crt"])) == serial(serving)


def test_mismatched_pair_keeps_the_previous_one_serving(
    server: TlsServer,
    connect: Connect,
    files: dict[str, Path],
    clock: FakeClock,
    ca: CertificatePair,
    serving: CertificatePair,
    renewed: CertificatePair,
) -> None:
    mismatched = CertificatePair(cert_pem=renewed.cert_pem, key_pem=serving.key_pem)
    write_certificate_files(files["tls.crt"].parent, ca, mismatched)
    clock.advance(INTERVAL)
    assert peer_serial(connect(server, files["ca.crt"])) == serial(serving)


def test_broken_renewal_is_logged_once_naming_the_file_without_key_material(
    server: TlsServer,
    connect: Connect,
    files: dict[str, Path],
    clock: FakeClock,
    ca: CertificatePair,
    serving: CertificatePair,
    renewed: CertificatePair,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mismatched = CertificatePair(cert_pem=renewed.cert_pem, key_pem=serving.key_pem)
    write_certificate_files(files["tls.crt"].parent, ca, mismatched)
    with caplog.at_level(logging.WARNING, logger="webhook.adapters.tls_serving"):
        for _ in range(3):
            clock.advance(INTERVAL)
            connect(server, files["ca.crt"])
    warnings_logged = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings_logged) == 1
    message = warnings_logged[0].getMessage()
    assert f"{files['tls.key']}: private key does not match" in message
    assert "\n" not in message
    key_lines = {line for pair in (serving, renewed) for line in pair.key_pem.splitlines()[1:-1]}
    assert not any(line.decode() in caplog.text for line in key_lines)


def test_repaired_pair_is_served_at_the_next_check(
    server: TlsServer,
    connect: Connect,
    files: dict[str, Path],
    clock: FakeClock,
    ca: CertificatePair,
    renewed: CertificatePair,
) -> None:
    files["tls.crt"].write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    clock.advance(INTERVAL)
    connect(server, files["ca.crt"])
    write_certificate_files(files["tls.crt"].parent, ca, renewed)
    clock.advance(INTERVAL)
    assert peer_serial(connect(server, files["ca.crt"])) == serial(renewed)


def test_concurrent_handshakes_during_renewal_all_get_a_valid_certificate(
    server: TlsServer,
    files: dict[str, Path],
    clock: FakeClock,
    ca: CertificatePair,
    serving: CertificatePair,
    renewed: CertificatePair,
) -> None:
    def handshake(_: int) -> int:
        context = client_context(files["ca.crt"], API_SERVER_NAME, None)
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=API_SERVER_NAME) as connection,
        ):
            return peer_serial(connection)

    write_certificate_files(files["tls.crt"].parent, ca, renewed)
    clock.advance(INTERVAL)
    with ThreadPoolExecutor(max_workers=8) as pool:
        serials = set(pool.map(handshake, range(32)))
    assert serials == {serial(renewed)}

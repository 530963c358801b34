"""Real registries for tests, without pytest: Distribution, a token service, fault servers.

`RegistryServer` runs Debian's `docker-registry` (github.com/docker/distribution 2.8) on
127.0.0.1 over TLS with one of three auth modes: none, `htpasswd` (bcrypt: Distribution
accepts no other hash) or `token`. In token mode the realm is `TokenServer`, an in-test
HTTPS service that checks basic credentials and issues RS256 JWTs; the registry trusts
the signing certificate (`rootcertbundle`) and finds it in each token's `x5c` header,
which is how Distribution 2.8 picks the key to verify a token with.

`push_image` and `push_index` speak the registry HTTP API (monolithic blob upload:
POST then PUT; manifest PUT) so tests need no container tooling, and return the digest
of the bytes they sent, checked against what the registry answered.

`FaultServer` answers `/v2/...` the ways broken registries do (500, a 401 without a
challenge, 404, garbage, slowness, no digest header, a wrong media type, a redirect) or
refuses connections outright.

Every server binds 127.0.0.1 only, and every process, thread and socket started here is
stopped by the context manager that started it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

import bcrypt
import urllib3
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.support.processes import free_port, running, wait_for
from webhook.adapters.registry import DockerConfig, RegistryClient
from webhook.adapters.tls_certificates import (
    CertificatePair,
    generate_ca,
    generate_serving_certificate,
    write_certificate_files,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REGISTRY_BINARY = "docker-registry"
START_TIMEOUT = 30.0  # an upper bound for a registry to answer /v2/, never an expectation
HANDLER_TIMEOUT = 5.0  # an idle client cannot hold a server thread longer than this
SLOW_SECONDS = 30.0  # how long the slow fault waits, unless the server stops first
DEAD_PORT = 1  # tcpmux: nothing listens there on a test machine, so connections are refused

AuthMode = Literal["none", "htpasswd", "token"]


class ClientFactory(Protocol):
    """What the `registry_client` fixture yields."""

    def __call__(
        self,
        credentials: DockerConfig | None = None,
        *,
        trust_test_ca: bool = True,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> RegistryClient: ...


# --- TLS --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryTls:
    """One test CA and a serving certificate for `localhost` and 127.0.0.1.

    The CA sits alone in `cert_dir` so the directory can be skopeo's `--cert-dir`
    (containers/image reads every `*.key` there as a client key needing its `*.cert`).
    """

    ca: CertificatePair
    ca_file: Path
    cert_file: Path
    key_file: Path

    @property
    def cert_dir(self) -> Path:
        return self.ca_file.parent

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


PROXIED_REGISTRY_NAME = "registry.behind-proxy.test"
"""A name only the test CONNECT proxy resolves (to 127.0.0.1): reachable through it alone."""


def make_registry_tls(directory: Path) -> RegistryTls:
    ca = generate_ca("idms-guard test registries")
    names = ["localhost", PROXIED_REGISTRY_NAME]
    serving = generate_serving_certificate(ca, names, ip_addresses=["127.0.0.1"])
    files = write_certificate_files(directory / "serving", ca, serving)
    (directory / "ca").mkdir(parents=True, exist_ok=True)
    ca_file = directory / "ca" / "ca.crt"
    ca_file.write_bytes(ca.cert_pem)
    return RegistryTls(ca, ca_file, files["tls.crt"], files["tls.key"])


# --- small HTTPS servers in threads ----------------------------------------------------


class _TlsThreadingServer(ThreadingHTTPServer):
    """HTTPS with the handshake in the handler thread, so a client that never completes
    one (or rejects our certificate) cannot stall the accept loop; joins its handler
    threads on close."""

    daemon_threads = False
    block_on_close = True

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext, owner: object
    ) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.tls = tls
        self.owner = owner

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDLER_TIMEOUT)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except OSError:  # the client rejected the certificate or went away
            return
        try:
            super().finish_request(connection, client_address)
        except OSError:  # the client hung up mid-answer (it timed out, as tests want)
            pass
        finally:
            connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a test asserts on what the client saw, not on tracebacks in stderr


class _ThreadedServer:
    """Start/stop for a `_TlsThreadingServer`: serve in a thread, then shut down, close the
    socket and join every thread, whatever the test did."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], tls: RegistryTls, owner: object
    ) -> None:
        self._handler = handler
        self._tls = tls
        self._owner = owner
        self._server: _TlsThreadingServer | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        port: int = self._server.server_address[1]
        return port

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = _TlsThreadingServer(self._handler, self._tls.server_context(), self._owner)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=HANDLER_TIMEOUT * 2)
            assert not self._thread.is_alive(), "server thread did not stop"


class _QuietHandler(BaseHTTPRequestHandler):
    timeout = HANDLER_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer(
        self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# --- token service ---------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenServer:
    """The Docker token service a `token` registry sends clients to, as a context manager.

    Valid basic credentials get a token for every action asked for; no credentials get
    a token with no access (as Docker Hub does); wrong ones get 401. `requests` counts the
    calls, `issued` keeps every token so tests can look for leaks; the next `failures`
    calls get 503 (a token service that is down for a moment).
    """

    def __init__(
        self,
        tls: RegistryTls,
        users: Mapping[str, str],
        workdir: Path,
        *,
        expires_in: int | None = 300,
        token_fields: Sequence[str] = ("token", "access_token"),
    ) -> None:
        self.users = dict(users)
        self.service = "idms-guard-test-registry"
        self.issuer = "idms-guard-test-token-issuer"
        self.expires_in = expires_in
        self.token_fields = tuple(token_fields)
        self.requests = 0
        self.failures = 0
        self.issued: list[str] = []
        self._lock = threading.Lock()
        self._server = _ThreadedServer(_TokenHandler, tls, self)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._certificate = _signing_certificate(self._key)
        workdir.mkdir(parents=True, exist_ok=True)
        self.root_cert_bundle = workdir / "token-signer.crt"
        self.root_cert_bundle.write_bytes(
            self._certificate.public_bytes(serialization.Encoding.PEM)
        )

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def realm(self) -> str:
        return f"https://{self.host}/token"

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.stop()

    def token(self, subject: str, access: list[dict[str, Any]]) -> str:
        """An RS256 JWT as Distribution 2.8 checks it: iss, aud = service, exp/nbf/iat, and
        the signing certificate in `x5c` (standard base64 DER), chaining to the bundle."""
        now = int(time.time())
        der = self._certificate.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{signing_input}.{_b64url(signature)}"
        with self._lock:
            self.issued.append(token)
        return token

    def count_request(self) -> bool:
        """Counts a call; False when it is to fail (`failures`)."""
        with self._lock:
            self.requests += 1
            failing = self.failures > 0
            self.failures -= failing
            return not failing


def _signing_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idms-guard test token signer")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


class _TokenHandler(_QuietHandler):
    server: _TlsThreadingServer

    def do_GET(self) -> None:
        tokens: TokenServer = self.server.owner  # type: ignore[assignment]
        if not tokens.count_request():
            self.answer(503, b'{"details": "token service unavailable"}')
            return
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.answer(404)
            return
        subject = self._user(tokens.users)
        if subject is None:
            self.answer(401, b'{"details": "wrong user name or password"}')
            return
        scopes = urllib.parse.parse_qs(url.query).get("scope", [])
        access = [] if subject == "" else [_access(scope) for scope in scopes]
        token = tokens.token(subject, access)
        answer: dict[str, Any] = {name: token for name in tokens.token_fields}
        if tokens.expires_in is not None:
            answer["expires_in"] = tokens.expires_in
        self.answer(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    def _user(self, users: Mapping[str, str]) -> str | None:
        """The user name, "" for an anonymous request, None for wrong credentials."""
        header = self.headers.get("Authorization")
        if header is None:
            return ""
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        ok = scheme.lower() == "basic" and users.get(user) == password
        return user if ok else None


def _access(scope: str) -> dict[str, Any]:
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


# --- Distribution ----------------------------------------------------------------------


class RegistryServer:
    """`docker-registry serve` on 127.0.0.1:<free port> over TLS; stopped on exit.

    `auth` is "none", "htpasswd" (needs `users`) or "token" (needs `token_server`, whose
    users are the registry's). `push_authorization(repo)` is what the push helpers send.
    """

    def __init__(
        self,
        workdir: Path,
        tls: RegistryTls,
        auth: AuthMode = "none",
        users: Mapping[str, str] | None = None,
        token_server: TokenServer | None = None,
        plain_http: bool = False,
    ) -> None:
        """`plain_http`: no TLS at all, as an `insecureRegistries` mirror may be."""
        if auth == "token" and token_server is None:
            raise ValueError("token auth needs a token server")
        if auth == "htpasswd" and not users:
            raise ValueError("htpasswd auth needs users")
        self.workdir = workdir
        self.tls = tls
        self.auth = auth
        self.users = dict(token_server.users if token_server else users or {})
        self.token_server = token_server
        self.plain_http = plain_http
        self.port = free_port()
        self.log_path = workdir / "registry.log"
        self._stack = ExitStack()
        self._pool: urllib3.PoolManager | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.host}"

    @property
    def pool(self) -> urllib3.PoolManager:
        assert self._pool is not None, "registry not started"
        return self._pool

    def __enter__(self) -> Self:
        config = self._write_config()
        try:
            self._pool = self._stack.enter_context(
                urllib3.PoolManager(retries=False)
                if self.plain_http
                else urllib3.PoolManager(ssl_context=self.tls.client_context(), retries=False)
            )
            process = self._stack.enter_context(
                running([REGISTRY_BINARY, "serve", str(config)], self.log_path)
            )
            wait_for(
                self._answers,
                f"docker-registry on {self.host}",
                timeout=START_TIMEOUT,
                process=process,
                log_path=self.log_path,
            )
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def push_authorization(self, repository: str) -> dict[str, str]:
        """Headers that let the first user push to and pull from `repository`."""
        if self.auth == "none":
            return {}
        user, password = next(iter(self.users.items()))
        basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if self.auth == "htpasswd":
            return {"Authorization": basic}
        assert self.token_server is not None
        query = urllib.parse.urlencode(
            {"service": self.token_server.service, "scope": f"repository:{repository}:pull,push"}
        )
        response = self.pool.request(
            "GET", f"{self.token_server.realm}?{query}", headers={"Authorization": basic}
        )
        assert response.status == 200, response.data
        return {"Authorization": f"Bearer {json.loads(response.data)['token']}"}

    def change_passwords(self, users: Mapping[str, str]) -> None:
        """Rewrites the htpasswd file; Distribution reads it again once it has changed."""
        assert self.auth == "htpasswd", "only an htpasswd registry has passwords to change"
        self.users = dict(users)
        self._htpasswd()

    def _answers(self) -> bool:
        try:
            response = self.pool.request("GET", f"{self.url}/v2/", timeout=2.0)
        except urllib3.exceptions.HTTPError:  # not listening yet
            return False
        return response.status in (200, 401)

    def _write_config(self) -> Path:
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(storage)},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": self.host,
                "secret": secrets.token_hex(16),
            },
        }
        if not self.plain_http:
            tls = {"certificate": str(self.tls.cert_file), "key": str(self.tls.key_file)}
            config["http"]["tls"] = tls
        if self.auth == "htpasswd":
            config["auth"] = {"htpasswd": {"realm": "idms-guard-test", "path": self._htpasswd()}}
        elif self.auth == "token":
            assert self.token_server is not None
            config["auth"] = {
                "token": {
                    "realm": self.token_server.realm,
                    "service": self.token_server.service,
                    "issuer": self.token_server.issuer,
                    "rootcertbundle": str(self.token_server.root_cert_bundle),
                }
            }
        path = self.workdir / "config.yml"
        path.write_text(yaml.safe_dump(config))
        return path

    def _htpasswd(self) -> str:
        # Cost 4, bcrypt's minimum: the registry checks it per request, and tests are many.
        lines = [
            f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()}"
            for user, password in self.users.items()
        ]
        path = self.workdir / "htpasswd"
        path.write_text("\n".join(lines) + "\n")
        return str(path)


# --- pushing ---------------------------------------------------------------------------


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(registry: RegistryServer, repository: str, data: bytes) -> str:
    """Monolithic upload: POST opens an upload session, one PUT sends the bytes."""
    digest = sha256_digest(data)
    headers = registry.push_authorization(repository)
    started = registry.pool.request(
        "POST", f"{registry.url}/v2/{repository}/blobs/uploads/", headers=headers
    )
    assert started.status == 202, (started.status, started.data)
    location = urllib.parse.urljoin(registry.url, started.headers["Location"])
    separator = "&" if urllib.parse.urlsplit(location).query else "?"
    finished = registry.pool.request(
        "PUT",
        f"{location}{separator}digest={digest}",
        body=data,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert finished.status == 201, (finished.status, finished.data)
    return digest


def push_manifest(
    registry: RegistryServer, repository: str, reference: str, manifest: bytes, media_type: str
) -> str:
    """PUT a manifest under a tag or its digest; returns the digest of the bytes sent."""
    response = registry.pool.request(
        "PUT",
        f"{registry.url}/v2/{repository}/manifests/{reference}",
        body=manifest,
        headers={**registry.push_authorization(repository), "Content-Type": media_type},
    )
    assert response.status == 201, (response.status, response.data)
    digest = sha256_digest(manifest)
    assert response.headers.get("Docker-Content-Digest") == digest
    return digest


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data), **extra}


def _image_manifest(
    registry: RegistryServer, repository: str, layer_bytes: bytes, architecture: str
) -> bytes:
    config = json.dumps(
        {"architecture": architecture, "os": "linux", "rootfs": {"type": "layers"}}
    ).encode()
    push_blob(registry, repository, config)
    push_blob(registry, repository, layer_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(OCI_CONFIG, config),
        "layers": [_descriptor(OCI_LAYER, layer_bytes)],
    }
    return json.dumps(manifest, indent=2).encode()


def push_image(
    registry: RegistryServer,
    repository: str,
    tag: str,
    *,
    layer_bytes: bytes,
    architecture: str = "amd64",
) -> str:
    """An OCI image (config + one layer) under `tag`; returns its manifest digest."""
    manifest = _image_manifest(registry, repository, layer_bytes, architecture)
    return push_manifest(registry, repository, tag, manifest, OCI_MANIFEST)


def push_index(
    registry: RegistryServer,
    repository: str,
    tag: str,
    platforms: Sequence[str] = ("amd64", "arm64"),
) -> str:
    """A multi-arch OCI index under `tag` (one image per architecture, pushed by digest);
    returns the index digest."""
    entries = []
    for architecture in platforms:
        layer = f"{repository}:{tag} layer for {architecture}".encode()
        manifest = _image_manifest(registry, repository, layer, architecture)
        digest = push_manifest(
            registry, repository, sha256_digest(manifest), manifest, OCI_MANIFEST
        )
        assert digest == sha256_digest(manifest)
        platform = {"architecture": architecture, "os": "linux"}
        entries.append(_descriptor(OCI_MANIFEST, manifest, platform=platform))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    return push_manifest(registry, repository, tag, json.dumps(index, indent=2).encode(), OCI_INDEX)


# --- skopeo ----------------------------------------------------------------------------


def skopeo_raw_manifest(
    pull_spec: str,
    tls: RegistryTls,
    home: Path,
    credentials: tuple[str, str] | None = None,
    timeout: float = 60.0,
) -> bytes:
    """`skopeo inspect --raw`: the manifest bytes containers/image fetched, unmodified."""
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo is not installed"
    home.mkdir(parents=True, exist_ok=True)
    registries_conf = home / "registries.conf"
    registries_conf.write_text("")  # no system mirrors or search registries in the answer
    argv = [skopeo, "--registries-conf", str(registries_conf), "inspect", "--raw"]
    argv += ["--retry-times", "0", "--cert-dir", str(tls.cert_dir)]
    argv += ["--creds", ":".join(credentials)] if credentials else ["--no-creds"]
    argv.append(f"docker://{pull_spec}")
    result = subprocess.run(
        argv,
        capture_output=True,
        timeout=timeout,
        check=False,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(home)},
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


# --- fault servers ---------------------------------------------------------------------


class FaultMode(Enum):
    SERVER_ERROR = "500"
    NO_CHALLENGE = "401 without WWW-Authenticate"
    NOT_FOUND = "404"
    GARBAGE = "200 with an invalid digest and a non-JSON body"
    SLOW = "answers after the client gave up"
    REFUSED = "refuses connections"
    NO_DIGEST_HEADER = "200 without Docker-Content-Digest; GET has the manifest"
    HEAD_NOT_ALLOWED = "405 to HEAD; GET has the manifest"
    WRONG_CONTENT_TYPE = "200 with a valid digest but Content-Type text/html"
    REDIRECT = "307 to another host"
    PLAIN_HTTP_REALM = "401 asking for a token from an http:// realm"
    DEAD_REALM = "401 asking for a token from a realm that refuses connections"


FAULT_MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + "c" * 64, "size": 2},
        "layers": [],
    },
    indent=3,
).encode()
"""What NO_DIGEST_HEADER serves on GET; indented oddly on purpose: the digest is of the
bytes as served, never of a re-serialisation."""


class FaultServer:
    """A registry that is broken in one way, on 127.0.0.1 with the test CA's certificate.

    `requests` lists (method, path) as they arrived. REFUSED holds a bound socket that
    does not listen, so the port stays ours and every connection is refused.
    """

    def __init__(self, tls: RegistryTls, mode: FaultMode) -> None:
        self.mode = mode
        self.requests: list[tuple[str, str]] = []
        self._server = _ThreadedServer(_FaultHandler, tls, self)
        self._closed_socket: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        if self._closed_socket is not None:
            return f"127.0.0.1:{self._closed_socket.getsockname()[1]}"
        return self._server.host

    def __enter__(self) -> Self:
        if self.mode is FaultMode.REFUSED:
            self._closed_socket = socket.socket()
            self._closed_socket.bind(("127.0.0.1", 0))
        else:
            self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._closed_socket is not None:
            self._closed_socket.close()
        else:
            self._server.stop()

    @property
    def stopping(self) -> threading.Event:
        return self._server.stopping

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))


class _FaultHandler(_QuietHandler):
    server: _TlsThreadingServer

    def do_HEAD(self) -> None:
        self._fault()

    def do_GET(self) -> None:
        self._fault()

    def _fault(self) -> None:
        fault: FaultServer = self.server.owner  # type: ignore[assignment]
        fault.record(self.command, self.path)
        mode = fault.mode
        good_digest = sha256_digest(FAULT_MANIFEST)
        if mode is FaultMode.SLOW:
            fault.stopping.wait(SLOW_SECONDS)
            self.answer(500)
        elif mode is FaultMode.SERVER_ERROR:
            self.answer(500, b'{"errors":[{"code":"UNKNOWN"}]}')
        elif mode is FaultMode.NO_CHALLENGE:
            self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
        elif mode is FaultMode.NOT_FOUND:
            self.answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        elif mode is FaultMode.GARBAGE:
            headers = {"Docker-Content-Digest": "sha256:not-hex", "Content-Type": OCI_MANIFEST}
            self.answer(200, b"<html>surprise</html>", headers)
        elif mode is FaultMode.NO_DIGEST_HEADER:
            self.answer(200, FAULT_MANIFEST, {"Content-Type": OCI_MANIFEST})
        elif mode is FaultMode.HEAD_NOT_ALLOWED:
            if self.command == "HEAD":
                self.answer(405)
            else:
                headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": good_digest}
                self.answer(200, FAULT_MANIFEST, headers)
        elif mode is FaultMode.WRONG_CONTENT_TYPE:
            headers = {"Docker-Content-Digest": good_digest, "Content-Type": "text/html"}
            self.answer(200, b"<html></html>", headers)
        elif mode is FaultMode.REDIRECT:
            self.answer(307, headers={"Location": f"https://127.0.0.1:{DEAD_PORT}/elsewhere"})
        elif mode in (FaultMode.PLAIN_HTTP_REALM, FaultMode.DEAD_REALM):
            scheme = "http" if mode is FaultMode.PLAIN_HTTP_REALM else "https"
            challenge = f'Bearer realm="{scheme}://127.0.0.1:{DEAD_PORT}/token",service="fault"'
            self.answer(401, headers={"WWW-Authenticate": challenge})


FaultFactory = Callable[[FaultMode], FaultServer]
"""What the `fault_server` fixture yields."""

"""OCI distribution client (urllib3): the digest a mirror serves for a tag, in one HEAD.

Pinning asks a mirror "which manifest does `repo:tag` name?" while an admission request
waits, so the client

- asks with HEAD and reads `Docker-Content-Digest`, and only GETs the manifest (at most
  `MAX_MANIFEST_BYTES`, hashed byte for byte) when a registry leaves that header out;
- accepts manifest lists and OCI indexes and answers with *their* digest, never a
  platform's, so a pinned image still runs on every architecture;
- starts anonymously and answers the registry's `WWW-Authenticate` challenge (Basic, or a
  Bearer token from the realm, cached per host and scope until shortly before it expires),
  and remembers per host what it answered, so later lookups send Basic at once or fetch a
  new repository's token straight from the remembered realm (`registry_auth`);
- never follows a redirect for a manifest (it would carry `Authorization` to another host,
  and a manifest's digest is the answer of the registry we were told to ask);
- never retries and never raises for a registry or network fault: the resolver owns the
  deadline and the fallbacks, so every fault becomes a `Lookup` with a named outcome and a
  one-line detail that never holds a credential or a token.

Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md .
Authentication lives in `registry_auth` (tokens and the per-host memory in
`registry_tokens`), the naming of faults and bounded reads in `registry_faults`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import ssl
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import HTTPError

from webhook.adapters.registry_auth import USER_AGENT, Authenticator
from webhook.adapters.registry_faults import (
    DeadlineExceededError,
    ServerFaultError,
    network_fault,
    read_limited,
    refusal,
    release,
    shorten,
)
from webhook.adapters.registry_tokens import Credential
from webhook.core.auth_challenges import parse_challenges
from webhook.core.image_reference import parse
from webhook.core.lookups import Lookup, LookupOutcome
from webhook.core.proxy_settings import proxy_settings
from webhook.core.registry_credentials import DOCKER_HUB, DockerConfig, canonical_host
from webhook.errors import InvalidReferenceError, RegistryConfigError

__all__ = [
    "ACCEPTED_MEDIA_TYPES",
    "DockerConfig",
    "Lookup",
    "LookupOutcome",
    "RegistryClient",
    "load_docker_config",
    "parse_challenges",
]

log = logging.getLogger(__name__)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPTED_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
"""Indexes first: a registry that can answer with the list must not pick one platform."""

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # what containers/image accepts for a manifest

_SHA256_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}", re.ASCII)
_DOCKER_HUB_API = "registry-1.docker.io"  # docker.io itself serves no /v2/ API


def load_docker_config(path: Path) -> DockerConfig:
    """A dockerconfigjson file (on OpenShift the global pull secret, mounted)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RegistryConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise RegistryConfigError(f"{path}: not UTF-8 text") from None
    return DockerConfig.from_json(text, origin=str(path))


class RegistryClient:
    """Asks mirrors for manifest digests; one connection pool for all of them.

    Safe to share between threads (urllib3's pools and the token cache lock). `clock` only
    ages cached tokens, so tests can expire one without waiting; deadlines always use the
    monotonic clock.
    """

    def __init__(
        self,
        credentials: DockerConfig | None = None,
        ca_bundle: Path | None = None,
        timeout: float = 2.0,
        pool_maxsize: int = 8,
        *,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
        insecure: Callable[[str], bool] | None = None,
    ) -> None:
        """`insecure(repository name)`: the node skips TLS verification there (Image/cluster
        `insecureRegistries`); so does the client, and it falls back to plain HTTP, as
        containers/image does for such registries. Nowhere else."""
        if timeout <= 0:
            raise ValueError(f"registry timeout must be positive, got {timeout}")
        self._credentials = credentials
        self._ca_bundle = ca_bundle
        self._timeout = timeout
        self._auth = Authenticator(credentials, clock, self._request)
        pools: dict[str, Any] = {
            "num_pools": 32,  # hosts whose connections are kept: mirrors plus token services
            "maxsize": pool_maxsize,
            "block": False,
            "ssl_context": _ssl_context(ca_bundle),
            "retries": False,
        }
        self._insecure = insecure or (lambda _name: False)
        self._proxy = proxy_settings(os.environ if environ is None else environ)
        self._pool, self._proxied = self._managers(pools)
        if insecure is not None:
            # Deliberately unverified, for the scopes the cluster declares insecure only.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        unverified = {**pools, "ssl_context": _unverified_context(), "cert_reqs": "CERT_NONE"}
        self._unverified_pool, self._unverified_proxied = self._managers(unverified)

    def _managers(
        self, pools: dict[str, Any]
    ) -> tuple[urllib3.PoolManager, urllib3.ProxyManager | None]:
        direct = urllib3.PoolManager(**pools)
        if self._proxy is None:
            return direct, None
        headers = dict(self._proxy.headers)
        return direct, urllib3.ProxyManager(self._proxy.url, proxy_headers=headers, **pools)

    def manifest_digest(self, pull_spec: str, timeout: float | None = None) -> Lookup:
        """The digest `host/repo:tag` (or `@digest`, to check it exists) names right now.

        Every registry, network or TLS fault is a `Lookup`; only a pull spec that is not
        one (no host, bad grammar: a caller's bug) raises `InvalidReferenceError`.
        """
        target = _Target.parse(pull_spec)
        target.insecure = self._insecure(target.name)
        budget = self._timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        try:
            try:
                lookup = self._lookup(target, deadline)
            except (HTTPError, OSError):
                if not target.insecure:
                    raise
                target.scheme = "http"  # an insecure registry may speak plain HTTP only
                lookup = self._lookup(target, deadline)
        except DeadlineExceededError:
            lookup = target.answer(
                LookupOutcome.TIMEOUT, f"no answer from {target.host} within {budget:g} s"
            )
        except ServerFaultError as fault:
            lookup = target.answer(*network_fault(fault.error, budget, fault.server))
        except (HTTPError, OSError) as error:
            lookup = target.answer(*network_fault(error, budget, target.host))
        log.debug("manifest %s: %s: %s", pull_spec, lookup.outcome.value, lookup.detail)
        return lookup

    def close(self) -> None:
        """Close every pooled connection; the client may still be used afterwards."""
        for manager in (self._pool, self._proxied, self._unverified_pool, self._unverified_proxied):
            if manager is not None:
                manager.clear()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        bundle = str(self._ca_bundle) if self._ca_bundle else "system"
        return (
            f"RegistryClient(credentials={self._credentials!r}, ca_bundle={bundle!r}, "
            f"timeout={self._timeout:g}, {self._auth!r})"
        )

    def _lookup(self, target: _Target, deadline: float) -> Lookup:
        authorization = self._auth.first(target, deadline)
        response = self._request(
            "HEAD", target.url, _headers(authorization), deadline, insecure=target.insecure
        )
        if response.status == 401:
            if authorization is not None:
                self._auth.refused(target)  # its new challenge is answered instead, once
            answer = self._auth.answer(
                target, response.headers.get("WWW-Authenticate", ""), deadline
            )
            if isinstance(answer, Lookup):
                return answer
            authorization = answer
            response = self._request(
                "HEAD", target.url, _headers(authorization), deadline, insecure=target.insecure
            )
        if response.status == 405:
            # HEAD is mandatory in the distribution spec, yet some proxies refuse it.
            return self._digest_by_get(target, authorization, deadline)
        if response.status != 200:
            return _refused(target, response.status, authorization)
        media_type = _media_type(response.headers.get("Content-Type"))
        if media_type is not None and media_type not in ACCEPTED_MEDIA_TYPES:
            return _wrong_media_type(target, media_type)
        announced = response.headers.get("Docker-Content-Digest")
        if announced is None:
            return self._digest_by_get(target, authorization, deadline)
        return _checked(target, announced.strip(), media_type, f"HTTP 200 from {target.host}")

    def _digest_by_get(
        self, target: _Target, authorization: Credential | None, deadline: float
    ) -> Lookup:
        """Some registries (and proxies in front of them) drop `Docker-Content-Digest`; the
        digest is then the hash of the manifest exactly as served."""
        response = self._request(
            "GET", target.url, _headers(authorization), deadline, True, insecure=target.insecure
        )
        try:
            if response.status != 200:
                error_body = read_limited(response, 64 * 1024, deadline) or b""
                if response.status != 404 and _is_unknown_manifest(error_body):
                    return target.answer(
                        LookupOutcome.NOT_FOUND, f"HTTP {response.status} from {target.host}"
                    )
                return _refused(target, response.status, authorization)
            body = read_limited(response, MAX_MANIFEST_BYTES, deadline)
        finally:
            release(response)
        if body is None:
            return target.answer(
                LookupOutcome.BAD_ANSWER,
                f"manifest from {target.host} is larger than {MAX_MANIFEST_BYTES} bytes",
            )
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            return target.answer(
                LookupOutcome.BAD_ANSWER, f"manifest from {target.host} is not a JSON object"
            )
        served = _media_type(response.headers.get("Content-Type"))
        media_type = served or document.get("mediaType")
        if media_type not in ACCEPTED_MEDIA_TYPES:
            return _wrong_media_type(target, str(media_type))
        algorithm = target.digest.split(":", 1)[0] if target.digest else "sha256"
        digest = f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"
        announced = response.headers.get("Docker-Content-Digest")
        if announced is not None and announced.strip() != digest:
            return target.answer(
                LookupOutcome.BAD_ANSWER,
                f"{target.host} announced digest {shorten(announced)} for a manifest "
                f"whose bytes hash to {digest}",
            )
        detail = f"HTTP 200 from {target.host} (digest of the manifest body)"
        return _checked(target, digest, str(media_type), detail)

    def _request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        deadline: float,
        stream: bool = False,
        insecure: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceededError
        pool, proxied = (
            (self._unverified_pool, self._unverified_proxied)
            if insecure
            else (self._pool, self._proxied)
        )
        if proxied is not None and self._proxy is not None:
            host = urlsplit(url).hostname or ""
            pool = pool if self._proxy.bypasses(host) else proxied
        return pool.request(
            method,
            url,
            headers=dict(headers),
            timeout=urllib3.Timeout(total=remaining),
            retries=False,
            redirect=False,
            preload_content=not stream,
        )


class _Target:
    """A pull spec split into what the request needs; built by `parse` only."""

    __slots__ = ("digest", "host", "insecure", "pull_spec", "reference", "repository", "scheme")

    def __init__(self, pull_spec: str, host: str, repository: str, digest: str | None, tag: str):
        self.pull_spec = pull_spec
        self.host = host
        self.repository = repository
        self.digest = digest
        self.reference = digest or tag
        self.insecure = False
        self.scheme = "https"

    @classmethod
    def parse(cls, pull_spec: str) -> _Target:
        reference = parse(pull_spec)
        if not reference.domain:
            raise InvalidReferenceError(pull_spec, "a pull spec must name its registry host")
        # CRI-O pulls `name:tag@digest` by the digest; no tag at all means `latest`.
        reference = reference.without_tag_when_digested().with_default_tag()
        return cls(
            pull_spec, reference.domain, reference.path, reference.digest, reference.tag or ""
        )

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repository}"

    @property
    def scope(self) -> str:
        return f"repository:{self.repository}:pull"

    @property
    def url(self) -> str:
        api = _DOCKER_HUB_API if canonical_host(self.host) == DOCKER_HUB else self.host
        return f"{self.scheme}://{api}/v2/{self.repository}/manifests/{self.reference}"

    def answer(
        self,
        outcome: LookupOutcome,
        detail: str,
        digest: str | None = None,
        media_type: str | None = None,
    ) -> Lookup:
        return Lookup(self.pull_spec, outcome, digest, media_type, detail)


def _headers(authorization: Credential | None) -> dict[str, str]:
    # identity: the digest is of the bytes as stored, so nothing may re-encode them.
    headers = {"Accept": ", ".join(ACCEPTED_MEDIA_TYPES), "Accept-Encoding": "identity"}
    headers["User-Agent"] = USER_AGENT
    if authorization is not None:
        headers["Authorization"] = authorization.header
    return headers


def _checked(target: _Target, digest: str, media_type: str | None, detail: str) -> Lookup:
    if target.digest is not None and digest != target.digest:
        return target.answer(
            LookupOutcome.BAD_ANSWER,
            f"{target.host} answered digest {shorten(digest)} for {target.digest}",
        )
    if target.digest is None and not _SHA256_DIGEST_RE.fullmatch(digest):
        return target.answer(
            LookupOutcome.BAD_ANSWER,
            f"invalid Docker-Content-Digest {shorten(digest)} from {target.host}",
        )
    return target.answer(LookupOutcome.FOUND, detail, digest, media_type)


def _refused(target: _Target, status: int, authorization: Credential | None) -> Lookup:
    shown = authorization.shown if authorization else None
    return target.answer(*refusal(status, target.host, shown))


def _wrong_media_type(target: _Target, media_type: str) -> Lookup:
    return target.answer(
        LookupOutcome.BAD_ANSWER,
        f"{target.host} answered with media type {shorten(media_type)}, not a manifest "
        "or index this client accepts",
    )


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _is_unknown_manifest(body: bytes) -> bool:
    """The distribution error codes for "no such tag or repository", whatever the status."""
    try:
        document = json.loads(body)
    except ValueError:
        return False
    errors = document.get("errors") if isinstance(document, dict) else None
    codes = {error.get("code") for error in errors or [] if isinstance(error, dict)}
    return bool(codes & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"})


def _unverified_context() -> ssl.SSLContext:
    """For insecure registries only: TLS without certificate or name checks."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """TLS 1.2+, verifying names; trusting the system CAs plus `ca_bundle`, as OpenShift's
    additional trusted CAs add to the system trust rather than replace it (a mirror may
    well carry a certificate from a public CA)."""
    if ca_bundle is None:
        context = ssl.create_default_context()
    else:
        try:
            pem = ca_bundle.read_bytes()
        except OSError as error:
            raise RegistryConfigError(
                f"{ca_bundle}: cannot read CA bundle: {error.strerror or error}"
            ) from None
        if b"-----BEGIN CERTIFICATE-----" not in pem:
            raise RegistryConfigError(
                f"{ca_bundle}: no PEM certificate (-----BEGIN CERTIFICATE-----) in CA bundle"
            )
        try:
            context = ssl.create_default_context(cadata=pem.decode("ascii"))
            context.load_default_certs()
        except (ssl.SSLError, ValueError) as error:
            # OpenSSL's words without its source location: "no start line: cadata does not
            # contain a certificate", "bad base64 decode", ...
            words = str(error.args[-1] if error.args else error)
            reason = getattr(error, "reason", None) or words.split(" (_ssl.c")[0]
            raise RegistryConfigError(
                f"{ca_bundle}: not a usable PEM CA bundle: {reason}"
            ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context

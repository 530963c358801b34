"""What went wrong talking to a registry, in words for the person reading the warning.

urllib3 wraps the fault that matters (a certificate that does not verify, a refused
connection, a name that does not resolve) in its own exceptions, in `args` and in
`__cause__`; these helpers dig it out and name the server, never a credential. Bodies are
read here too, bounded in size and time, so a slow or endless answer is a fault as well.
"""

from __future__ import annotations

import ssl
import time
from typing import TypeVar

import urllib3
from urllib3.exceptions import (
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from webhook.core.lookups import LookupOutcome

Fault = tuple[LookupOutcome, str]
"""(outcome, one-line detail) of a lookup that failed."""


class DeadlineExceededError(Exception):
    """The lookup's time ran out between two requests or while reading a body."""


class ServerFaultError(Exception):
    """A network fault at a server other than the registry (the token service)."""

    def __init__(self, server: str, error: HTTPError | OSError) -> None:
        super().__init__(server)
        self.server = server
        self.error = error


def read_limited(response: urllib3.BaseHTTPResponse, limit: int, deadline: float) -> bytes | None:
    """At most `limit` bytes of the body (None if it is longer), within the deadline."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        return None
    chunks: list[bytes] = []
    total = 0
    while True:
        if time.monotonic() >= deadline:
            raise DeadlineExceededError
        chunk = response.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)


def release(response: urllib3.BaseHTTPResponse) -> None:
    """Gives the connection back. A body read to its end already has; one left unread
    cannot carry the next request, so it is closed before its slot is returned."""
    if response.connection is not None:
        response.close()
        response.release_conn()


def network_fault(error: BaseException, budget: float, server: str) -> Fault:
    """A network or TLS fault talking to `server` within `budget` seconds."""
    unreachable, timeout = LookupOutcome.UNREACHABLE, LookupOutcome.TIMEOUT
    verification = _find_cause(error, ssl.SSLCertVerificationError)
    if verification is not None:
        reason = verification.verify_message or verification.reason or str(verification)
        return unreachable, f"TLS certificate verification failed for {server}: {reason}"
    if isinstance(error, SSLError | ssl.SSLError):
        tls_error = _find_cause(error, ssl.SSLError)
        reason = (tls_error.reason if tls_error is not None else None) or _reason(error)
        return unreachable, f"TLS handshake with {server} failed: {reason}"
    if isinstance(error, NameResolutionError):
        return unreachable, f"cannot resolve {server}: {_reason(error)}"
    if isinstance(error, NewConnectionError):  # before timeouts: it subclasses one
        return unreachable, f"cannot connect to {server}: {_reason(error)}"
    if isinstance(error, Urllib3TimeoutError | TimeoutError):
        return timeout, f"no answer from {server} within {budget:g} s"
    if isinstance(error, ProtocolError):
        return unreachable, f"connection to {server} broke: {_reason(error)}"
    return unreachable, f"{type(error).__name__} talking to {server}"


def refusal(status: int, host: str, credential_shown: str | None) -> Fault:
    """A registry's non-200 answer to a manifest request; `credential_shown` names what
    was sent (never the credential itself)."""
    where = f"HTTP {status} from {host}"
    if status == 404:
        return LookupOutcome.NOT_FOUND, where
    if status in (401, 403):
        how = f"with {credential_shown}" if credential_shown else "without credentials"
        return LookupOutcome.UNAUTHORIZED, f"{where} {how}"
    if 300 <= status < 400:
        return LookupOutcome.BAD_ANSWER, f"{where}: redirects are not followed for manifests"
    return LookupOutcome.BAD_ANSWER, where


def shorten(text: str, limit: int = 80) -> str:
    """A registry's header as it came, cut short: it is input, and may be anything."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _causes(error: BaseException) -> list[BaseException]:
    """The error and what it wraps (urllib3 keeps causes in `args` and `__cause__`)."""
    seen: list[BaseException] = []
    pending = [error]
    while pending and len(seen) < 16:
        current = pending.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return seen


_E = TypeVar("_E", bound=BaseException)


def _find_cause(error: BaseException, kind: type[_E]) -> _E | None:
    return next((cause for cause in _causes(error) if isinstance(cause, kind)), None)


def _reason(error: BaseException) -> str:
    for cause in _causes(error):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    innermost = _causes(error)[-1]
    return str(innermost) or type(innermost).__name__

"""Registry credentials as the client sends them: Basic from a pull secret, Bearer tokens
from a token service, cached per (host, scope) until shortly before they expire; and
per host the challenge it last asked us to answer (`ChallengeMemory`), so a later lookup
answers it at once instead of being refused anonymously first.

Spec: https://distribution.github.io/distribution/spec/auth/token/ . A credential's header
value is never part of its repr, so a logged object cannot leak it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from webhook.core.auth_challenges import HostChallenge

MAX_TOKEN_BYTES = 1024 * 1024
DEFAULT_TOKEN_SECONDS = 60.0  # the token spec's default when `expires_in` is absent
TOKEN_MARGIN_SECONDS = 10.0  # a token must outlive the request it is sent with
MAX_CACHED_TOKENS = 1024
MAX_REMEMBERED_HOSTS = 1024

HEADER_VALUE_RE = re.compile(r"[\x21-\x7e]+", re.ASCII)
"""Printable, no spaces: what may go into a header value (a token) or a realm URL."""


@dataclass(frozen=True, slots=True)
class Credential:
    """An `Authorization` header value, and how to name it in a detail without showing it."""

    header: str = field(repr=False)
    shown: str


TokenKey = tuple[str, str]
"""(lower-case host, scope)."""


class TokenCache:
    """Bearer tokens per (host, scope), dropped `TOKEN_MARGIN_SECONDS` before they expire."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[TokenKey, tuple[Credential, float]] = {}

    def get(self, key: TokenKey) -> Credential | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] <= self._clock():
                del self._entries[key]
                return None
            return entry[0]

    def put(self, key: TokenKey, credential: Credential, lifetime: float) -> None:
        now = self._clock()
        expires = now + lifetime - min(TOKEN_MARGIN_SECONDS, lifetime / 2)
        with self._lock:
            if len(self._entries) >= MAX_CACHED_TOKENS:
                self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
            if len(self._entries) >= MAX_CACHED_TOKENS:
                del self._entries[next(iter(self._entries))]  # the oldest insertion
            self._entries[key] = (credential, expires)

    def discard(self, key: TokenKey) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __repr__(self) -> str:
        return f"<token cache: {len(self._entries)} tokens>"


class ChallengeMemory:
    """The challenge each host (lower-case host:port, as token keys) last asked us to
    answer. Holds no secret: a scheme, and a Bearer realm and service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: dict[str, HostChallenge] = {}

    def get(self, host: str) -> HostChallenge | None:
        with self._lock:
            return self._hosts.get(host)

    def remember(self, host: str, challenge: HostChallenge) -> None:
        with self._lock:
            self._hosts.pop(host, None)
            if len(self._hosts) >= MAX_REMEMBERED_HOSTS:
                del self._hosts[next(iter(self._hosts))]  # the oldest insertion
            self._hosts[host] = challenge

    def forget(self, host: str) -> None:
        with self._lock:
            self._hosts.pop(host, None)

    def __len__(self) -> int:
        return len(self._hosts)

    def __repr__(self) -> str:
        return f"<challenge memory: {len(self._hosts)} hosts>"


def basic_authorization(credentials: tuple[str, str]) -> str:
    user, password = credentials
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def parse_token(body: bytes) -> tuple[str, float] | None:
    """(token, lifetime in seconds) from a token service's answer, or None if it has none."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not HEADER_VALUE_RE.fullmatch(token):
        return None
    expires_in = document.get("expires_in")
    lifetime = DEFAULT_TOKEN_SECONDS
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        lifetime = float(expires_in)
    return token, lifetime

"""How the registry client authenticates, host by host (urllib3 through the client's
pools): it answers a registry's `WWW-Authenticate` challenge with Basic from the pull
secret or a Bearer token from the realm, as the distribution token spec and
containers/image do, and remembers per host what it answered.

A host is asked anonymously until it challenges, so no credential goes where it was not
asked for. Afterwards (core `auth_challenges.first_answer` decides) a Basic host gets
Basic with the first request (one round trip instead of two), and a Bearer host's token
for a new repository comes straight from the remembered realm (token and HEAD instead of
HEAD, token, HEAD). A remembered way that is refused, or a token service that fails, is
forgotten, and the lookup starts over once from the host's new challenge.

Spec: https://distribution.github.io/distribution/spec/auth/token/ . Tokens and the
per-host memory live in `registry_tokens`; nothing here logs or shows a credential.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import SplitResult, urlencode, urlsplit

import urllib3
from urllib3.exceptions import HTTPError

from webhook.adapters.registry_faults import ServerFaultError, read_limited, release
from webhook.adapters.registry_tokens import (
    HEADER_VALUE_RE,
    MAX_TOKEN_BYTES,
    ChallengeMemory,
    Credential,
    TokenCache,
    basic_authorization,
    parse_token,
)
from webhook.core.auth_challenges import (
    FirstAnswer,
    first_answer,
    host_challenge,
    parse_challenges,
)
from webhook.core.lookups import Lookup, LookupOutcome
from webhook.core.registry_credentials import DockerConfig

log = logging.getLogger(__name__)

USER_AGENT = "idms-guard"


class AuthTarget(Protocol):
    """What authentication needs of a lookup's target (the client's `_Target`)."""

    host: str
    insecure: bool

    @property
    def name(self) -> str: ...

    @property
    def scope(self) -> str: ...

    def answer(self, outcome: LookupOutcome, detail: str) -> Lookup: ...


Requester = Callable[[str, str, Mapping[str, str], float, bool, bool], urllib3.BaseHTTPResponse]
"""The client's request function (method, url, headers, deadline, stream, insecure): its
pools, proxy and deadline."""


class Authenticator:
    """The `Authorization` a lookup sends, for one client; thread-safe through the
    locks of the token cache and the per-host memory."""

    def __init__(
        self, credentials: DockerConfig | None, clock: Callable[[], float], request: Requester
    ) -> None:
        self._credentials = credentials
        self._request = request
        self._tokens = TokenCache(clock)
        self._hosts = ChallengeMemory()

    def first(self, target: AuthTarget, deadline: float) -> Credential | None:
        """What the first request carries, from what the host asked for before. A
        remembered realm that fails is forgotten: the host is then asked anonymously, as
        on the first lookup (unless the realm's fault used up the time)."""
        host = target.host.lower()
        cached = self._tokens.get((host, target.scope))
        remembered = self._hosts.get(host)
        credentials = self._credentials_for(target)
        step = first_answer(
            remembered, token_cached=cached is not None, has_credentials=credentials is not None
        )
        if step is FirstAnswer.CACHED_TOKEN:
            return cached
        if step is FirstAnswer.BASIC and credentials is not None:
            return _basic(credentials)
        if step is not FirstAnswer.TOKEN_FROM_REALM or remembered is None:
            return None
        try:
            answer = self._bearer(target, remembered.bearer_parameters(), credentials, deadline)
        except ServerFaultError:
            self._hosts.forget(host)
            if time.monotonic() >= deadline:
                raise
            return None
        if isinstance(answer, Lookup):
            self._hosts.forget(host)
            return None
        return answer

    def refused(self, target: AuthTarget) -> None:
        """What was sent got a 401 (revoked, expired early, or the host changed how it
        authenticates): forget it, so the host's new challenge is answered instead."""
        self._tokens.discard((target.host.lower(), target.scope))
        self._hosts.forget(target.host.lower())

    def answer(self, target: AuthTarget, header: str, deadline: float) -> Credential | Lookup:
        """The `Authorization` value that answers a 401, or why there is none; a
        challenge answered is remembered for the host."""
        challenges = parse_challenges(header)
        chosen = host_challenge(challenges)
        credentials = self._credentials_for(target)
        if chosen is None:
            return target.answer(
                LookupOutcome.UNAUTHORIZED,
                f"HTTP 401 from {target.host} without a usable WWW-Authenticate challenge",
            )
        if chosen.scheme == "bearer":
            answer = self._bearer(target, challenges["bearer"], credentials, deadline)
        elif credentials is None:
            return target.answer(
                LookupOutcome.UNAUTHORIZED,
                f"HTTP 401 from {target.host}: it asks for basic authentication and "
                f"no credentials cover {target.name}",
            )
        else:
            answer = _basic(credentials)
        if isinstance(answer, Credential):
            self._hosts.remember(target.host.lower(), chosen)
        return answer

    def __repr__(self) -> str:
        return f"tokens={self._tokens!r}, hosts={self._hosts!r}"

    def _credentials_for(self, target: AuthTarget) -> tuple[str, str] | None:
        return self._credentials.credentials_for(target.name) if self._credentials else None

    def _bearer(
        self,
        target: AuthTarget,
        challenge: Mapping[str, str],
        credentials: tuple[str, str] | None,
        deadline: float,
    ) -> Credential | Lookup:
        realm = challenge.get("realm", "")
        parts, service = _realm_parts(realm)
        if parts.scheme != "https" or not parts.hostname or not HEADER_VALUE_RE.fullmatch(realm):
            # A plain-http realm would carry the pull secret in clear; refuse it, and any
            # realm that http.client would refuse with an exception of its own.
            return target.answer(
                LookupOutcome.BAD_ANSWER,
                f"{target.host} names a token realm that is not a plain https URL",
            )
        scope = challenge.get("scope") or target.scope
        query = urlencode(
            [
                (name, value)
                for name, value in (("service", challenge.get("service")), ("scope", scope))
                if value
            ]
        )
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if credentials is not None:
            headers["Authorization"] = basic_authorization(credentials)
        try:
            url = f"{realm}{'&' if parts.query else '?'}{query}"
            response = self._request("GET", url, headers, deadline, True, target.insecure)
            try:
                ok = response.status == 200
                body = read_limited(response, MAX_TOKEN_BYTES, deadline) if ok else None
            finally:
                release(response)
        except (HTTPError, OSError) as error:
            raise ServerFaultError(service, error) from None
        if response.status in (401, 403):
            asked = "the credentials" if credentials else "an anonymous request"
            return target.answer(
                LookupOutcome.UNAUTHORIZED,
                f"HTTP {response.status} from {service}: it refused {asked} for {target.host}",
            )
        token = parse_token(body) if body is not None else None
        if token is None:
            detail = (
                f"HTTP {response.status} from {service}" if not ok else f"{service} sent no token"
            )
            return target.answer(LookupOutcome.BAD_ANSWER, detail)
        log.debug("bearer token for %s %s from %s", target.host, target.scope, service)
        shown = "a bearer token" if credentials else "an anonymous bearer token"
        credential = Credential(f"Bearer {token[0]}", shown)
        self._tokens.put((target.host.lower(), target.scope), credential, token[1])
        return credential


def _realm_parts(realm: str) -> tuple[SplitResult, str]:
    """The realm URL split, and the token service named for details."""
    try:
        parts = urlsplit(realm)
        return parts, f"token service {parts.hostname}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return urlsplit(""), "token service"


def _basic(credentials: tuple[str, str]) -> Credential:
    return Credential(basic_authorization(credentials), "basic credentials")

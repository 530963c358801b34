"""The client remembers per host how it wants to be authenticated, counted in real round
trips: each registry (Debian's Distribution, htpasswd or token auth) sits behind a
`CountingRelay` that writes down every request it passes on, and the token service
counts its own calls.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.counting_relay import CountingRelay, Relayed
from tests.support.registry import (
    ClientFactory,
    RegistryServer,
    RegistryTls,
    TokenServer,
    push_image,
)
from webhook.adapters.registry import DockerConfig, Lookup, LookupOutcome, RegistryClient
from webhook.adapters.registry_tokens import MAX_REMEMBERED_HOSTS, ChallengeMemory
from webhook.core.auth_challenges import HostChallenge

RelayFactory = Callable[[RegistryServer], CountingRelay]


@pytest.fixture
def relay(registry_tls: RegistryTls) -> Iterator[RelayFactory]:
    """`relay(registry)` starts a counting relay in front of it; all stop after the test."""
    with ExitStack() as stack:
        yield lambda registry: stack.enter_context(CountingRelay(registry_tls, registry.host))


def credentials(registry: RegistryServer, *hosts: str) -> DockerConfig:
    """The registry's user, under each of `hosts` (the relays the client talks to)."""
    user, password = next(iter(registry.users.items()))
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return DockerConfig.from_json(json.dumps({"auths": {host: {"auth": auth} for host in hosts}}))


def head(repository: str, authorization: str | None) -> Relayed:
    """The manifest HEAD of `repository:v1`, as the relay records it."""
    return Relayed("HEAD", f"/v2/{repository}/manifests/v1", authorization)


@dataclass
class SecondRepository:
    """A client that has looked up one repository on a host (a fresh relay in front of
    `registry`), and a second repository there, pushed but not asked for yet."""

    mirror: CountingRelay
    client: RegistryClient
    repository: str
    digest: str
    asked_before: int

    @classmethod
    def after_a_first(
        cls, registry: RegistryServer, relay: RelayFactory, make: ClientFactory, name: str
    ) -> SecondRepository:
        first, second = f"acme/{name}-first", f"acme/{name}-second"
        push_image(registry, first, "v1", layer_bytes=first.encode())
        digest = push_image(registry, second, "v1", layer_bytes=second.encode())
        mirror = relay(registry)
        client = make(credentials(registry, mirror.host))
        client.manifest_digest(f"{mirror.host}/{first}:v1")
        return cls(mirror, client, second, digest, len(mirror.requests))

    def ask(self) -> tuple[Lookup, list[Relayed]]:
        """The second repository's lookup, and the requests the registry got for it."""
        lookup = self.client.manifest_digest(f"{self.mirror.host}/{self.repository}:v1")
        return lookup, self.mirror.since(self.asked_before)


# --- round trips ---------------------------------------------------------------------


def test_a_basic_host_is_sent_basic_at_once_for_a_second_repository(
    htpasswd_registry: RegistryServer, relay: RelayFactory, registry_client: ClientFactory
) -> None:
    second = SecondRepository.after_a_first(htpasswd_registry, relay, registry_client, "basic")
    lookup, requests = second.ask()
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, second.digest)
    assert requests == [head(second.repository, "basic")]


def test_a_token_host_costs_one_token_request_and_one_head_for_a_second_repository(
    token_registry: RegistryServer,
    token_server: TokenServer,
    relay: RelayFactory,
    registry_client: ClientFactory,
) -> None:
    second = SecondRepository.after_a_first(token_registry, relay, registry_client, "token")
    tokens_before = token_server.requests
    lookup, requests = second.ask()
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, second.digest)
    assert requests == [head(second.repository, "bearer")]
    assert token_server.requests - tokens_before == 1


# --- no credential where it was not asked for ----------------------------------------


def test_the_first_request_to_a_host_carries_no_credentials(
    htpasswd_registry: RegistryServer, relay: RelayFactory, registry_client: ClientFactory
) -> None:
    push_image(htpasswd_registry, "acme/first-contact", "v1", layer_bytes=b"first contact")
    mirror = relay(htpasswd_registry)
    client = registry_client(credentials(htpasswd_registry, mirror.host))
    lookup = client.manifest_digest(f"{mirror.host}/acme/first-contact:v1")
    assert lookup.outcome is LookupOutcome.FOUND
    assert mirror.requests == [
        head("acme/first-contact", None),
        head("acme/first-contact", "basic"),
    ]


def test_a_remembered_basic_challenge_is_answered_at_once_on_that_host_only(
    htpasswd_registry: RegistryServer, relay: RelayFactory, registry_client: ClientFactory
) -> None:
    push_image(htpasswd_registry, "acme/two-hosts", "v1", layer_bytes=b"two hosts")
    challenged, other = relay(htpasswd_registry), relay(htpasswd_registry)
    client = registry_client(credentials(htpasswd_registry, challenged.host, other.host))
    client.manifest_digest(f"{challenged.host}/acme/two-hosts:v1")
    lookup = client.manifest_digest(f"{other.host}/acme/two-hosts:v1")
    assert lookup.outcome is LookupOutcome.FOUND
    assert other.requests[0] == head("acme/two-hosts", None)


# --- what stops working is forgotten -------------------------------------------------


def test_a_remembered_basic_that_is_refused_falls_back_and_is_unauthorized_as_before(
    tmp_path: Path,
    registry_tls: RegistryTls,
    registry_users: dict[str, str],
    relay: RelayFactory,
    registry_client: ClientFactory,
) -> None:
    with RegistryServer(tmp_path, registry_tls, "htpasswd", users=registry_users) as registry:
        push_image(registry, "acme/rotated", "v1", layer_bytes=b"rotated")
        mirror = relay(registry)
        outdated = credentials(registry, mirror.host)
        client = registry_client(outdated)
        spec = f"{mirror.host}/acme/rotated:v1"
        assert client.manifest_digest(spec).outcome is LookupOutcome.FOUND
        registry.change_passwords({user: "rotated-pw" for user in registry_users})
        before = len(mirror.requests)
        lookup = client.manifest_digest(spec)
        fallback = mirror.since(before)
        as_before = registry_client(outdated).manifest_digest(spec)  # a client new to the host
    assert lookup.outcome is LookupOutcome.UNAUTHORIZED
    assert lookup.detail == as_before.detail
    assert fallback == [head("acme/rotated", "basic")] * 2


def test_a_remembered_token_service_that_fails_is_forgotten_and_the_host_asked_anew(
    token_registry: RegistryServer,
    token_server: TokenServer,
    relay: RelayFactory,
    registry_client: ClientFactory,
) -> None:
    second = SecondRepository.after_a_first(token_registry, relay, registry_client, "realm")
    tokens_before = token_server.requests
    token_server.failures = 1
    try:
        lookup, requests = second.ask()
    finally:
        token_server.failures = 0
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, second.digest)
    assert requests == [head(second.repository, None), head(second.repository, "bearer")]
    assert token_server.requests - tokens_before == 2


# --- the memory ----------------------------------------------------------------------


def test_the_challenge_memory_keeps_at_most_its_bound_dropping_the_oldest_host() -> None:
    memory = ChallengeMemory()
    for number in range(MAX_REMEMBERED_HOSTS + 1):
        memory.remember(f"mirror-{number}.corp:5000", HostChallenge("basic"))
    assert len(memory) == MAX_REMEMBERED_HOSTS
    assert memory.get("mirror-0.corp:5000") is None
    assert memory.get(f"mirror-{MAX_REMEMBERED_HOSTS}.corp:5000") == HostChallenge("basic")

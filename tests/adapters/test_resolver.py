"""Tag → digest resolution: cache, single flight, parallelism and the deadline.

The registry is replaced by a function here (the resolver takes one); the real registry
client is tested against real registries in test_registry.py and test_pinning_e2e.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from webhook.adapters.resolver import TagResolver
from webhook.core.lookups import Lookup, LookupOutcome
from webhook.core.presence import CachePolicy

DIGEST = "sha256:" + "f" * 64


class Registry:
    """A lookup function with answers per spec, a call log, and an optional gate."""

    def __init__(self, answers: dict[str, LookupOutcome]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()

    def __call__(self, spec: str, timeout: float) -> Lookup:
        with self.lock:
            self.calls.append(spec)
        if not self.gate.wait(timeout=10):
            return Lookup(spec, LookupOutcome.TIMEOUT)
        outcome = self.answers.get(spec, LookupOutcome.NOT_FOUND)
        digest = DIGEST if outcome is LookupOutcome.FOUND else None
        return Lookup(spec, outcome, digest)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry() -> Registry:
    return Registry({"m1/app:1": LookupOutcome.NOT_FOUND, "m2/app:1": LookupOutcome.FOUND})


@pytest.fixture
def resolver(registry: Registry, clock: Clock) -> Iterator[TagResolver]:
    policy = CachePolicy(tag_found_seconds=300, absent_seconds=15, tag_failed_seconds=15)
    resolver = TagResolver(registry, policy, clock=clock)
    yield resolver
    registry.gate.set()
    resolver.close()


def test_the_first_mirror_that_has_the_tag_wins(resolver: TagResolver) -> None:
    (result,) = resolver.resolve([("app:1", ["m1/app:1", "m2/app:1", "m3/app:1"])], timeout=5)
    assert result.digest == DIGEST
    assert [a.pull_spec for a in result.attempts] == ["m1/app:1", "m2/app:1"]


def test_answers_are_cached(resolver: TagResolver, registry: Registry) -> None:
    resolver.resolve([("app:1", ["m2/app:1"])], timeout=5)
    resolver.resolve([("app:1", ["m2/app:1"])], timeout=5)
    assert registry.calls == ["m2/app:1"]


def test_cached_answers_need_no_lookup_thread(resolver: TagResolver) -> None:
    images = [("app:1", ["m1/app:1", "m2/app:1"]), ("gone:1", ["m1/app:1"])]
    first = resolver.resolve(images, timeout=5)
    resolver.close()  # a hand-off to a walker would now raise
    assert resolver.resolve(images, timeout=5) == first
    assert [r.digest for r in first] == [DIGEST, None]


def test_a_found_digest_expires_after_the_ttl(
    resolver: TagResolver, registry: Registry, clock: Clock
) -> None:
    resolver.resolve([("app:1", ["m2/app:1"])], timeout=5)
    clock.now += 301
    resolver.resolve([("app:1", ["m2/app:1"])], timeout=5)
    assert registry.calls == ["m2/app:1", "m2/app:1"]


def test_a_failure_is_remembered_only_briefly(
    resolver: TagResolver, registry: Registry, clock: Clock
) -> None:
    resolver.resolve([("app:1", ["m1/app:1"])], timeout=5)
    clock.now += 10
    resolver.resolve([("app:1", ["m1/app:1"])], timeout=5)
    clock.now += 10
    resolver.resolve([("app:1", ["m1/app:1"])], timeout=5)
    assert registry.calls == ["m1/app:1", "m1/app:1"]


def test_flush_forgets_every_answer(resolver: TagResolver, registry: Registry) -> None:
    resolver.resolve([("app:1", ["m2/app:1"])], timeout=5)
    resolver.flush()
    resolver.resolve([("app:1", ["m2/app:1"])], timeout=5)
    assert len(registry.calls) == 2


def test_concurrent_requests_for_one_tag_make_one_lookup(
    resolver: TagResolver, registry: Registry
) -> None:
    registry.gate.clear()
    results = []

    def ask() -> None:
        results.extend(resolver.resolve([("app:1", ["m2/app:1"])], timeout=10))

    askers = [threading.Thread(target=ask) for _ in range(8)]
    for asker in askers:
        asker.start()
    registry.gate.set()
    for asker in askers:
        asker.join(timeout=10)
    assert registry.calls == ["m2/app:1"]
    assert [r.digest for r in results] == [DIGEST] * 8


def test_a_pods_images_are_looked_up_in_parallel(registry: Registry, clock: Clock) -> None:
    registry.gate.clear()
    registry.answers = {f"m/app{n}:1": LookupOutcome.FOUND for n in range(5)}
    resolver = TagResolver(registry, clock=clock, workers=5)
    started = threading.Thread(
        target=resolver.resolve,
        args=([(f"app{n}", [f"m/app{n}:1"]) for n in range(5)], 10),
    )
    started.start()
    try:
        for _ in range(100):
            if len(registry.calls) == 5:
                break
            threading.Event().wait(0.05)
        assert len(registry.calls) == 5  # all five asked before any answered
    finally:
        registry.gate.set()
        started.join(timeout=10)
        resolver.close()


def test_the_deadline_answers_unresolved_instead_of_waiting(
    registry: Registry,
) -> None:
    registry.gate.clear()
    resolver = TagResolver(registry)
    try:
        (result,) = resolver.resolve([("app:1", ["m2/app:1"])], timeout=0.2)
        assert result.digest is None
        assert result.reason == "registry lookup timed out"
    finally:
        registry.gate.set()
        resolver.close()


def test_a_lookup_function_that_raises_becomes_a_bad_answer(clock: Clock) -> None:
    def broken(spec: str, timeout: float) -> Lookup:
        raise RuntimeError("bug")

    resolver = TagResolver(broken, clock=clock)
    try:
        (result,) = resolver.resolve([("app:1", ["m/app:1"])], timeout=5)
    finally:
        resolver.close()
    assert result.attempts[0].outcome is LookupOutcome.BAD_ANSWER
    assert result.reason == "bad-answer at m"


def test_a_tag_missing_everywhere_says_so(resolver: TagResolver) -> None:
    (result,) = resolver.resolve([("app:1", ["m1/app:1"])], timeout=5)
    assert result.reason == "tag not found in the mirrors"


def test_answers_found_with_a_pods_pull_secrets_are_not_served_without_them(
    clock: Clock,
) -> None:
    def global_lookup(spec: str, timeout: float) -> Lookup:
        return Lookup(spec, LookupOutcome.UNAUTHORIZED)

    def with_secrets(secrets: object) -> Any:
        return lambda spec, timeout: Lookup(spec, LookupOutcome.FOUND, DIGEST)

    resolver = TagResolver(global_lookup, clock=clock, scoped_lookup=with_secrets)
    try:
        (scoped,) = resolver.resolve([("app:1", ["m/app:1"])], 5, pull_secrets=["{}"])
        (unscoped,) = resolver.resolve([("app:1", ["m/app:1"])], 5)
    finally:
        resolver.close()
    assert scoped.digest == DIGEST
    assert unscoped.digest is None
    assert unscoped.attempts[0].outcome is LookupOutcome.UNAUTHORIZED


def test_pull_secrets_are_ignored_without_a_scoped_lookup(
    resolver: TagResolver, registry: Registry
) -> None:
    (result,) = resolver.resolve([("app:1", ["m2/app:1"])], 5, pull_secrets=["{}"])
    assert result.digest == DIGEST


def test_a_lookup_queued_past_every_callers_deadline_is_not_made(registry: Registry) -> None:
    """A slow mirror must not clog the pool: queued work nobody waits for is dropped."""
    registry.gate.clear()
    registry.answers = {f"m/app{n}:1": LookupOutcome.FOUND for n in range(3)}
    resolver = TagResolver(registry, workers=1)  # two lookup threads
    try:
        # The deadline only has to outlast two threads picking up their lookups, even on a
        # loaded machine; the third stays queued behind the closed gate either way.
        results = resolver.resolve([(f"app{n}", [f"m/app{n}:1"]) for n in range(3)], 1.0)
        assert [r.reason for r in results] == ["registry lookup timed out"] * 3
        registry.gate.set()
        for _ in range(100):
            if len(registry.calls) == 2 and not resolver._in_flight:
                break
            threading.Event().wait(0.05)
        assert sorted(registry.calls) == ["m/app0:1", "m/app1:1"]
    finally:
        registry.gate.set()
        resolver.close()


def test_lookups_use_the_registry_timeout_not_the_callers_leftover(clock: Clock) -> None:
    seen: list[float] = []

    def lookup(spec: str, timeout: float) -> Lookup:
        seen.append(timeout)
        return Lookup(spec, LookupOutcome.FOUND, DIGEST)

    resolver = TagResolver(lookup, clock=clock, lookup_timeout=1.5)
    try:
        resolver.resolve([("app:1", ["m/app:1"])], 0.4)
    finally:
        resolver.close()
    assert seen == [1.5]


def test_a_manifest_found_by_digest_is_kept_for_hours(
    resolver: TagResolver, registry: Registry, clock: Clock
) -> None:
    registry.answers[f"m2/app@{DIGEST}"] = LookupOutcome.FOUND
    resolver.resolve([("app", [f"m2/app@{DIGEST}"])], timeout=5)
    clock.now += 5 * 3600
    resolver.resolve([("app", [f"m2/app@{DIGEST}"])], timeout=5)
    assert registry.calls == [f"m2/app@{DIGEST}"]


def test_a_digest_that_could_not_be_checked_is_asked_again_at_once(
    resolver: TagResolver, registry: Registry
) -> None:
    registry.answers[f"m2/app@{DIGEST}"] = LookupOutcome.UNREACHABLE
    resolver.resolve([("app", [f"m2/app@{DIGEST}"])], timeout=5)
    resolver.resolve([("app", [f"m2/app@{DIGEST}"])], timeout=5)
    assert registry.calls == [f"m2/app@{DIGEST}"] * 2


def test_a_tag_found_answers_for_its_digest_in_that_repository(
    resolver: TagResolver, registry: Registry
) -> None:
    """What /mutate pinned, /validate then finds in the cache: nothing is asked twice."""
    resolver.resolve([("app:1", ["m2/app:1"])], timeout=5)
    (result,) = resolver.resolve([("app", [f"m2/app@{DIGEST}"])], timeout=5)
    assert result.digest == DIGEST
    assert registry.calls == ["m2/app:1"]

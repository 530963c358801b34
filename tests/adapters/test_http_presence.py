"""`mirror_presence` and its memo: a warm image found in its mirrors costs one lookup, and
the memo never answers what only the resolver may (absence, unknown, other credentials,
another index, an old verdict)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tests.support.mirror_objects import entry, mirror_object
from tests.support.reviews import pod_review
from webhook.adapters.http_pinning import Registry
from webhook.adapters.http_presence import PresenceMemo, mirror_presence
from webhook.core.admission import read_review, validate
from webhook.core.decision import Mode
from webhook.core.lookups import Lookup, LookupOutcome, Resolution
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings
from webhook.core.presence import CachePolicy, Presence

HELD = "quay.io/held/app@sha256:" + "1" * 64
MISSING = "quay.io/held/app@sha256:" + "2" * 64
DIGEST = "sha256:" + "1" * 64


def routed_index() -> MirrorIndex:
    mirrors = [entry("quay.io/held", "mirror.corp/held", never=True)]
    return MirrorIndex.from_config(load_mirror_sets([mirror_object("idms", "held", mirrors)]))


class CountingResolver:
    """Answers from a fixed set of present pull specs, counting the images it is asked."""

    def __init__(self, present: set[str]) -> None:
        self.present = present
        self.asked: list[str] = []
        self.secrets_seen: list[Sequence[str]] = []

    def resolve(
        self,
        images: Sequence[tuple[str, Sequence[str]]],
        timeout: float,
        pull_secrets: Sequence[str] = (),
    ) -> list[Resolution]:
        self.secrets_seen.append(tuple(pull_secrets))
        answers = []
        for image, specs in images:
            self.asked.append(image)
            spec = specs[0]
            if spec in self.present:
                lookup = Lookup(spec, LookupOutcome.FOUND, DIGEST)
                answers.append(Resolution(image, DIGEST, (lookup,)))
            else:
                lookup = Lookup(spec, LookupOutcome.NOT_FOUND)
                answers.append(Resolution(image, None, (lookup,), "not found"))
        return answers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ask(
    index: MirrorIndex,
    registry: Registry,
    memo: PresenceMemo,
    *images: str,
    pull_secrets: Sequence[str] = (),
) -> dict[str, Presence]:
    body: dict[str, Any] = pod_review({f"c{n}": image for n, image in enumerate(images)})
    if pull_secrets:
        body["request"]["object"]["spec"]["imagePullSecrets"] = [{"name": "pull"}]
    review = read_review(body)
    validation = validate(review, Mode.WARN, index, PolicySettings())
    verdicts = mirror_presence(review, validation, index, registry, 2.0, memo)
    return {image: verdict.presence for image, verdict in verdicts.items()}


@pytest.fixture
def resolver() -> CountingResolver:
    return CountingResolver({"mirror.corp/held/app@" + DIGEST})


def test_an_image_found_once_is_answered_again_without_asking_the_resolver(
    resolver: CountingResolver,
) -> None:
    index, memo, registry = routed_index(), PresenceMemo(), Registry(resolver, None)
    assert ask(index, registry, memo, HELD) == {HELD: Presence.PRESENT}
    assert ask(index, registry, memo, HELD) == {HELD: Presence.PRESENT}
    assert resolver.asked == [HELD]


def test_only_the_images_the_memo_lacks_are_asked(resolver: CountingResolver) -> None:
    index, memo, registry = routed_index(), PresenceMemo(), Registry(resolver, None)
    ask(index, registry, memo, HELD)
    verdicts = ask(index, registry, memo, HELD, MISSING)
    assert verdicts == {HELD: Presence.PRESENT, MISSING: Presence.ABSENT}
    assert resolver.asked == [HELD, MISSING]


def test_an_absent_image_is_asked_every_time(resolver: CountingResolver) -> None:
    """Absence is the resolver's to keep (seconds): a freshly mirrored image must pass."""
    index, memo, registry = routed_index(), PresenceMemo(), Registry(resolver, None)
    ask(index, registry, memo, MISSING)
    ask(index, registry, memo, MISSING)
    assert resolver.asked == [MISSING, MISSING]


def test_a_new_index_forgets_every_verdict(resolver: CountingResolver) -> None:
    memo, registry = PresenceMemo(), Registry(resolver, None)
    ask(routed_index(), registry, memo, HELD)
    ask(routed_index(), registry, memo, HELD)
    assert resolver.asked == [HELD, HELD]


def test_a_verdict_is_reused_for_verdict_seconds_only(resolver: CountingResolver) -> None:
    clock = Clock()
    index, registry = routed_index(), Registry(resolver, None)
    memo = PresenceMemo(CachePolicy(verdict_seconds=60.0), clock=clock)
    ask(index, registry, memo, HELD)
    clock.now += 59
    ask(index, registry, memo, HELD)
    clock.now += 2
    ask(index, registry, memo, HELD)
    assert resolver.asked == [HELD, HELD]


def test_a_verdict_made_with_a_pods_pull_secrets_is_not_reused_without_them(
    resolver: CountingResolver,
) -> None:
    index, memo = routed_index(), PresenceMemo()
    registry = Registry(resolver, lambda namespace, names, timeout: ['{"auths": {}}'])
    plain = Registry(resolver, None)
    ask(index, registry, memo, HELD, pull_secrets=["pull"])
    ask(index, plain, memo, HELD)
    ask(index, registry, memo, HELD, pull_secrets=["pull"])
    assert resolver.asked == [HELD, HELD]
    assert resolver.secrets_seen == [('{"auths": {}}',), ()]


def test_a_full_memo_starts_afresh() -> None:
    other = "quay.io/held/other@" + DIGEST
    resolver = CountingResolver({f"mirror.corp/held/{name}@{DIGEST}" for name in ("app", "other")})
    index, memo, registry = routed_index(), PresenceMemo(maxsize=1), Registry(resolver, None)
    ask(index, registry, memo, HELD)
    ask(index, registry, memo, other)
    ask(index, registry, memo, other)
    ask(index, registry, memo, HELD)
    assert resolver.asked == [HELD, other, HELD]

"""Our pull candidates, checked against the real containers/image (through skopeo).

For each configuration the objects go through `load_mirror_sets` → `MirrorIndex`, the
index renders the registries.conf the machine-config operator would write (in both
digest-only styles), and skopeo is asked to pull one fully-qualified reference with it.
Every registry is a loopback address with a port where nothing listens, so every
attempt fails fast and skopeo's debug log lists all of them, in order, with the ones a
`blocked` table refused locally. That list must equal `MirrorIndex.candidates()`: same
pull specs in the same order, the same ones blocked (by the same table), and a
rewriting failure, with containers/image's reason, exactly when we report an error.

The differential checks matching, rewriting and blocking, not the operator's merge: both
sides read the same rendered tables. So each hand-written case also states the attempts
it expects, which pins the merge order too and keeps a case from passing by exercising
nothing (for example a configuration that matches no table).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from tests.support.mirror_objects import Entry, entry, mirror_object
from tests.support.skopeo_oracle import SkopeoAttempt, SkopeoOracle, SkopeoPull, find_skopeo
from webhook.core.image_reference import ImageReference, parse_canonical, runtime_image
from webhook.core.mirror_index import MirrorIndex, PullPlan
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.registries_conf import DIGEST_ONLY_STYLES

pytestmark = pytest.mark.skopeo

DIGEST = "sha256:" + "0123456789abcdef" * 4
# Loopback registries on a port nobody listens on: every attempt is refused at once.
SRC = "127.0.0.2:1"
M1 = "127.0.0.3:1"
M2 = "127.0.0.4:1"
M3 = "127.0.0.5:1"
INVALID_FORMAT = "rewriting reference: invalid reference format"
NOT_CANONICAL = "rewriting reference: repository name must be canonical"


@pytest.fixture(scope="session")
def skopeo() -> SkopeoOracle:
    """The oracle; without skopeo these tests skip locally but fail in CI (`CI=true`)."""
    executable = find_skopeo()
    if executable is None:
        message = "skopeo is not installed, so nothing checks MirrorIndex against containers/image"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must install it (apt-get install skopeo)")
        pytest.skip(message)
    return SkopeoOracle(executable)


# --- comparison ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PullOutcome:
    """What a pull does, in skopeo's terms: every attempt in order, or a rewriting failure."""

    attempts: tuple[SkopeoAttempt, ...]
    rewriting_error: str | None

    @classmethod
    def of_skopeo(cls, pull: SkopeoPull) -> PullOutcome:
        return cls(pull.attempts, pull.rewriting_error)

    @classmethod
    def of_plan(cls, index: MirrorIndex, plan: PullPlan) -> PullOutcome:
        attempts = tuple(
            SkopeoAttempt(c.pull_spec, _blocking_prefix(index, c.pull_spec) if c.blocked else None)
            for c in plan.candidates
        )
        return cls(attempts, plan.error)

    def lines(self) -> list[str]:
        """One line per attempt, `<spec> (blocked by <prefix>)` for refused ones."""
        if self.rewriting_error is not None:
            return [self.rewriting_error]
        return [str(attempt) for attempt in self.attempts]


def _blocking_prefix(index: MirrorIndex, pull_spec: str) -> str | None:
    table = index.find_table(parse_canonical(pull_spec).name)
    return table.prefix if table is not None else None


def fully_qualified(image: str) -> ImageReference:
    runtime = runtime_image(image)
    assert not runtime.short_name, f"{image} is a short name; skopeo would consult aliases"
    return runtime.references[0]


def index_for(objects: Sequence[dict[str, Any]]) -> MirrorIndex:
    config = load_mirror_sets(objects)
    assert config.problems == (), [str(problem) for problem in config.problems]
    return MirrorIndex.from_config(config)


def assert_engine_matches_skopeo(
    skopeo: SkopeoOracle, index: MirrorIndex, image: str, style: str
) -> PullOutcome:
    """Pull `image` with skopeo under the rendered configuration; our plan must be its run:
    the same attempts in order, the same ones blocked by the same table, or the same
    rewriting failure."""
    reference = fully_qualified(image)
    conf = index.registries_conf(digest_only_style=style)
    theirs = PullOutcome.of_skopeo(skopeo.pull(conf, str(reference)))
    ours = PullOutcome.of_plan(index, index.candidates(reference))

    def listing(outcome: PullOutcome) -> str:
        return "\n".join(f"    {n}. {line}" for n, line in enumerate(outcome.lines(), 1)) or "    -"

    assert ours == theirs, (
        f"MirrorIndex.candidates() and skopeo disagree on {reference} ({style} style)\n"
        f"  ours:\n{listing(ours)}\n  skopeo:\n{listing(theirs)}\n"
        f"registries.conf:\n{conf}"
    )
    return theirs


# --- the oracle's own assumptions ---------------------------------------------------------


def test_skopeo_announces_a_blocked_attempt_before_refusing_it(skopeo: SkopeoOracle) -> None:
    conf = (
        "[[registry]]\n"
        f'location = "{SRC}/team"\n'
        "blocked = true\n"
        "[[registry.mirror]]\n"
        f'location = "{M1}/mirror"\n'
    )
    pull = skopeo.pull(conf, f"{SRC}/team/app:v1")
    assert [str(a) for a in pull.attempts] == [
        f"{M1}/mirror/app:v1",
        f"{SRC}/team/app:v1 (blocked by {SRC}/team)",
    ]


def test_skopeo_reports_a_rewriting_failure_without_any_attempt(skopeo: SkopeoOracle) -> None:
    conf = f'[[registry]]\nlocation = "127.0.0.2"\n[[registry.mirror]]\nlocation = "{M1}/m"\n'
    pull = skopeo.pull(conf, f"{SRC}/team/app:v1")
    assert pull.attempts == ()
    assert pull.rewriting_error == INVALID_FORMAT, pull.fatal


def test_skopeo_tries_an_unmirrored_reference_directly(skopeo: SkopeoOracle) -> None:
    pull = skopeo.pull(f'[[registry]]\nlocation = "{M1}/other"\n', f"{SRC}/team/app:v1")
    assert pull.attempts == (SkopeoAttempt(f"{SRC}/team/app:v1"),)


# --- hand-written cases -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    objects: tuple[dict[str, Any], ...]
    image: str
    expected: tuple[str, ...]
    """`PullOutcome.lines()`: each attempt, blocked ones as `<spec> (blocked by <prefix>)`."""


def idms(name: str, *entries: Entry) -> dict[str, Any]:
    return mirror_object("idms", name, entries)


def itms(name: str, *entries: Entry) -> dict[str, Any]:
    return mirror_object("itms", name, entries)


def icsp(name: str, *entries: Entry) -> dict[str, Any]:
    return mirror_object("icsp", name, entries)


def case(case_id: str, objects: Sequence[dict[str, Any]], image: str, *expected: str) -> Case:
    return Case(case_id, tuple(objects), image, expected)


def blocked(spec: str, prefix: str) -> str:
    return f"{spec} (blocked by {prefix})"


TWO_MIRRORS = [idms("two", entry(f"{SRC}/team", f"{M1}/first", f"{M2}/second"))]
NEVER = [idms("never", entry(f"{SRC}/team", f"{M1}/mirror", never=True))]
NESTED = [
    idms("registry", entry(SRC, f"{M1}/whole")),
    idms("team", entry(f"{SRC}/team", f"{M2}/team")),
]
ITMS_UNDER_BLOCKED_IDMS = [
    idms("parent", entry(SRC, f"{M1}/whole", never=True)),
    itms("child", entry(f"{SRC}/team", f"{M2}/tags")),
]
PORTLESS_SOURCE_HOST_MIRROR = [idms("host", entry("127.0.0.2", "127.0.0.3"))]
PORTLESS_SOURCE_PATH_MIRROR = [idms("path", entry("127.0.0.2", f"{M1}/mirror"))]
CONFLICTING_ORDERS = [
    idms("ab", entry(f"{SRC}/team", f"{M1}/a", f"{M2}/b")),
    idms("ba", entry(f"{SRC}/team", f"{M2}/b", f"{M1}/a")),
]
DIGEST_AND_TAG_MIRRORS = [
    idms("digests", entry(f"{SRC}/team", f"{M1}/digests")),
    itms("tags", entry(f"{SRC}/team", f"{M2}/tags")),
]

CASES = [
    case(
        "idms-digest-pull-tries-each-mirror-in-order-then-the-source",
        TWO_MIRRORS,
        f"{SRC}/team/app@{DIGEST}",
        f"{M1}/first/app@{DIGEST}",
        f"{M2}/second/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "idms-mirrors-are-not-used-for-a-tag-pull",
        TWO_MIRRORS,
        f"{SRC}/team/app:v1",
        f"{SRC}/team/app:v1",
    ),
    case(
        "itms-tag-pull-tries-each-mirror-then-the-source",
        [itms("tags", entry(f"{SRC}/team", f"{M1}/first", f"{M2}/second"))],
        f"{SRC}/team/app:v1",
        f"{M1}/first/app:v1",
        f"{M2}/second/app:v1",
        f"{SRC}/team/app:v1",
    ),
    case(
        "itms-mirrors-are-not-used-for-a-digest-pull",
        [itms("tags", entry(f"{SRC}/team", f"{M1}/first"))],
        f"{SRC}/team/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "one-source-with-idms-and-itms-gives-digest-pulls-only-the-digest-mirrors",
        DIGEST_AND_TAG_MIRRORS,
        f"{SRC}/team/app@{DIGEST}",
        f"{M1}/digests/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "one-source-with-idms-and-itms-gives-tag-pulls-only-the-tag-mirrors",
        DIGEST_AND_TAG_MIRRORS,
        f"{SRC}/team/app:v1",
        f"{M2}/tags/app:v1",
        f"{SRC}/team/app:v1",
    ),
    case(
        "never-contact-source-blocks-the-source-attempt-but-not-the-mirrors",
        NEVER,
        f"{SRC}/team/app@{DIGEST}",
        f"{M1}/mirror/app@{DIGEST}",
        blocked(f"{SRC}/team/app@{DIGEST}", f"{SRC}/team"),
    ),
    case(
        "never-contact-source-on-an-idms-also-blocks-tag-pulls",
        NEVER,
        f"{SRC}/team/app:v1",
        blocked(f"{SRC}/team/app:v1", f"{SRC}/team"),
    ),
    case(
        "a-mirror-inside-the-blocked-source-scope-is-blocked-too",
        [idms("inside", entry(f"{SRC}/team", f"{SRC}/team/mirror", f"{M1}/mirror", never=True))],
        f"{SRC}/team/app@{DIGEST}",
        blocked(f"{SRC}/team/mirror/app@{DIGEST}", f"{SRC}/team"),
        f"{M1}/mirror/app@{DIGEST}",
        blocked(f"{SRC}/team/app@{DIGEST}", f"{SRC}/team"),
    ),
    case(
        "a-mirror-that-is-another-blocked-source-is-blocked-and-not-chained",
        [
            idms("first", entry(f"{SRC}/team", f"{M1}/second", never=True)),
            idms("second", entry(f"{M1}/second", f"{M2}/third", never=True)),
        ],
        f"{SRC}/team/app@{DIGEST}",
        blocked(f"{M1}/second/app@{DIGEST}", f"{M1}/second"),
        blocked(f"{SRC}/team/app@{DIGEST}", f"{SRC}/team"),
    ),
    case(
        "a-repository-source-maps-onto-the-mirror-path",
        [idms("repo", entry(f"{SRC}/team/app", f"{M1}/x/y"))],
        f"{SRC}/team/app@{DIGEST}",
        f"{M1}/x/y@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "a-repository-source-also-covers-its-sub-repositories",
        [idms("repo", entry(f"{SRC}/team/app", f"{M1}/x/y"))],
        f"{SRC}/team/app/sub@{DIGEST}",
        f"{M1}/x/y/sub@{DIGEST}",
        f"{SRC}/team/app/sub@{DIGEST}",
    ),
    case(
        "a-source-matches-whole-path-components-only",
        [idms("team", entry(f"{SRC}/team", f"{M1}/mirror"))],
        f"{SRC}/teamx/app@{DIGEST}",
        f"{SRC}/teamx/app@{DIGEST}",
    ),
    case(
        "the-longest-matching-source-wins",
        NESTED,
        f"{SRC}/team/app@{DIGEST}",
        f"{M2}/team/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "the-shorter-source-still-covers-other-paths",
        NESTED,
        f"{SRC}/other/app@{DIGEST}",
        f"{M1}/whole/other/app@{DIGEST}",
        f"{SRC}/other/app@{DIGEST}",
    ),
    case(
        "an-itms-child-shadows-a-blocked-idms-parent-for-digest-pulls",
        ITMS_UNDER_BLOCKED_IDMS,
        f"{SRC}/team/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "an-itms-child-serves-tag-pulls-under-a-blocked-idms-parent",
        ITMS_UNDER_BLOCKED_IDMS,
        f"{SRC}/team/app:v1",
        f"{M2}/tags/app:v1",
        f"{SRC}/team/app:v1",
    ),
    case(
        "a-wildcard-source-drops-the-matched-host-for-mirrors",
        [idms("wild", entry("*.0.0.2", "127.0.0.6"))],
        f"{SRC}/team/app@{DIGEST}",
        f"127.0.0.6:1/team/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "a-wildcard-source-with-a-path-mirror-cannot-rewrite-a-host-with-a-port",
        [idms("wild", entry("*.0.0.2", f"{M1}/mirror"))],
        f"{SRC}/team/app@{DIGEST}",
        INVALID_FORMAT,
    ),
    case(
        "a-wildcard-looks-only-at-the-first-occurrence-of-its-domain",
        [idms("wild", entry("*.0.0", "127.0.0.6"))],
        f"{SRC}/team/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "a-longer-wildcard-beats-a-shorter-one",
        [idms("short", entry("*.0.2", "127.0.0.6")), idms("long", entry("*.0.0.2", "127.0.0.7"))],
        f"{SRC}/team/app@{DIGEST}",
        f"127.0.0.7:1/team/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "a-blocked-wildcard-source-blocks-the-named-host",
        [idms("wild", entry("*.corp.invalid", f"{M1}/corp", never=True))],
        f"registry.corp.invalid/team/app@{DIGEST}",
        f"{M1}/corp/team/app@{DIGEST}",
        blocked(f"registry.corp.invalid/team/app@{DIGEST}", "*.corp.invalid"),
    ),
    case(
        "a-wildcard-and-an-exact-host-of-equal-length-tie-to-the-wildcard",
        [
            idms("wild", entry("*.corp.invalid", f"{M1}/wild", never=True)),
            idms("exact", entry("a.corp.invalid", f"{M2}/exact", never=True)),
        ],
        f"a.corp.invalid/team/app@{DIGEST}",
        f"{M1}/wild/team/app@{DIGEST}",
        blocked(f"a.corp.invalid/team/app@{DIGEST}", "*.corp.invalid"),
    ),
    case(
        "a-longer-exact-host-beats-a-wildcard",
        [
            idms("wild", entry("*.corp.invalid", f"{M1}/wild", never=True)),
            idms("exact", entry("reg.corp.invalid", f"{M2}/exact", never=True)),
        ],
        f"reg.corp.invalid/team/app@{DIGEST}",
        f"{M2}/exact/team/app@{DIGEST}",
        blocked(f"reg.corp.invalid/team/app@{DIGEST}", "reg.corp.invalid"),
    ),
    case(
        "a-wildcard-does-not-match-its-bare-domain",
        [idms("wild", entry("*.corp.invalid", f"{M1}/wild"))],
        f"corp.invalid/team/app@{DIGEST}",
        f"corp.invalid/team/app@{DIGEST}",
    ),
    case(
        "a-portless-source-matches-the-host-with-a-port-and-a-host-mirror-keeps-the-port",
        PORTLESS_SOURCE_HOST_MIRROR,
        f"{SRC}/team/app@{DIGEST}",
        f"127.0.0.3:1/team/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "a-portless-source-with-a-path-mirror-cannot-rewrite-a-digest-pull-with-a-port",
        PORTLESS_SOURCE_PATH_MIRROR,
        f"{SRC}/team/app@{DIGEST}",
        INVALID_FORMAT,
    ),
    case(
        "a-portless-source-with-a-path-mirror-leaves-tag-pulls-alone",
        PORTLESS_SOURCE_PATH_MIRROR,
        f"{SRC}/team/app:v1",
        f"{SRC}/team/app:v1",
    ),
    case(
        "a-host-mirror-of-a-repository-source-leaves-a-digest-pull-without-a-repository",
        [idms("repo", entry(f"{SRC}/team/app", M3))],
        f"{SRC}/team/app@{DIGEST}",
        NOT_CANONICAL,
    ),
    case(
        "a-host-mirror-of-a-repository-source-turns-a-tag-pull-into-a-docker-hub-name",
        [itms("repo", entry(f"{SRC}/team/app", "127.0.0.6"))],
        f"{SRC}/team/app:v1",
        NOT_CANONICAL,
    ),
    case(
        "a-host-mirror-of-a-repository-source-still-serves-its-sub-repositories",
        [idms("repo", entry(f"{SRC}/team/app", M3))],
        f"{SRC}/team/app/sub@{DIGEST}",
        f"{M3}/sub@{DIGEST}",
        f"{SRC}/team/app/sub@{DIGEST}",
    ),
    case(
        "merged-mirrors-of-unrelated-objects-come-out-in-byte-order",
        [idms("z", entry(f"{SRC}/team", f"{M3}/z")), idms("y", entry(f"{SRC}/team", f"{M1}/y"))],
        f"{SRC}/team/app@{DIGEST}",
        f"{M1}/y/app@{DIGEST}",
        f"{M3}/z/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "merged-mirrors-interleave-one-objects-list-with-another",
        [
            idms("ba", entry(f"{SRC}/team", f"{M2}/b", f"{M1}/a")),
            idms("c", entry(f"{SRC}/team", f"{M3}/c")),
        ],
        f"{SRC}/team/app@{DIGEST}",
        f"{M2}/b/app@{DIGEST}",
        f"{M3}/c/app@{DIGEST}",
        f"{M1}/a/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "conflicting-orders-put-a-source-that-sorts-first-in-front-as-a-mirror",
        CONFLICTING_ORDERS,
        f"{SRC}/team/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
        f"{M1}/a/app@{DIGEST}",
        f"{M2}/b/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "conflicting-orders-leave-a-source-that-sorts-last-only-at-the-end",
        [
            idms("ab", entry("127.0.0.9:1/team", f"{M1}/a", f"{M2}/b")),
            idms("ba", entry("127.0.0.9:1/team", f"{M2}/b", f"{M1}/a")),
        ],
        f"127.0.0.9:1/team/app@{DIGEST}",
        f"{M1}/a/app@{DIGEST}",
        f"{M2}/b/app@{DIGEST}",
        f"127.0.0.9:1/team/app@{DIGEST}",
    ),
    case(
        "icsp-and-idms-mirrors-of-one-source-merge",
        [
            icsp("legacy", entry(f"{SRC}/team", f"{M2}/icsp")),
            idms("current", entry(f"{SRC}/team", f"{M1}/idms")),
        ],
        f"{SRC}/team/app@{DIGEST}",
        f"{M1}/idms/app@{DIGEST}",
        f"{M2}/icsp/app@{DIGEST}",
        f"{SRC}/team/app@{DIGEST}",
    ),
    case(
        "icsp-mirrors-are-not-used-for-a-tag-pull",
        [icsp("legacy", entry(f"{SRC}/team", f"{M1}/icsp"))],
        f"{SRC}/team/app:v1",
        f"{SRC}/team/app:v1",
    ),
]

STYLES = pytest.mark.parametrize("style", DIGEST_ONLY_STYLES)


@STYLES
@pytest.mark.parametrize("spec", [pytest.param(c, id=c.id) for c in CASES])
def test_skopeo_pulls_as_the_case_describes(skopeo: SkopeoOracle, spec: Case, style: str) -> None:
    conf = index_for(spec.objects).registries_conf(digest_only_style=style)
    outcome = PullOutcome.of_skopeo(skopeo.pull(conf, spec.image))
    assert outcome.lines() == list(spec.expected)


@STYLES
@pytest.mark.parametrize("spec", [pytest.param(c, id=c.id) for c in CASES])
def test_candidates_match_skopeo(skopeo: SkopeoOracle, spec: Case, style: str) -> None:
    assert_engine_matches_skopeo(skopeo, index_for(spec.objects), spec.image, style)


# --- generated configurations -------------------------------------------------------------

# Nested, wildcard (numeric, so no DNS), port-less and repository-level sources; mirrors
# that are host-only (with and without a port), inside a source's scope, or a source.
SOURCES = ("127.0.0.2", SRC, f"{SRC}/team", f"{SRC}/team/app", f"{M1}/ns", "*.0.0.2")
MIRRORS = (
    f"{M2}/m",
    M3,
    "127.0.0.6",
    f"{M3}/mirror/team",
    f"{SRC}/mirror",
    f"{SRC}/team/mirror",
    f"{M1}/ns",
    f"{M1}/ns/mirror",
)
REPOSITORIES = (
    f"{SRC}/team/app",
    f"{SRC}/team/app/sub",
    f"{SRC}/teamx/app",
    f"{SRC}/other/app",
    f"{M1}/ns/app",
)
KINDS = ("idms", "itms", "icsp")


@st.composite
def mirror_objects(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1-3 objects; a source that is NeverContactSource is so in every IDMS/ITMS entry."""
    never_sources = {source for source in SOURCES if draw(st.integers(0, 2)) == 0}
    objects = []
    for number in range(1, draw(st.integers(1, 3)) + 1):
        kind = draw(st.sampled_from(KINDS))
        sources = draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3, unique=True))
        entries = []
        for source in sources:
            never = source in never_sources
            if kind == "icsp" and never:
                continue  # ICSP entries count as AllowContactingSource: the MCO would refuse
            # A source may list itself (the entry is then ignored unless it has other mirrors),
            # except where the MCO refuses that: as a wildcard or when it is NeverContactSource.
            choices = tuple(mirror for mirror in MIRRORS if mirror != source)
            if not never and not source.startswith("*"):
                choices += (source,)
            mirrors = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True))
            entries.append(entry(source, *mirrors, never=never))
        objects.append(mirror_object(kind, f"{kind}{number}", entries))
    return objects


@settings(derandomize=True, max_examples=60, deadline=None, database=None)
@given(
    objects=mirror_objects(),
    repository=st.sampled_from(REPOSITORIES),
    suffix=st.sampled_from((f"@{DIGEST}", ":v1")),
)
def test_candidates_match_skopeo_for_generated_configurations(
    skopeo: SkopeoOracle, objects: list[dict[str, Any]], repository: str, suffix: str
) -> None:
    config = load_mirror_sets(objects)
    assume(config.mco_rejection is None and not config.problems)
    index = MirrorIndex.from_config(config)
    for style in DIGEST_ONLY_STYLES:
        outcome = assert_engine_matches_skopeo(skopeo, index, repository + suffix, style)
    event(_shape(outcome))


def _shape(outcome: PullOutcome) -> str:
    """How an example exercised the pull, for `--hypothesis-show-statistics`."""
    if outcome.rewriting_error is not None:
        return outcome.rewriting_error
    *mirrors, source = outcome.attempts
    refused = sum(attempt.blocked_by is not None for attempt in mirrors)
    return (
        f"{len(mirrors)} mirrors ({refused} blocked), "
        f"source {'blocked' if source.blocked_by else 'tried'}"
    )

"""Does the mirror hold it? The node's question at pull time, asked before the pod exists.

An image can be routed to a mirror perfectly and still fail with ImagePullBackOff because
nobody mirrored it. `--verify-mirror` asks the candidates the node would try, in its
order, with a HEAD of the manifest (by digest, or by tag on an ImageTagMirrorSet mirror),
until one has it. Three answers, and only one of them may deny (DESIGN: unknown is not
absent):

- present: some candidate serves the manifest;
- absent: every candidate said "not there" (404, MANIFEST_UNKNOWN, NAME_UNKNOWN);
- unknown: no candidate had it and at least one could not be asked (down, slow, 401/403,
  5xx, garbage, or the deadline came first).

How long an answer may be reused is part of the same vocabulary (`CachePolicy`): a manifest
is immutable under its digest, so "present" is kept for hours; "absent" only seconds, so an
image is admitted as soon as it has been mirrored; "unknown" for a digest not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from webhook.core.image_reference import ImageReference, parse
from webhook.core.lookups import Lookup, LookupOutcome, Lookups, Resolution
from webhook.core.mirror_index import MirrorIndex, PullPlan, Role
from webhook.core.signature_policy import PolicyOutcome
from webhook.core.workloads import ImageSite
from webhook.errors import InvalidReferenceError

MIRROR_IT = "mirror it (oc-mirror, or skopeo copy --all) before deploying"
ANSWERS_SHOWN_MAX = 3  # a message names at most this many candidates


class Presence(Enum):
    PRESENT = "present"
    ABSENT = "absent"
    UNKNOWN = "unknown"


def presence_of(outcome: LookupOutcome) -> Presence:
    """One registry answer, read as the node would: only a clear "not there" is absence."""
    if outcome is LookupOutcome.FOUND:
        return Presence.PRESENT
    if outcome is LookupOutcome.NOT_FOUND:
        return Presence.ABSENT
    return Presence.UNKNOWN


@dataclass(frozen=True, slots=True)
class PresenceQuestion:
    image: str
    """As written in the pod: the key findings and warnings are matched by."""
    reference: ImageReference
    """The normalized reference the node pulls."""
    pull_specs: tuple[str, ...]
    """The candidates to ask, in the node's order (mirrors, then the source if allowed)."""


@dataclass(frozen=True, slots=True)
class PresenceVerdict:
    image: str
    presence: Presence
    answers: tuple[Lookup, ...] = ()
    reason: str = ""
    """What was asked where and what came back, in a few words; never credentials."""


def presence_question(
    image: str, index: MirrorIndex, include_source: bool = False
) -> PresenceQuestion | None:
    """What to ask for an image that the mirror sets route to a mirror, or None when there
    is nothing to ask (not routed to a mirror: the policy's findings say so already; a
    short name; a reference that does not parse).

    Only hosts the mirror sets name are asked: the mirrors of the image's table, an image
    named directly on a mirror location, and the source only when `include_source` and
    it is not blocked (as for pinning; the pod spec never chooses a host)."""
    key = ("presence", image, "source" if include_source else "")
    return index.derived(key, _question, image, index, include_source)


def _question(image: str, index: MirrorIndex, include_source: bool) -> PresenceQuestion | None:
    plan = index.explain(image)
    if plan.parse_error or plan.short_name:
        return None
    pull = plan.plans[0]
    reachable = pull.reachable
    specs = [c.pull_spec for c in reachable if c.role is Role.MIRROR]
    source = [c.pull_spec for c in reachable if c.role is Role.SOURCE]
    if not specs and source and index.on_mirror(pull.reference.name):
        specs = source  # named on the mirror itself: the only place the node pulls from
    elif specs and include_source and not _policy_rejects(pull):
        specs += source  # never a source whose images the node's policy rejects
    if not specs:
        return None
    # The index already pulls `name:tag@digest` as `name@digest`: one cache key for both.
    return PresenceQuestion(image, pull.reference, tuple(specs))


def presence_questions(
    sites: Iterable[ImageSite],
    flagged: Iterable[ImageSite],
    index: MirrorIndex,
    include_source: bool = False,
) -> list[PresenceQuestion]:
    """One question per distinct image among `sites` that no finding already flags."""
    skipped = {site.image for site in flagged}
    questions: dict[str, PresenceQuestion] = {}
    for site in sites:
        image = site.image
        if image is None or not image.strip() or image in skipped or image in questions:
            continue
        question = presence_question(image, index, include_source)
        if question is not None:
            questions[image] = question
    return list(questions.values())


def presence_verdict(question: PresenceQuestion, resolution: Resolution) -> PresenceVerdict:
    """The answers of the candidates asked in order (the resolver stops at the first that
    has the manifest) read as one verdict."""
    answers = resolution.attempts
    if resolution.digest is not None:
        return PresenceVerdict(question.image, Presence.PRESENT, answers)
    complete = len(answers) == len(question.pull_specs)
    if complete and all(presence_of(a.outcome) is Presence.ABSENT for a in answers):
        listed = answers[:ANSWERS_SHOWN_MAX]
        shown = ", ".join(f"{_repository(a.pull_spec)}: not found" for a in listed)
        more = f", and {len(answers) - len(listed)} more" if len(answers) > len(listed) else ""
        return PresenceVerdict(question.image, Presence.ABSENT, answers, shown + more)
    unknown = [a for a in answers if presence_of(a.outcome) is Presence.UNKNOWN]
    if unknown:
        reason = f"{unknown[0].outcome.value}: {unknown[0].detail or unknown[0].pull_spec}"
    else:
        reason = resolution.reason or "not every mirror answered in time"
    return PresenceVerdict(question.image, Presence.UNKNOWN, answers, reason)


def verdicts_for(
    questions: Sequence[PresenceQuestion], resolutions: Sequence[Resolution]
) -> dict[str, PresenceVerdict]:
    """Verdicts by image, from the resolutions answered for `questions` in the same order."""
    return {
        question.image: presence_verdict(question, resolution)
        for question, resolution in zip(questions, resolutions, strict=True)
    }


def lookups_for(questions: Iterable[PresenceQuestion]) -> Lookups:
    """(image, pull specs) pairs, the shape the resolver answers."""
    return [(question.image, question.pull_specs) for question in questions]


def all_present(verdicts: Mapping[str, PresenceVerdict]) -> bool:
    """Nothing to add to a judgement: no finding and no warning comes from these."""
    return all(verdict.presence is Presence.PRESENT for verdict in verdicts.values())


def implied_presence(lookup: Lookup) -> Lookup | None:
    """A tag found at `host/repo:tag` with digest D means `host/repo@D` is there too: the
    registry just served that manifest. Recording it lets the validating call that follows a
    pin answer from the cache instead of asking the mirror again."""
    if lookup.outcome is not LookupOutcome.FOUND or lookup.digest is None:
        return None
    try:
        reference = parse(lookup.pull_spec)
    except InvalidReferenceError:
        return None
    if reference.by_digest or not reference.domain:
        return None
    spec = f"{reference.name}@{lookup.digest}"
    return Lookup(spec, LookupOutcome.FOUND, lookup.digest, lookup.media_type, lookup.detail)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Seconds an answer may be reused; 0 means it is not kept at all."""

    present_seconds: float = 6 * 3600.0
    """A manifest found by digest: immutable, so kept long (flushed when mirror sets change)."""
    tag_found_seconds: float = 300.0
    """A tag's digest: a tag can move, so kept minutes."""
    absent_seconds: float = 10.0
    """"Not there" (by tag or digest): seconds, so a freshly mirrored image is admitted."""
    tag_failed_seconds: float = 15.0
    """A tag lookup that could not be made: a pause before a failing registry is asked again."""
    unknown_seconds: float = 0.0
    """A digest that could not be checked: never reused, so the next request asks again."""
    verdict_seconds: float = 60.0
    """An image found in its mirrors, as a whole verdict: reused this long so that a warm
    image costs one lookup, not one per candidate asked (kept under `present_seconds`)."""

    def seconds(self, lookup: Lookup) -> float:
        by_digest = "@" in lookup.pull_spec
        presence = presence_of(lookup.outcome)
        if presence is Presence.PRESENT:
            return self.present_seconds if by_digest else self.tag_found_seconds
        if presence is Presence.ABSENT:
            return self.absent_seconds
        return self.unknown_seconds if by_digest else self.tag_failed_seconds


def _repository(pull_spec: str) -> str:
    try:
        return parse(pull_spec).name
    except InvalidReferenceError:
        return pull_spec


def verify_presence(
    questions: Sequence[PresenceQuestion],
    resolve: Callable[[Lookups, float], list[Resolution]],
    timeout: float,
) -> dict[str, PresenceVerdict]:
    """Ask every question within `timeout` (`resolve` is the resolver adapter: parallel,
    cached, single flight); what is not answered in time is unknown, never absent."""
    if not questions:
        return {}
    return verdicts_for(questions, resolve(lookups_for(questions), timeout))


def _policy_rejects(pull: PullPlan) -> bool:
    return pull.policy is not None and pull.policy.outcome is PolicyOutcome.REJECTED

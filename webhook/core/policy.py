"""Findings: which images the node could not pull through a mirror, and what to write instead.

A finding is a named `Reason` shared by messages, logs, metrics and tests. The judgement
uses the pull plan of `MirrorIndex`, so it is exactly the node's: an image is fine when
the node would try at least one mirror that is not blocked, or when it names a registry
the mirror sets themselves use as a mirror (the cluster reaches those by design).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from webhook.core.image_config_schema import IMAGE_ORIGIN
from webhook.core.image_reference import ImageReference
from webhook.core.mirror_index import MirrorIndex, PullPlan, Role
from webhook.core.policy_rejection import rejection_finding
from webhook.core.presence import MIRROR_IT, Presence, PresenceVerdict
from webhook.core.workloads import ImageSite

IMAGE_SHOWN_MAX = 600  # a valid reference is at most ~520 characters
# The OpenShift internal registry is always reachable from nodes, under its Service's short
# name (what OpenShift writes into image streams) and its fully-qualified one.
INTERNAL_REGISTRY_IMAGES = (
    "image-registry.openshift-image-registry.svc:5000/*",
    "image-registry.openshift-image-registry.svc.cluster.local:5000/*",
)


class Reason(Enum):
    TAG_NOT_MIRRORED = "tag-not-mirrored"
    SOURCE_NOT_MIRRORED = "source-not-mirrored"
    SOURCE_BLOCKED_NO_MIRROR = "source-blocked-no-mirror"
    SHORT_NAME = "short-name"
    INVALID_REFERENCE = "invalid-reference"
    NOT_IN_MIRROR = "not-in-mirror"
    """Routed to mirrors that do not hold it (`--verify-mirror` asked them)."""
    REGISTRY_NOT_ALLOWED = "registry-not-allowed"


@dataclass(frozen=True, slots=True)
class Finding:
    site: ImageSite
    reason: Reason
    problem: str
    """What is wrong, in words a developer understands without knowing IDMS."""
    fix: str
    """What to write or add instead."""
    hint: str
    """The fix in a few words, for an admission warning (120 characters all told)."""
    digest: str | None = None
    """The digest the mirrors hold for this tag, when a lookup found it."""

    @property
    def image(self) -> str:
        """For messages and logs: an image string with control characters (the API server
        lets a newline through) is shown escaped, so it cannot forge a line of its own, and
        one longer than any reference is cut."""
        image = self.site.image
        if image is None:
            return "<no image>"
        shown = image if image.isprintable() else repr(image)
        return shown if len(shown) <= IMAGE_SHOWN_MAX else shown[: IMAGE_SHOWN_MAX - 1] + "…"


@dataclass(frozen=True, slots=True)
class PolicySettings:
    exempt_namespaces: tuple[str, ...] = ("kube-*", "openshift-*")
    """fnmatch patterns; the chart adds its own release namespace."""
    exempt_images: tuple[str, ...] = INTERNAL_REGISTRY_IMAGES
    """fnmatch patterns on the image as written and on its normalized form."""


def namespace_exempt(namespace: str, settings: PolicySettings) -> bool:
    return _any_of(settings.exempt_namespaces).match(namespace) is not None


def findings_for(
    sites: Iterable[ImageSite],
    index: MirrorIndex,
    settings: PolicySettings,
    known_digests: Mapping[str, str] | None = None,
    presence: Mapping[str, PresenceVerdict] | None = None,
) -> list[Finding]:
    """`presence` (image → what its mirrors answered, from `--verify-mirror`) adds
    `not-in-mirror` for images the configuration routes well but no mirror holds."""
    digests = known_digests or {}
    verdicts = presence or {}
    found = (
        image_finding(site, index, settings, digests.get(key), verdicts.get(key))
        for site in sites
        for key in (site.image or "",)
    )
    return [finding for finding in found if finding is not None]


def not_in_mirror(site: ImageSite, verdict: PresenceVerdict) -> Finding:
    """Every candidate the node would try said "not there": the pull would fail."""
    by_tag = bool(verdict.answers) and "@" not in verdict.answers[0].pull_spec
    where = "tag mirrors" if by_tag else "mirrors"
    problem = f"in none of its {where} ({verdict.reason})"
    return Finding(site, Reason.NOT_IN_MIRROR, problem, MIRROR_IT, "not in its mirrors; mirror it")


def image_finding(
    site: ImageSite,
    index: MirrorIndex,
    settings: PolicySettings,
    digest: str | None = None,
    presence: PresenceVerdict | None = None,
) -> Finding | None:
    """The finding for one image, or None when the node would pull it through a mirror
    (and, when `presence` says what its mirrors answered, one of them holds it).

    Memoized per index (so per mirror-set generation) and settings (`MirrorIndex.derived`):
    the containers of a Deployment's pods come back with the same images, and a repeated
    image then costs a dictionary lookup.
    `presence` is the registries' answer for this request, so it is applied after."""
    if site.image is None or not site.image.strip():
        # Workload templates may leave `image` empty or " " for a controller to fill in
        # (OpenShift image-change triggers); a Pod cannot get past the API server so.
        return None
    key = ("finding", site.image, settings, digest)
    known = index.derived(key, _image_finding, site, index, settings, digest)
    if known is _SERVED:
        if presence is not None and presence.presence is Presence.ABSENT:
            return not_in_mirror(site, presence)
        return None
    if not isinstance(known, Finding) or known.site is site:
        return known if isinstance(known, Finding) else None
    return Finding(site, known.reason, known.problem, known.fix, known.hint, known.digest)


_SERVED = object()
"""A verdict: the node pulls the image through a mirror (a present mirror, if asked)."""


def _image_finding(
    site: ImageSite, index: MirrorIndex, settings: PolicySettings, digest: str | None
) -> Finding | object | None:
    image = site.image or ""
    if image_exempt(image, settings):
        return None
    plan = index.explain(image)
    if plan.parse_error:
        return Finding(
            site, Reason.INVALID_REFERENCE, plan.parse_error, "fix the reference", "invalid image"
        )
    if plan.plans and image_exempt(str(plan.plans[0].reference), settings):
        return None
    if plan.short_name:
        problem = (
            "no registry named: which one serves it depends on the node's search list and aliases"
        )
        mirrored = [p.reference for p in plan.plans if _mirror_serves(p)]
        if mirrored:
            fix = f"write the registry a mirror serves: {mirrored[0]}"
        elif plan.plans:  # Kubernetes' own reading, docker.io/..., which still needs mirroring
            fix = f"write the registry, e.g. {plan.plans[-1].reference}, and mirror it"
        else:
            problem = "no registry named, and the node has no search registries nor an alias for it"
            fix = "write the registry, and mirror it"
        return Finding(site, Reason.SHORT_NAME, problem, fix, "short name; write the registry")
    rejected = rejection_finding(plan.plans[0], index)
    if rejected is not None:
        return Finding(site, Reason.REGISTRY_NOT_ALLOWED, *rejected)
    finding = _plan_finding(site, plan.plans[0], index, digest)
    return _SERVED if finding is None else finding


def _mirror_serves(plan: PullPlan) -> bool:
    return any(candidate.role is Role.MIRROR for candidate in plan.reachable)


def _plan_finding(
    site: ImageSite, plan: PullPlan, index: MirrorIndex, digest: str | None
) -> Finding | None:
    if plan.error:
        problem = f"the node cannot build its list of mirrors: {plan.error}"
        fix = "drop the port or fix the mirror"
        return Finding(site, Reason.INVALID_REFERENCE, problem, fix, "no valid mirror path")
    if index.serves(plan):
        return None
    advice = _Advice(plan, index, digest)
    if not plan.reachable:
        return advice.blocked(site)
    if plan.reference.by_digest:
        return advice.digest_not_mirrored(site)
    return advice.tag_not_mirrored(site)


class _Advice:
    """What to tell the user, given what the mirror sets offer for this reference."""

    def __init__(self, plan: PullPlan, index: MirrorIndex, digest: str | None) -> None:
        self.reference = plan.reference
        self.digest = digest
        self.scope = plan.matched_prefix or _namespace_of(plan.reference)
        table = index.find_table(plan.reference.name)
        self.digest_mirrors = table is not None and any(m.for_digests for m in table.mirrors)
        name = plan.reference.name
        self.pin = f"use {name}@{digest}" if digest else f"pin it: {name}@sha256:<digest>"
        self.how = "" if digest else "; `idms-guard check --pin` finds the digest"
        self.blocked_mirrors = [c.pull_spec for c in plan.mirrors if c.blocked]
        self.words = index.vocabulary
        source = plan.candidates[-1] if plan.candidates else None
        origin = ", ".join(source.origins) if source else ""
        if IMAGE_ORIGIN in origin:
            self.blocking = f"blockedRegistries of {IMAGE_ORIGIN}"
        else:
            self.blocking = self.words.blocking.format(origin=origin)

    def blocked(self, site: ImageSite) -> Finding:
        problem = (
            f"{self.reference.domain} is blocked ({self.blocking}) and no mirror serves this pull"
        )
        if self.blocked_mirrors:
            problem += f"; its mirror {self.blocked_mirrors[0]} is in a blocked scope too"
            fix = (
                f"move the mirror out of the blocked scope, or add another mirror for {self.scope}"
            )
            hint = "source and mirrors all blocked"
            return Finding(site, Reason.SOURCE_BLOCKED_NO_MIRROR, problem, fix, hint, self.digest)
        if not self.reference.by_digest and self.digest_mirrors:
            fix = f"{self.pin} (the mirrors for {self.scope} serve digests only){self.how}"
            hint = "source blocked; pin by digest"
        else:
            fix, hint = f"add a mirror for {self.scope}", "source blocked and not mirrored"
        return Finding(site, Reason.SOURCE_BLOCKED_NO_MIRROR, problem, fix, hint, self.digest)

    def digest_not_mirrored(self, site: ImageSite) -> Finding:
        problem = (
            f"no {self.words.digest_rule} serves {self.reference.name}; "
            f"the node would go to {self.reference.domain}"
        )
        fix = "mirror it and " + self.words.add_digest_rule.format(scope=self.scope)
        hint = self.words.digest_hint
        return Finding(site, Reason.SOURCE_NOT_MIRRORED, problem, fix, hint)

    def tag_not_mirrored(self, site: ImageSite) -> Finding:
        problem = f"pulled by tag, and no {self.words.tag_rule} serves {self.reference.name}"
        if self.digest_mirrors:
            only = f"{self.words.digest_mirrors} serve digests only"
            fix = f"{self.pin} ({only}){self.how}"
            hint = "tag bypasses mirrors; pin by digest"
        else:
            add = self.words.add_tag_rule.format(scope=self.scope)
            fix = f"{add}, or mirror it and pin it by digest"
            hint = self.words.tag_hint
        return Finding(site, Reason.TAG_NOT_MIRRORED, problem, fix, hint, self.digest)


def image_exempt(image: str, settings: PolicySettings) -> bool:
    """Exempt by pattern, on the image as written (and, by the caller, its normalized form)."""
    return _any_of(settings.exempt_images).match(image) is not None


@functools.lru_cache(maxsize=64)
def _any_of(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """`fnmatchcase` against each pattern, as one expression: every pod asks this of each
    image and of its namespace, and one match costs less than one per pattern."""
    return re.compile("|".join(fnmatch.translate(pattern) for pattern in patterns) or "(?!)")


def _namespace_of(reference: ImageReference) -> str:
    """Where a mirror set would usually be rooted: the repository's parent (or registry)."""
    return reference.name.rsplit("/", 1)[0]

"""Which images the mutating webhook pins, where it may look their digests up, and what it
writes instead.

A tag is pinned as `<name as written>@sha256:…`: the name stays the source's, so the
cluster's ImageDigestMirrorSets keep redirecting the pull to the mirror. Pinning is only
proposed when that digest pull would actually be served by a mirror; otherwise a working
ITMS tag pull would become a digest pull straight to an unreachable source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from webhook.core.image_reference import ImageReference, parse, runtime_image
from webhook.core.lookups import Lookups, Resolution
from webhook.core.mirror_index import MirrorIndex, Role
from webhook.core.policy import PolicySettings, image_exempt
from webhook.core.workloads import ImageSite
from webhook.errors import InvalidReferenceError

_PROBE_DIGEST = "sha256:" + "0" * 64


@dataclass(frozen=True, slots=True)
class PinPlan:
    site: ImageSite
    image: str
    reference: ImageReference
    """The normalized tag reference the node would pull."""
    lookup_specs: tuple[str, ...]
    """Where the digest may be asked for, in order; empty when pinning is not possible."""
    unpinnable: str = ""
    """Why this tag cannot be pinned, for the warning; empty when it can."""


def pin_plan(site: ImageSite, index: MirrorIndex, include_source: bool = False) -> PinPlan | None:
    """The plan for one site, or None when there is nothing to pin (a digest already, a
    short name, or no valid reference: the validating endpoint reports those), or nothing
    to say (the tag pull is served by a mirror, though no digest mirror would be).

    Memoized on the index per image: a warm pin must not cost more than validating."""
    if site.image is None:
        return None
    image = site.image
    key = ("pin plan", image, "with source" if include_source else "")
    plan = index.derived(key, _pin_plan, site, image, index, include_source)
    if plan is None or plan.site is site:
        return plan
    return PinPlan(site, plan.image, plan.reference, plan.lookup_specs, plan.unpinnable)


def unexempt_pin_plan(
    site: ImageSite, index: MirrorIndex, settings: PolicySettings, include_source: bool = False
) -> PinPlan | None:
    """`pin_plan`, unless the image is exempt by its name as written or as the node reads
    it (`docker.io/nginx` is `docker.io/library/nginx`), as the validating side judges."""
    plan = pin_plan(site, index, include_source)
    if plan is None:
        return None
    key = ("pin exempt", plan.image, settings.exempt_images)  # cheaper to hash than settings
    return None if index.derived(key, _exempt, plan, settings) else plan


def _exempt(plan: PinPlan, settings: PolicySettings) -> bool:
    return image_exempt(plan.image, settings) or image_exempt(str(plan.reference), settings)


def _pin_plan(
    site: ImageSite, image: str, index: MirrorIndex, include_source: bool
) -> PinPlan | None:
    try:
        runtime = runtime_image(image, index.search_registries)
    except InvalidReferenceError:
        return None
    reference = runtime.references[0]
    if runtime.short_name or reference.by_digest:
        return None
    if not _digest_pull_is_mirrored(reference, index):
        if index.serves(index.candidates(reference)):
            return None  # an ImageTagMirrorSet serves the tag: it works as written
        reason = "no ImageDigestMirrorSet would serve it by digest"
        return PinPlan(site, image, reference, (), reason)
    specs = index.tag_lookup_specs(reference, include_source)
    if not specs:
        return PinPlan(site, image, reference, (), "no mirror set names a registry for it")
    return PinPlan(site, image, reference, specs)


@lru_cache(maxsize=4096)  # a warm pin writes the same few images again and again
def pinned_image(image: str, digest: str, keep_tag: bool = False) -> str:
    """`quay.io/org/app:1.4` → `quay.io/org/app@sha256:…` (or `…:1.4@sha256:…` with keep_tag)."""
    written = parse(image)
    tag = f":{written.tag or 'latest'}" if keep_tag else ""
    return f"{written.name}{tag}@{digest}"


def _digest_pull_is_mirrored(reference: ImageReference, index: MirrorIndex) -> bool:
    probe = ImageReference(reference.domain, reference.path, None, _PROBE_DIGEST)
    return index.serves(index.candidates(probe))


def digest_checks(
    plans: Sequence[PinPlan], resolutions: Mapping[str, Resolution], index: MirrorIndex
) -> list[tuple[str, tuple[str, ...]]]:
    """Where a digest found by tag must also be before it is pinned.

    The pinned reference is pulled from the digest mirrors. A digest found on a tag mirror
    whose repository none of them shares (oc-mirror usually writes one path for both) is
    looked for there too, as `name@digest`: otherwise pinning could send a working pull to
    a mirror that lacks the manifest."""
    checks = []
    for plan in plans:
        resolution = resolutions.get(plan.image)
        if resolution is None or not resolution.digest or not resolution.attempts:
            continue
        found_at = resolution.attempts[-1].pull_spec
        key = ("digest check", plan.image, found_at, resolution.digest)  # a warm pin repeats it
        mirrors = index.derived(
            key, _unchecked_mirrors, plan.reference, found_at, resolution.digest, index
        )
        if mirrors:
            checks.append((plan.image, mirrors))
    return checks


def _unchecked_mirrors(
    reference: ImageReference, found_at: str, digest: str, index: MirrorIndex
) -> tuple[str, ...]:
    """The digest mirrors to look in, or none when the tag was found in one's repository."""
    pinned = ImageReference(reference.domain, reference.path, None, digest)
    candidates = index.candidates(pinned).reachable
    mirrors = tuple(c.pull_spec for c in candidates if c.role is Role.MIRROR)
    found_repository = found_at.rsplit(":", 1)[0]
    if all(spec.split("@", 1)[0] != found_repository for spec in mirrors):
        return mirrors
    return ()


def checked(
    resolutions: Mapping[str, Resolution], checks: Mapping[str, Resolution]
) -> dict[str, Resolution]:
    """The resolutions, less the digests their check did not find on a digest mirror."""
    result = dict(resolutions)
    for image, check in checks.items():
        if check.digest is None and image in result:
            found_at = result[image].attempts[-1].pull_spec.split("/", 1)[0]
            reason = f"the digest found at {found_at} is not on the digest mirrors"
            result[image] = Resolution(image, None, result[image].attempts, reason)
    return result


def resolve_pins(
    plans: Sequence[PinPlan],
    index: MirrorIndex,
    resolve: Callable[[Lookups, float], list[Resolution]],
    timeout: float,
    clock: Callable[[], float],
) -> dict[str, Resolution]:
    """Digests for the plans, found by tag and checked on the digest mirrors, all within
    `timeout`; `resolve` asks the registries (the resolver adapter)."""
    started = clock()
    lookups = list({plan.image: plan.lookup_specs for plan in plans if plan.lookup_specs}.items())
    if not lookups:
        return {}
    resolutions = {result.image: result for result in resolve(lookups, timeout)}
    pending = digest_checks(plans, resolutions, index)
    if not pending:
        return resolutions
    remaining = max(0.0, timeout - (clock() - started))
    results = resolve([(f"{image} (digest check)", specs) for image, specs in pending], remaining)
    by_image = {image: result for (image, _), result in zip(pending, results, strict=True)}
    return checked(resolutions, by_image)

"""Which images the mutating webhook pins, where it may look their digests up, and what it
writes instead.

A tag is pinned as `<name as written>@sha256:…`: the name stays the source's, so the
cluster's ImageDigestMirrorSets keep redirecting the pull to the mirror. Pinning is only
proposed when that digest pull would actually be served by a mirror; otherwise a working
ITMS tag pull would become a digest pull straight to an unreachable source.
"""

from __future__ import annotations

from dataclasses import dataclass

from webhook.core.image_reference import ImageReference, parse, runtime_image
from webhook.core.mirror_index import MirrorIndex, Role
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
    short name, or no valid reference: the validating endpoint reports those)."""
    if site.image is None:
        return None
    try:
        runtime = runtime_image(site.image, index.search_registries)
    except InvalidReferenceError:
        return None
    reference = runtime.references[0]
    if runtime.short_name or reference.by_digest:
        return None
    if not _digest_pull_is_mirrored(reference, index):
        reason = "no ImageDigestMirrorSet would serve it by digest"
        return PinPlan(site, site.image, reference, (), reason)
    specs = index.tag_lookup_specs(reference, include_source)
    if not specs:
        return PinPlan(site, site.image, reference, (), "no mirror set names a registry for it")
    return PinPlan(site, site.image, reference, specs)


def pinned_image(image: str, digest: str, keep_tag: bool = False) -> str:
    """`quay.io/org/app:1.4` → `quay.io/org/app@sha256:…` (or `…:1.4@sha256:…` with keep_tag)."""
    written = parse(image)
    tag = f":{written.tag or 'latest'}" if keep_tag else ""
    return f"{written.name}{tag}@{digest}"


def _digest_pull_is_mirrored(reference: ImageReference, index: MirrorIndex) -> bool:
    probe = ImageReference(reference.domain, reference.path, None, _PROBE_DIGEST)
    plan = index.candidates(probe)
    if any(candidate.role is Role.MIRROR for candidate in plan.reachable):
        return True
    return bool(plan.reachable) and index.on_mirror(reference.name)

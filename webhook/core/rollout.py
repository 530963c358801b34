"""Warnings for a rollout in progress: an image whose verdict under the current objects
differs from its verdict under the files a pool's nodes run.

A new ImageDigestMirrorSet is admitted at once, but nodes get it only when their pool has
rolled out the new rendered MachineConfig (and never, when the operator refused it). The
webhook judges with the objects, since that is where the cluster is going; these warnings
say where it is now. They never deny anything by themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from webhook.core.machine_configs import PoolState, RenderedConfig
from webhook.core.mirror_index import MirrorIndex
from webhook.core.policy import PolicySettings, image_finding
from webhook.core.pool_report import PoolVerdict, pool_index
from webhook.core.workloads import ImageSite

ROLLOUT_WARNINGS_MAX = 3


@dataclass(frozen=True, slots=True)
class PoolFiles:
    """A pool whose files differ from the objects, and the index of what its nodes run."""

    pool: PoolState
    index: MirrorIndex
    refused: bool = False
    """The operator refused the current objects: the nodes keep these files for good."""

    @property
    def why(self) -> str:
        if self.refused:
            return "the operator refused the current mirror sets"
        if self.pool.rolling:
            return f"{self.pool.updated} of {self.pool.machines} updated"
        return "the operator has not rendered them yet"


def rollout_warnings(
    sites: Iterable[ImageSite],
    objects: MirrorIndex,
    pools: Sequence[PoolFiles],
    settings: PolicySettings,
) -> tuple[str, ...]:
    """One line per image and pool where the two verdicts differ, at most a few."""
    if not pools:
        return ()
    warnings: list[str] = []
    seen: set[str] = set()
    for site in sites:
        if site.image is None or site.image in seen:
            continue
        seen.add(site.image)
        fine_now = image_finding(site, objects, settings) is None
        for files in pools:
            if (image_finding(site, files.index, settings) is None) != fine_now:
                warnings.append(_warning(site.image, objects, files, fine_now))
    if len(warnings) > ROLLOUT_WARNINGS_MAX:
        more = len(warnings) - ROLLOUT_WARNINGS_MAX
        warnings = [*warnings[:ROLLOUT_WARNINGS_MAX], f"… and {more} more images mid-rollout"]
    return tuple(warnings)


def _warning(image: str, objects: MirrorIndex, files: PoolFiles, fine_now: bool) -> str:
    pool, progress = files.pool, files.why
    plan = objects.explain(image)
    scope = next((p.matched_prefix for p in plan.plans if p.matched_prefix), None)
    shown = image if len(image) <= 120 and image.isprintable() else repr(image[:120])
    if fine_now:
        what = f"the mirror set for {scope}" if scope else "its mirror set"
        return f"{shown}: {what} is not on all {pool.name} nodes yet: {progress}"
    return (
        f"{shown}: {pool.name} nodes still pull it through mirrors the mirror sets no longer "
        f"have: {progress}"
    )


def differing_pools(
    verdicts: Iterable[tuple[PoolVerdict, RenderedConfig | None]], refused: bool
) -> tuple[PoolFiles, ...]:
    """The pools to warn about: those whose readable files differ from the objects."""
    return tuple(
        PoolFiles(verdict.pool, pool_index(current), refused)
        for verdict, current in verdicts
        if not verdict.matches and current is not None
    )

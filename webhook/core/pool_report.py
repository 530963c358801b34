"""Does a pool run what the objects say? The rendered files against the objects' tables.

Compared by meaning, not text: one shape per `[[registry]]` prefix (location, blocked,
mirrors with their digest/tag use) and the search list, so the operator's formatting, the
order of tables and the digest-only style make no difference. Differences are told in the
user's terms: the objects that are not on the pool yet, the mirrors still on it that no
object has any more, and why (a rollout under way, or a configuration the operator
refused, in which case nodes keep the files they have).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from webhook.core.image_config import base_policy_json
from webhook.core.machine_configs import PoolState, RenderedConfig
from webhook.core.mirror_index import MirrorIndex
from webhook.core.node_registries import read_node_registries
from webhook.core.registry_tables import RegistryTable
from webhook.core.signature_policy import parse_policy_text
from webhook.core.vocabulary import OBJECTS

Shape = tuple[str, bool, bool, tuple[tuple[str, bool, bool, bool], ...]]


@dataclass(frozen=True, slots=True)
class PoolVerdict:
    pool: PoolState
    matches: bool
    """The files the pool's nodes all run mean what the objects render."""
    summary: str
    differences: tuple[str, ...]


def pool_index(config: RenderedConfig) -> MirrorIndex:
    """The index of a pool's rendered files, speaking of objects (it is OpenShift)."""
    registries = read_node_registries(config.files, config.policy_json)
    return MirrorIndex(
        registries.tables, registries.search_registries, aliases=registries.aliases,
        vocabulary=OBJECTS, signature_policy=registries.signature_policy,
    )  # fmt: skip


def judge_pool(
    pool: PoolState,
    objects: MirrorIndex,
    current: RenderedConfig | None,
    target: RenderedConfig | None,
    rejection: str | None = None,
) -> PoolVerdict:
    """`current`: the rendered config of `status.configuration`; `target`: of `spec`."""
    if current is None:
        summary = f"pool {pool.name}: its rendered configuration {pool.current!r} cannot be read"
        return PoolVerdict(pool, False, summary, ())
    ours, theirs = _shapes(objects.tables), _shapes(pool_index(current).tables)
    on_target = _shapes(pool_index(target).tables) if target is not None else {}
    why = _why(pool, current, rejection)
    differences = []
    for prefix in sorted(ours.keys() | theirs.keys()):
        if ours.get(prefix) == theirs.get(prefix):
            continue
        coming = pool.rolling and on_target.get(prefix) == ours.get(prefix)
        reason = f"{pool.updated} of {pool.machines} nodes updated" if coming else why
        if prefix in ours:
            names = _origins(next(t for t in objects.tables if t.prefix == prefix))
            verb = "changed, and not yet" if prefix in theirs else "not yet"
            differences.append(f"{names} {verb} on pool {pool.name}: {reason}")
        else:
            differences.append(
                f"the mirrors for {prefix} are still on pool {pool.name} though no object has "
                f"them now: {reason}"
            )
    differences += _search(pool, objects, current, why)
    differences += _policy(pool, objects, current, why)
    matches = not differences
    return PoolVerdict(
        pool, matches, _summary(pool, matches, current, rejection), tuple(differences)
    )


def verdict_lines(verdict: PoolVerdict) -> list[str]:
    return [verdict.summary, *(f"  - {difference}" for difference in verdict.differences)]


def verdicts_json(verdicts: Sequence[PoolVerdict]) -> str:
    """`report --pools -o json`: what the lines say, as fields a script can test."""
    pools = [
        {
            "pool": verdict.pool.name,
            "matches": verdict.matches,
            "rolling": verdict.pool.rolling,
            "machines": verdict.pool.machines,
            "updated": verdict.pool.updated,
            "current": verdict.pool.current,
            "target": verdict.pool.target,
            "summary": verdict.summary,
            "differences": list(verdict.differences),
        }
        for verdict in verdicts
    ]
    return json.dumps({"pools": pools}, indent=2) + "\n"


def _summary(pool: PoolState, matches: bool, current: RenderedConfig, rejection: str | None) -> str:
    progress = f"{pool.updated} of {pool.machines} nodes updated"
    if pool.rolling:
        progress += f" to {pool.target} (the others run {pool.current})"
    if matches:
        return f"pool {pool.name}: {progress}; the registries files match the objects"
    if rejection:
        return (
            f"pool {pool.name}: {progress}; the operator refused the current objects "
            f"({rejection}): nodes keep the configuration of {current.created or current.name}"
        )
    return f"pool {pool.name}: {progress}; the registries files differ from the objects"


def _why(pool: PoolState, current: RenderedConfig, rejection: str | None) -> str:
    if rejection:
        return f"the operator refused the current objects; nodes keep {current.name}"
    if pool.rolling:
        return f"not in {pool.target} either; the operator has not rendered it yet"
    return f"{current.name} does not have it; the operator has not rendered it yet"


def _search(pool: PoolState, objects: MirrorIndex, current: RenderedConfig, why: str) -> list[str]:
    theirs = read_node_registries(current.files).search_registries
    if tuple(objects.search_registries) == theirs:
        return []
    return [
        f"search registries on pool {pool.name} are {', '.join(theirs) or 'none'}, the "
        f"objects say {', '.join(objects.search_registries) or 'none'}: {why}"
    ]


def _policy(pool: PoolState, objects: MirrorIndex, current: RenderedConfig, why: str) -> list[str]:
    """policy.json compared as JSON meaning; a rendered config without one says nothing."""
    if current.policy_json is None:
        return []
    ours = objects.signature_policy or parse_policy_text(base_policy_json())
    if parse_policy_text(current.policy_json).to_json() == ours.to_json():
        return []
    return [f"the signature policy (policy.json) on pool {pool.name} is not the objects': {why}"]


def _shapes(tables: tuple[RegistryTable, ...]) -> Mapping[str, Shape]:
    return {
        table.prefix: (
            table.location,
            table.blocked,
            table.insecure,
            tuple((m.location, m.for_digests, m.for_all, m.insecure) for m in table.mirrors),
        )
        for table in tables
    }


def _origins(table: RegistryTable) -> str:
    names = {origin for mirror in table.mirrors for origin in mirror.origins}
    return ", ".join(sorted(names | set(table.blocked_by))) or f"the entry for {table.prefix}"

"""Mirror rules → the `[[registry]]` tables the machine-config operator writes (spec §3.2, §3.3).

One table per distinct source string: IDMS and ICSP entries form the digest group, ITMS
entries the tag group; each group merges its mirrors with the operator's topological
order. A table's digest-group mirrors come first (`pull-from-mirror = "digest-only"`),
then its tag-group mirrors (`"tag-only"`); `blocked` is set when any kept entry of
either group says `NeverContactSource`. Entries with no real mirror are dropped with
their policy, exactly as upstream does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from webhook.core.mirror_set_schema import MirrorRule
from webhook.core.topo_order import merged_mirror_order


@dataclass(frozen=True, slots=True)
class TableMirror:
    location: str
    for_digests: bool
    """True: `pull-from-mirror = "digest-only"` (IDMS/ICSP); False: `"tag-only"` (ITMS)."""
    origins: tuple[str, ...]
    """The objects that list this mirror for this source, as `Kind/name` (for node files:
    the file and table)."""
    for_all: bool = False
    """`pull-from-mirror = "all"` (or unset) in a hand-written registries.conf: used for
    digest and tag pulls alike, and `for_digests` is then False. The MCO never writes it."""
    insecure: bool = False
    """`insecure = true`: TLS not verified, plain HTTP allowed (Image/cluster
    `insecureRegistries`, or a registries.conf read from a node)."""

    def serves(self, by_digest: bool) -> bool:
        """Whether containers/image tries this mirror for a pull by digest (or by tag)."""
        return self.for_all or self.for_digests == by_digest


@dataclass(frozen=True, slots=True)
class RegistryTable:
    prefix: str
    blocked: bool
    mirrors: tuple[TableMirror, ...]
    blocked_by: tuple[str, ...] = ()
    endpoint: str | None = None
    """A `location` that differs from `prefix` (hand-written registries.conf only: the MCO
    always writes one of the two); None when the source is pulled where the prefix says."""
    insecure: bool = False
    """`insecure = true` on the table: attempts whose own table this is skip TLS checks."""

    @property
    def wildcard(self) -> bool:
        return self.prefix.startswith("*.")

    @property
    def location(self) -> str:
        """Where the source itself is pulled from; empty for `*.domain` tables (kept as is)."""
        if self.endpoint is not None:
            return self.endpoint
        return "" if self.wildcard else self.prefix


@dataclass
class _Group:
    mirrors: tuple[str, ...]
    origins: dict[str, list[str]]
    blocked_by: list[str]

    def origins_of(self, location: str) -> tuple[str, ...]:
        # The source can come out of the merge as a "mirror" no object listed (spec V20):
        # then every object of the group put it there.
        named = self.origins.get(location) or [o for names in self.origins.values() for o in names]
        return tuple(sorted(set(named)))


def build_tables(rules: Iterable[MirrorRule]) -> tuple[RegistryTable, ...]:
    rules = list(rules)
    digest_groups = _merge_group([rule for rule in rules if rule.for_digests])
    tag_groups = _merge_group([rule for rule in rules if not rule.for_digests])
    sources = sorted(digest_groups) + sorted(set(tag_groups) - set(digest_groups))
    tables = []
    for source in sources:
        digest, tag = digest_groups.get(source), tag_groups.get(source)
        mirrors: list[TableMirror] = []
        blocked_by: list[str] = []
        for group, for_digests in ((digest, True), (tag, False)):
            if group is None:
                continue
            blocked_by.extend(group.blocked_by)
            mirrors.extend(
                TableMirror(location, for_digests, group.origins_of(location))
                for location in group.mirrors
            )
        origins = tuple(sorted(set(blocked_by)))
        tables.append(RegistryTable(source, bool(origins), tuple(mirrors), origins))
    return tuple(tables)


def _merge_group(rules: list[MirrorRule]) -> dict[str, _Group]:
    by_source: dict[str, list[MirrorRule]] = {}
    for rule in rules:
        if any(mirror != rule.source for mirror in rule.mirrors):
            by_source.setdefault(rule.source, []).append(rule)
    groups = {}
    for source, kept in by_source.items():
        origins: dict[str, list[str]] = {}
        for rule in kept:
            for mirror in rule.mirrors:
                origins.setdefault(mirror, []).append(str(rule.origin))
        groups[source] = _Group(
            mirrors=merged_mirror_order(source, [rule.mirrors for rule in kept]),
            origins=origins,
            blocked_by=[str(rule.origin) for rule in kept if rule.never_contact_source],
        )
    return groups

"""Insecure and blocked scopes laid over the mirror tables, as runtime-utils does it.

The machine-config operator passes Image/cluster's `insecureRegistries` and (payload-
filtered) `blockedRegistries` to runtime-utils' `EditRegistriesConfig` together with the
mirror sets (spec §3.3). After the mirror tables are written:

1. every blocked scope gets a table (appended, in list order, if it has none);
2. every insecure scope gets a table and `insecure = true`, and so does every table whose
   scope lies inside it, and every mirror entry whose location lies inside it;
3. every table inside a blocked scope gets `blocked = true`;
4. a table inside a mirrored scope with no mirrors of its own receives the parent's
   mirrors with the extra path appended (`mirrorsAdjustedForNestedScope`), so that a
   nested blocked or insecure table does not silently drop the mirroring. For a
   wildcard parent that is impossible: upstream fails, and the operator renders nothing.

"Inside" is `ScopeIsNestedInsideScope`: equal, a `/`-path below, or for a `*.domain`
scope any host (or wildcard) ending in `.domain`, with or without a port.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from webhook.core.registry_tables import RegistryTable, TableMirror
from webhook.errors import MirrorSetError


class NestedScopeError(MirrorSetError):
    """runtime-utils cannot give a wildcard mirror scope's mirrors to a table inside it."""


def scope_is_nested_inside_scope(sub_scope: str, super_scope: str) -> bool:
    """runtime-utils `ScopeIsNestedInsideScope`, quirks included."""
    if sub_scope == super_scope:
        return True
    if sub_scope.startswith(super_scope + "/"):
        return True
    if not super_scope.startswith("*."):
        return False
    suffix = super_scope[1:]
    if ":" in sub_scope:
        host = sub_scope.split(":")[0]
        return host.endswith(suffix) and "/" not in host
    return sub_scope.split("/")[0].endswith(suffix)


def apply_registry_scopes(
    tables: Iterable[RegistryTable],
    insecure: Sequence[str] = (),
    blocked: Sequence[str] = (),
    origin: str = "Image/cluster",
) -> tuple[RegistryTable, ...]:
    """The tables `EditRegistriesConfig` ends with; `origin` names who asked for the
    blocks (it is what `from` says for a blocked candidate). Raises `NestedScopeError`."""
    result = list(tables)
    mirrored = [table.prefix for table in result if table.mirrors]

    def position(scope: str) -> int:
        for index, table in enumerate(result):
            if table.prefix == scope:
                return index
        result.append(RegistryTable(scope, False, ()))
        return len(result) - 1

    for scope in blocked:
        position(scope)
    for scope in insecure:
        position(scope)
        for index, table in enumerate(result):
            mirrors = tuple(
                replace(m, insecure=True) if scope_is_nested_inside_scope(m.location, scope) else m
                for m in table.mirrors
            )
            nested = table.insecure or scope_is_nested_inside_scope(table.prefix, scope)
            result[index] = replace(table, insecure=nested, mirrors=mirrors)
    for scope in blocked:
        position(scope)
        for index, table in enumerate(result):
            if scope_is_nested_inside_scope(table.prefix, scope):
                blocked_by = tuple(dict.fromkeys((*table.blocked_by, origin)))
                result[index] = replace(table, blocked=True, blocked_by=blocked_by)
    for parent_scope in mirrored:
        parent = result[position(parent_scope)]
        for index, table in enumerate(result):
            if (
                table.prefix != parent.prefix
                and not table.mirrors
                and scope_is_nested_inside_scope(table.prefix, parent.prefix)
            ):
                result[index] = replace(table, mirrors=_adjusted(parent, table.prefix))
    return tuple(result)


def _adjusted(parent: RegistryTable, sub_scope: str) -> tuple[TableMirror, ...]:
    if parent.wildcard:
        raise NestedScopeError(
            f'internal error: mirrorsAdjustedForNestedScope for a wildcard scope "{parent.prefix}"'
        )
    extra = sub_scope[len(parent.prefix) :]
    return tuple(replace(mirror, location=mirror.location + extra) for mirror in parent.mirrors)

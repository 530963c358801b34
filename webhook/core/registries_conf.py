"""Render registry tables as the `/etc/containers/registries.conf` the MCO writes (spec §3.3).

The text is equal in meaning to the operator's TOML, not byte-identical: same tables in
the same order, same keys. `digest_only_style="mirror-by-digest-only"` writes scopes
whose mirrors are all digest-only in the older registry-level form, which runtimes that
predate `pull-from-mirror` understand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from webhook.core.registry_tables import RegistryTable, TableMirror

PULL_FROM_MIRROR = "pull-from-mirror"
MIRROR_BY_DIGEST_ONLY = "mirror-by-digest-only"
DIGEST_ONLY_STYLES = (PULL_FROM_MIRROR, MIRROR_BY_DIGEST_ONLY)


def render(
    tables: Iterable[RegistryTable],
    search_registries: Sequence[str],
    digest_only_style: str = PULL_FROM_MIRROR,
) -> str:
    if digest_only_style not in DIGEST_ONLY_STYLES:
        raise ValueError(f"digest_only_style must be one of {DIGEST_ONLY_STYLES}")
    registries = ", ".join(quote(registry) for registry in search_registries)
    lines = [f"unqualified-search-registries = [{registries}]", 'short-name-mode = ""']
    for table in tables:
        legacy = digest_only_style == MIRROR_BY_DIGEST_ONLY and all(
            mirror.for_digests for mirror in table.mirrors
        )
        lines += ["", "[[registry]]"]
        own_prefix = table.wildcard or table.endpoint is not None
        lines.append(f"  prefix = {quote(table.prefix if own_prefix else '')}")
        if table.location:
            lines.append(f"  location = {quote(table.location)}")
        if table.insecure:
            lines.append("  insecure = true")
        if table.blocked:
            lines.append("  blocked = true")
        if legacy:
            lines.append(f"  {MIRROR_BY_DIGEST_ONLY} = true")
        for mirror in table.mirrors:
            lines += ["", "  [[registry.mirror]]", f"    location = {quote(mirror.location)}"]
            if mirror.insecure:
                lines.append("    insecure = true")
            if not legacy:
                mode = _pull_from_mirror(mirror)
                lines.append(f"    {PULL_FROM_MIRROR} = {quote(mode)}")
    return "\n".join(lines) + "\n"


def _pull_from_mirror(mirror: TableMirror) -> str:
    if mirror.for_all:
        return "all"
    return "digest-only" if mirror.for_digests else "tag-only"


def quote(text: str) -> str:
    """A TOML basic string; validated scopes never hold control characters."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

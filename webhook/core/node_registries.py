"""The node's own registries files → the tables `MirrorIndex` is built from.

Reads `registries.conf` and its `registries.conf.d/*.conf` drop-ins the way
containers/image (`pkg/sysregistriesv2`) loads them: each file is checked on its own
(`postProcessRegistries`: locations trimmed of a trailing `/`, no URL scheme, a prefix
defaulting to the location, one table per prefix with the first one in a file winning,
`pull-from-mirror` only on mirrors and never beside `mirror-by-digest-only`), then every
later file, in lexical order, replaces tables with the same prefix, replaces
`unqualified-search-registries` when it sets it (even to `[]`), and adds or resets
`[aliases]`. Only the V2 format is read: containers/image still converts V1 in the main
file, but a configuration worth judging has long moved on, and guessing is worse than
saying so.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from webhook.core.image_reference import DOMAIN_PATTERN
from webhook.core.node_aliases import parse_aliases
from webhook.core.registry_tables import RegistryTable, TableMirror
from webhook.core.signature_policy import SignaturePolicy, parse_policy_text
from webhook.errors import NodeConfigError

MAIN_FILE = "registries.conf"
DROP_IN_DIR = "registries.conf.d"
PULL_FROM_MIRROR_VALUES = ("", "all", "digest-only", "tag-only")
SHORT_NAME_MODES = ("", "disabled", "enforcing", "permissive")
_TOP_KEYS = frozenset(
    {
        "registry",
        "unqualified-search-registries",
        "short-name-mode",
        "aliases",
        "credential-helpers",
        "additional-layer-store-auth-helper",
    }
)
_REGISTRY_KEYS = frozenset(
    {"prefix", "location", "insecure", "blocked", "mirror-by-digest-only", "mirror"}
)
_MIRROR_KEYS = frozenset({"location", "insecure", "pull-from-mirror"})
_DOMAIN_RE = re.compile(DOMAIN_PATTERN, re.ASCII)


@dataclass(frozen=True, slots=True)
class NodeFile:
    """One file as the node has it: `name` relative to the configuration directory
    (`registries.conf`, `registries.conf.d/10-mirrors.conf`), and its text."""

    name: str
    text: str


@dataclass(frozen=True, slots=True)
class NodeRegistries:
    """What CRI-O on a node with these files works with."""

    files: tuple[str, ...]
    tables: tuple[RegistryTable, ...]
    search_registries: tuple[str, ...]
    search_origin: str | None
    """The file that set the search list (None: no file did, so there is none)."""
    aliases: Mapping[str, str]
    """Short name → fully-qualified repository, resets already applied."""
    alias_origins: Mapping[str, str]
    short_name_mode: str
    notes: tuple[str, ...] = field(default=())
    """Keys containers/image ignores (usually typos), as `file: …` lines."""
    signature_policy: SignaturePolicy | None = None
    """The node's policy.json, when it was given."""


def read_node_registries(
    files: Sequence[NodeFile], policy_json: str | None = None
) -> NodeRegistries:
    """`files` in the order the node reads them: the main file, then drop-ins by name;
    `policy_json`, the text of the node's /etc/containers/policy.json, when there is one."""
    tables: dict[str, RegistryTable] = {}
    search: tuple[str, ...] = ()
    search_origin: str | None = None
    aliases: dict[str, tuple[str, str]] = {}
    mode = ""
    notes: list[str] = []
    for node_file in files:
        document = _load(node_file)
        notes.extend(_unknown_keys(node_file.name, document))
        for table in _file_tables(node_file.name, document):
            tables[table.prefix] = table
        if "unqualified-search-registries" in document:
            search = _search_list(node_file.name, document["unqualified-search-registries"])
            search_origin = node_file.name
        mode = _short_name_mode(node_file.name, document) or mode
        for name, value in parse_aliases(node_file.name, document.get("aliases", {})).items():
            aliases[name] = (value, node_file.name)
    return NodeRegistries(
        files=tuple(node_file.name for node_file in files),
        tables=tuple(tables[prefix] for prefix in sorted(tables)),
        search_registries=search,
        search_origin=search_origin,
        aliases={name: value for name, (value, _) in aliases.items() if value},
        alias_origins={name: origin for name, (_, origin) in aliases.items()},
        short_name_mode=mode,
        notes=tuple(notes),
        signature_policy=parse_policy_text(policy_json) if policy_json is not None else None,
    )


def table_origin(file_name: str, prefix: str) -> str:
    """How findings name a table of a node file, where they name `Kind/name` for objects."""
    return f'{file_name} [[registry]] "{prefix}"'


def _load(node_file: NodeFile) -> dict[str, Any]:
    try:
        document = tomllib.loads(node_file.text)
    except tomllib.TOMLDecodeError as error:
        raise NodeConfigError(f"{node_file.name}: not valid TOML: {error}") from None
    if "registries" in document:
        raise NodeConfigError(
            f"{node_file.name}: this is the V1 registries.conf format ([registries.search], "
            "[registries.insecure], [registries.block]); idms-guard reads the V2 format "
            "only: write [[registry]] tables and unqualified-search-registries instead "
            "(containers-registries.conf(5))"
        )
    return document


def _unknown_keys(name: str, document: dict[str, Any]) -> list[str]:
    notes = [f"{name}: unknown key {key!r} is ignored" for key in document if key not in _TOP_KEYS]
    registries = document.get("registry", [])
    for number, table in enumerate(registries if isinstance(registries, list) else [], 1):
        where = f"{name}: [[registry]] #{number}"
        if not isinstance(table, dict):
            continue
        notes += [
            f"{where}: unknown key {k!r} is ignored" for k in table if k not in _REGISTRY_KEYS
        ]
        mirrors = table.get("mirror", [])
        for mirror in mirrors if isinstance(mirrors, list) else []:
            if isinstance(mirror, dict):
                notes += [
                    f"{where} mirror: unknown key {k!r} is ignored"
                    for k in mirror
                    if k not in _MIRROR_KEYS
                ]
    return notes


def _file_tables(name: str, document: dict[str, Any]) -> list[RegistryTable]:
    """`postProcessRegistries` for one file: checked tables, first one per prefix."""
    registries = document.get("registry", [])
    if not isinstance(registries, list) or not all(isinstance(t, dict) for t in registries):
        raise NodeConfigError(f"{name}: 'registry' must be [[registry]] tables")
    seen: dict[str, RegistryTable] = {}
    by_location: dict[str, RegistryTable] = {}
    for number, raw in enumerate(registries, 1):
        table = _table(f"{name}: [[registry]] #{number}", name, raw)
        other = by_location.setdefault(table.location or table.prefix, table)
        for setting in ("insecure", "blocked"):
            if getattr(other, setting) != getattr(table, setting):
                raise NodeConfigError(
                    f"{name}: registry '{table.location}' is defined multiple times with "
                    f"conflicting '{setting}' setting"
                )
        seen.setdefault(table.prefix, table)
    return list(seen.values())


def _table(where: str, name: str, raw: dict[str, Any]) -> RegistryTable:
    location = _location(where, "location", raw)
    prefix = _location(where, "prefix", raw) or location
    if not prefix:
        raise NodeConfigError(f"{where}: invalid condition: both location and prefix are unset")
    wildcard = prefix.startswith("*.")
    if not location and not wildcard:
        raise NodeConfigError(
            f"{where}: invalid condition: location is unset and prefix is not in the format: "
            "*.example.com"
        )
    if wildcard and any(char in prefix for char in "/@:"):
        raise NodeConfigError(
            f"{where}: wildcarded prefix should be in the format: *.example.com; {prefix!r} is not"
        )
    if "pull-from-mirror" in raw:
        raise NodeConfigError(
            f"{where}: pull-from-mirror must not be set for a non-mirror registry"
        )
    by_digest_only = _flag(where, "mirror-by-digest-only", raw)
    origin = table_origin(name, prefix)
    mirrors = _mirrors(where, raw, by_digest_only, origin)
    blocked = _flag(where, "blocked", raw)
    default_location = "" if wildcard else prefix
    return RegistryTable(
        prefix,
        blocked,
        mirrors,
        (origin,) if blocked else (),
        endpoint=None if location == default_location else location,
        insecure=_flag(where, "insecure", raw),
    )


def _mirrors(
    where: str, raw: dict[str, Any], by_digest_only: bool, origin: str
) -> tuple[TableMirror, ...]:
    entries = raw.get("mirror", [])
    if not isinstance(entries, list) or not all(isinstance(m, dict) for m in entries):
        raise NodeConfigError(f"{where}: 'mirror' must be [[registry.mirror]] tables")
    mirrors = []
    for number, entry in enumerate(entries, 1):
        at = f"{where} mirror #{number}"
        location = _location(at, "location", entry)
        if not location:
            raise NodeConfigError(f"{at}: invalid condition: mirror location is unset")
        mode = entry.get("pull-from-mirror", "")
        if mode not in PULL_FROM_MIRROR_VALUES:
            raise NodeConfigError(f"{at}: unsupported pull-from-mirror value {mode!r}")
        if by_digest_only and mode:
            raise NodeConfigError(
                f"{at}: cannot set mirror-by-digest-only for the registry and pull-from-mirror "
                f"for the mirror {location!r} at the same time"
            )
        digest_only = by_digest_only or mode == "digest-only"
        for_all = not digest_only and mode in ("", "all")
        insecure = _flag(at, "insecure", entry)
        mirrors.append(TableMirror(location, digest_only, (origin,), for_all, insecure))
    return tuple(mirrors)


def _location(where: str, key: str, raw: dict[str, Any]) -> str:
    """`parseLocation`: trailing slashes dropped, URL schemes refused."""
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise NodeConfigError(f"{where}: {key} must be a string")
    trimmed = value.rstrip("/")
    if trimmed.startswith(("http://", "https://")):
        raise NodeConfigError(f"{where}: invalid {key} {value!r}: URI schemes are not supported")
    return trimmed


def _flag(where: str, key: str, raw: dict[str, Any]) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise NodeConfigError(f"{where}: {key} must be true or false, not {value!r}")
    return value


def _search_list(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise NodeConfigError(f"{name}: unqualified-search-registries must be a list of strings")
    registries = []
    for entry in value:
        registry = _location(name, "entry", {"entry": entry})
        if not _DOMAIN_RE.fullmatch(registry):
            raise NodeConfigError(
                f"{name}: invalid unqualified-search-registries entry {entry!r} "
                "(a host[:port], no path)"
            )
        registries.append(registry)
    return tuple(registries)


def _short_name_mode(name: str, document: dict[str, Any]) -> str:
    mode = document.get("short-name-mode", "")
    if mode not in SHORT_NAME_MODES:
        raise NodeConfigError(f"{name}: invalid short-name-mode {mode!r}")
    return str(mode)

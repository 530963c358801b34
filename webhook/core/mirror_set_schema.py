"""One mirror-set document → rules, checked against the CRD schemas in ../shared/crds.

Anything the API server would refuse is reported here as `OBJECT_REFUSED` with the field
path kubectl would print; such an object cannot exist in a cluster, so none of its
rules are used. Unknown fields are dropped silently, as structural schemas prune them
(an ICSP's `mirrorSourcePolicy` therefore does nothing, exactly as on a cluster).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from webhook.core.image_reference import DOMAIN_LABEL_PATTERN, DOMAIN_PATTERN, PATH_PATTERN


class MirrorSetKind(Enum):
    """The three cluster-scoped kinds, with the facts that differ between them."""

    IDMS = ("ImageDigestMirrorSet", "config.openshift.io/v1", "imageDigestMirrors", True, True)
    ITMS = ("ImageTagMirrorSet", "config.openshift.io/v1", "imageTagMirrors", False, True)
    ICSP = (
        "ImageContentSourcePolicy",
        "operator.openshift.io/v1alpha1",
        "repositoryDigestMirrors",
        True,
        False,
    )

    def __init__(
        self, kind: str, api_version: str, field: str, for_digests: bool, schema_patterns: bool
    ) -> None:
        self.kind = kind
        self.api_version = api_version
        self.field = field
        self.for_digests = for_digests
        # IDMS/ITMS CRDs carry the patterns, policy enum and unique mirrors; ICSP's does not.
        self.schema_patterns = schema_patterns

    @classmethod
    def for_kind(cls, kind: str) -> MirrorSetKind | None:
        return next((member for member in cls if member.kind == kind), None)


NEVER_CONTACT_SOURCE = "NeverContactSource"
ALLOW_CONTACTING_SOURCE = "AllowContactingSource"
_POLICIES = (NEVER_CONTACT_SOURCE, ALLOW_CONTACTING_SOURCE)

# The CRD's P_MIR / P_SRC (spec §1.1) are the reference grammar's domain and path, so they
# are built from the same linear-time pieces (the CRD's own `[-]*` form backtracks
# exponentially in Python). fullmatch, because Go's `$` is Python's `\Z`.
_MIRROR_PATTERN = rf"{DOMAIN_PATTERN}(?:/{PATH_PATTERN})?"
MIRROR_RE = re.compile(_MIRROR_PATTERN, re.ASCII)
SOURCE_RE = re.compile(rf"\*(?:\.{DOMAIN_LABEL_PATTERN})+|{_MIRROR_PATTERN}", re.ASCII)
# Mirror/source strings longer than this are refused before the regex sees them; no
# registry host plus repository path comes near it.
_SCOPE_LENGTH_MAX = 1024


class ProblemScope(Enum):
    """How far a problem reaches."""

    OBJECT_REFUSED = "object-refused"  # the API server would not store it; ignored
    CONFIG_REJECTED = "config-rejected"  # the MCO renders nothing; nodes keep the old config
    FIELD_DROPPED = "field-dropped"  # an unknown field the API server prunes; object kept
    NOTE = "note"  # used as it is, but not as written (the operator only logs it)


@dataclass(frozen=True, slots=True)
class ObjectId:
    kind: MirrorSetKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    object: str
    field: str
    message: str
    scope: ProblemScope

    def __str__(self) -> str:
        where = f"{self.object} {self.field}".strip()
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class MirrorRule:
    """One `source → mirrors` entry of one object."""

    origin: ObjectId
    source: str
    mirrors: tuple[str, ...]
    never_contact_source: bool

    @property
    def for_digests(self) -> bool:
        return self.origin.kind.for_digests

    @property
    def policy(self) -> str:
        return NEVER_CONTACT_SOURCE if self.never_contact_source else ALLOW_CONTACTING_SOURCE


def valid_source(text: str) -> bool:
    return len(text) <= _SCOPE_LENGTH_MAX and SOURCE_RE.fullmatch(text) is not None


def valid_mirror(text: str) -> bool:
    return len(text) <= _SCOPE_LENGTH_MAX and MIRROR_RE.fullmatch(text) is not None


_KNOWN = ", ".join(f"{kind.api_version} {kind.kind}" for kind in MirrorSetKind)


@dataclass
class ReadObject:
    object_id: ObjectId | None
    rules: list[MirrorRule] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)


def read_object(document: Any, position: int) -> ReadObject:
    """Read one document (its `position` names it when it has no usable name)."""
    label = f"document #{position + 1}"
    if not isinstance(document, Mapping):
        return _refused(label, "", f"expected an object, got {type(document).__name__}")
    kind_name, api_version = document.get("kind"), document.get("apiVersion")
    kind = MirrorSetKind.for_kind(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        return _refused(label, "kind", f"unknown kind {kind_name!r}; expected one of {_KNOWN}")
    name = _object_name(document)
    if name is None:
        return _refused(f"{kind.kind} ({label})", "metadata.name", "Required value")
    object_id = ObjectId(kind, name)
    read = ReadObject(object_id)
    if api_version != kind.api_version:
        read.problems.append(
            _problem(object_id, "apiVersion", f"{api_version!r}: {kind.kind} is {kind.api_version}")
        )
        return read
    spec = document.get("spec")
    if not isinstance(spec, Mapping):
        read.problems.append(_problem(object_id, "spec", "Required value: must be an object"))
        return read
    for key in spec:
        if key != kind.field:
            read.problems.append(_dropped(object_id, f"spec.{key}", kind))
    entries = spec.get(kind.field)
    if entries is None:
        return read
    if not isinstance(entries, list):
        read.problems.append(_problem(object_id, f"spec.{kind.field}", "must be a list"))
        return read
    for index, entry in enumerate(entries):
        _read_entry(read, object_id, f"spec.{kind.field}[{index}]", entry)
    if any(problem.scope is ProblemScope.OBJECT_REFUSED for problem in read.problems):
        read.rules.clear()
    return read


def _read_entry(read: ReadObject, object_id: ObjectId, path: str, entry: Any) -> None:
    kind = object_id.kind
    problems = read.problems
    if not isinstance(entry, Mapping):
        problems.append(_problem(object_id, path, "must be an object"))
        return
    known = (
        ("source", "mirrors", "mirrorSourcePolicy")
        if kind.schema_patterns
        else ("source", "mirrors")
    )
    for key in entry:
        if key not in known:
            problems.append(_dropped(object_id, f"{path}.{key}", kind))
    source = entry.get("source")
    if not isinstance(source, str):
        problems.append(_problem(object_id, f"{path}.source", "Required value: a string"))
        return
    if kind.schema_patterns and not valid_source(source):
        problems.append(_problem(object_id, f"{path}.source", _pattern_message(source, "source")))
    mirrors = entry.get("mirrors")
    mirrors = [] if mirrors is None else mirrors
    if not isinstance(mirrors, list) or not all(isinstance(m, str) for m in mirrors):
        problems.append(_problem(object_id, f"{path}.mirrors", "must be a list of strings"))
        return
    policy = entry.get("mirrorSourcePolicy") if kind.schema_patterns else None
    if kind.schema_patterns:
        seen: set[str] = set()
        for mirror_index, mirror in enumerate(mirrors):
            mirror_path = f"{path}.mirrors[{mirror_index}]"
            if not valid_mirror(mirror):
                problems.append(
                    _problem(object_id, mirror_path, _pattern_message(mirror, "mirror"))
                )
            elif mirror in seen:
                problems.append(_problem(object_id, mirror_path, f"Duplicate value: {mirror!r}"))
            seen.add(mirror)
        if policy is not None and policy not in _POLICIES:
            problems.append(
                _problem(
                    object_id,
                    f"{path}.mirrorSourcePolicy",
                    f"Unsupported value: {policy!r}: supported values: "
                    + ", ".join(f'"{p}"' for p in _POLICIES),
                )
            )
    read.rules.append(MirrorRule(object_id, source, tuple(mirrors), policy == NEVER_CONTACT_SOURCE))


def _object_name(document: Mapping[str, Any]) -> str | None:
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) and name else None


def _pattern_message(value: str, what: str) -> str:
    shown = value if len(value) <= 80 else value[:77] + "..."
    if what == "source":
        shape = "host[:port][/namespace[/repo]] or *.domain"
    else:
        shape = "host[:port][/namespace[/repo]]"
    return f"Invalid value: {shown!r}: not a valid {what}, expected {shape} (lower-case path)"


def _dropped(object_id: ObjectId, path: str, kind: MirrorSetKind) -> ConfigProblem:
    """A field the CRD does not have: the API server drops it silently, so say so here."""
    fields = "source, mirrors, mirrorSourcePolicy" if kind.schema_patterns else "source, mirrors"
    message = (
        f"unknown field, dropped by the API server ({kind.kind} has spec.{kind.field}"
        f" entries with {fields})"
    )
    return ConfigProblem(str(object_id), path, message, ProblemScope.FIELD_DROPPED)


def _problem(object_id: ObjectId, path: str, message: str) -> ConfigProblem:
    return ConfigProblem(str(object_id), path, message, ProblemScope.OBJECT_REFUSED)


def _refused(label: str, path: str, message: str) -> ReadObject:
    return ReadObject(
        None, problems=[ConfigProblem(label, path, message, ProblemScope.OBJECT_REFUSED)]
    )

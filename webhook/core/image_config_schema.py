"""Image (`images.config.openshift.io`) and ClusterVersion documents, through their CRD gates.

Only what decides a node's pull is read: `spec.registrySources` of the Image named
`cluster` (the only one the machine-config operator reads) and `status.desired.image` of
the ClusterVersion named `version` (the release payload, which the operator will not let
`blockedRegistries` cut off). Schema breaches are `OBJECT_REFUSED` with the field path
kubectl prints (the CRDs' patterns, lengths, list sizes, `format: hostname`, unique search
registries); unknown `registrySources` fields are pruned, as the API server does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.core.mirror_set_schema import SOURCE_RE, ConfigProblem, ProblemScope

API_VERSION = "config.openshift.io/v1"
IMAGE_KIND = "Image"
CLUSTER_VERSION_KIND = "ClusterVersion"
IMAGE_NAME = "cluster"
CLUSTER_VERSION_NAME = "version"
IMAGE_ORIGIN = f"{IMAGE_KIND}/{IMAGE_NAME}"
KINDS = (IMAGE_KIND, CLUSTER_VERSION_KIND)

SCOPE_LISTS = ("allowedRegistries", "blockedRegistries", "insecureRegistries")
SEARCH_LIST = "containerRuntimeSearchRegistries"
_SCOPE_MAX_LENGTH = 256
_SCOPE_MAX_ITEMS = 1024
_SCOPE_MESSAGE = (
    "each registry must be a valid hostname[:port][/path] or wildcard *.hostname format "
    "without tags or digests"
)
# go-openapi strfmt's `hostname`, ASCII part: DNS labels, a last label of letters; no port.
_HOSTNAME_RE = re.compile(
    r"[a-zA-Z0-9](?:-?[a-zA-Z0-9]){0,62}"
    r"|(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class RegistrySources:
    """`spec.registrySources` of Image/cluster, lists in the order written."""

    allowed: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    insecure: tuple[str, ...] = ()
    search: tuple[str, ...] = ()


@dataclass
class ReadConfigObject:
    name: str | None
    sources: RegistrySources | None = None
    release_image: str | None = None
    problems: list[ConfigProblem] = field(default_factory=list)


def is_image_config_kind(document: Any) -> bool:
    return isinstance(document, Mapping) and document.get("kind") in KINDS


def read_config_object(document: Mapping[str, Any], position: int) -> ReadConfigObject:
    kind = str(document.get("kind"))
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        label = f"{kind} (document #{position + 1})"
        return ReadConfigObject(None, problems=[_refused(label, "metadata.name", "Required value")])
    read = ReadConfigObject(name)
    label = f"{kind}/{name}"
    if document.get("apiVersion") != API_VERSION:
        read.problems.append(
            _refused(
                label, "apiVersion", f"{document.get('apiVersion')!r}: {kind} is {API_VERSION}"
            )
        )
        return read
    wanted = IMAGE_NAME if kind == IMAGE_KIND else CLUSTER_VERSION_NAME
    if name != wanted:
        message = (
            f"the machine-config operator reads only {kind}/{wanted}; this one changes nothing"
        )
        read.problems.append(
            ConfigProblem(label, "metadata.name", message, ProblemScope.FIELD_DROPPED)
        )
        return read
    spec = document.get("spec")
    if not isinstance(spec, Mapping):
        read.problems.append(_refused(label, "spec", "Required value: must be an object"))
        return read
    if kind == IMAGE_KIND:
        _read_image(read, label, spec)
    else:
        _read_cluster_version(read, label, spec, document.get("status"))
    return read


def _read_image(read: ReadConfigObject, label: str, spec: Mapping[str, Any]) -> None:
    sources = spec.get("registrySources", {})
    if not isinstance(sources, Mapping):
        read.problems.append(_refused(label, "spec.registrySources", "must be an object"))
        return
    lists: dict[str, tuple[str, ...]] = {}
    for key, value in sources.items():
        path = f"spec.registrySources.{key}"
        if key not in (*SCOPE_LISTS, SEARCH_LIST):
            message = "unknown field, dropped by the API server"
            read.problems.append(ConfigProblem(label, path, message, ProblemScope.FIELD_DROPPED))
        elif not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            read.problems.append(_refused(label, path, "must be a list of strings"))
        else:
            read.problems.extend(_list_problems(label, path, key, value))
            lists[key] = tuple(value)
    if not any(p.scope is ProblemScope.OBJECT_REFUSED for p in read.problems):
        read.sources = RegistrySources(
            lists.get("allowedRegistries", ()),
            lists.get("blockedRegistries", ()),
            lists.get("insecureRegistries", ()),
            lists.get(SEARCH_LIST, ()),
        )


def _list_problems(label: str, path: str, key: str, items: list[str]) -> list[ConfigProblem]:
    if key == SEARCH_LIST:
        problems = [] if items else [_refused(label, path, "must have at least 1 items")]
        seen: set[str] = set()
        for index, item in enumerate(items):
            if _HOSTNAME_RE.fullmatch(item) is None:
                problems.append(_refused(label, f"{path}[{index}]", f"{item!r}: not a hostname"))
            elif item in seen:
                problems.append(_refused(label, f"{path}[{index}]", f"Duplicate value: {item!r}"))
            seen.add(item)
        return problems
    problems = []
    if len(items) > _SCOPE_MAX_ITEMS:
        problems.append(_refused(label, path, f"Too many: {len(items)}: must have at most 1024"))
    for index, item in enumerate(items):
        if not 1 <= len(item) <= _SCOPE_MAX_LENGTH:
            problems.append(_refused(label, f"{path}[{index}]", "must be 1 to 256 characters"))
        elif SOURCE_RE.fullmatch(item) is None:
            problems.append(_refused(label, f"{path}[{index}]", f"{item!r}: {_SCOPE_MESSAGE}"))
    return problems


def _read_cluster_version(
    read: ReadConfigObject, label: str, spec: Mapping[str, Any], status: Any
) -> None:
    if not isinstance(spec.get("clusterID"), str):
        read.problems.append(_refused(label, "spec.clusterID", "Required value: a string"))
        return
    desired = status.get("desired") if isinstance(status, Mapping) else None
    image = desired.get("image") if isinstance(desired, Mapping) else None
    if image is not None and not isinstance(image, str):
        read.problems.append(_refused(label, "status.desired.image", "must be a string"))
        return
    read.release_image = image or None


def _refused(label: str, path: str, message: str) -> ConfigProblem:
    return ConfigProblem(label, path, message, ProblemScope.OBJECT_REFUSED)

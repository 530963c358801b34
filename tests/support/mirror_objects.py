"""Build IDMS/ITMS/ICSP objects (and the `Image/cluster` that shapes the node's other files)
for tests from the compact form the spec's vectors use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Entry = dict[str, Any]

_KINDS = {
    "idms": ("config.openshift.io/v1", "ImageDigestMirrorSet", "imageDigestMirrors"),
    "itms": ("config.openshift.io/v1", "ImageTagMirrorSet", "imageTagMirrors"),
    "icsp": (
        "operator.openshift.io/v1alpha1",
        "ImageContentSourcePolicy",
        "repositoryDigestMirrors",
    ),
}


def mirror_object(kind: str, name: str, entries: Sequence[Entry]) -> dict[str, Any]:
    api_version, kind_name, field = _KINDS[kind]
    return {
        "apiVersion": api_version,
        "kind": kind_name,
        "metadata": {"name": name},
        "spec": {field: [dict(entry) for entry in entries]},
    }


def entry(source: str, *mirrors: str, never: bool = False) -> Entry:
    result: Entry = {"source": source, "mirrors": list(mirrors)}
    if never:
        result["mirrorSourcePolicy"] = "NeverContactSource"
    return result


def objects_from_vector_config(config: dict[str, list[list[Entry]]]) -> list[dict[str, Any]]:
    """The vectors' `{idms: [[entry, ...] per object]}`, objects named idms1, idms2, ..."""
    return [
        mirror_object(kind, f"{kind}{number}", entries)
        for kind in ("idms", "itms", "icsp")
        for number, entries in enumerate(config.get(kind, []), start=1)
    ]


def image_config(**registry_sources: Any) -> dict[str, Any]:
    """`image.config.openshift.io/cluster` with `spec.registrySources` as given
    (`blockedRegistries=[...]`, `allowedRegistries=[...]`, …)."""
    return {
        "apiVersion": "config.openshift.io/v1",
        "kind": "Image",
        "metadata": {"name": "cluster"},
        "spec": {"registrySources": registry_sources},
    }

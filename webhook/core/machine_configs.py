"""What a MachineConfigPool's nodes run: its rendered MachineConfig's registries files, and
where the pool stands in a rollout.

A rendered MachineConfig carries every file the machine-config daemon writes, as Ignition
`spec.config.storage.files[]`: `path` and `contents.source`, a data URL (RFC 2397) that is
percent-encoded (`data:,unqualified-search-registries%20%3D…`) or base64
(`data:text/plain;charset=utf-8;base64,…`), optionally gzip-compressed
(`contents.compression: gzip`). The pool says which rendered config is the target
(`spec.configuration.name`) and which one every node has reached
(`status.configuration.name`, which the operator moves only when all are updated), and
how far the rollout is (`status.updatedMachineCount` of `status.machineCount`).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from webhook.core.node_registries import DROP_IN_DIR, MAIN_FILE, NodeFile
from webhook.errors import NodeConfigError

ETC_CONTAINERS = "/etc/containers/"
POLICY_JSON = "policy.json"


@dataclass(frozen=True, slots=True)
class RenderedConfig:
    """The registries files of one rendered MachineConfig, named as under /etc/containers."""

    name: str
    created: str
    """`metadata.creationTimestamp`: when the operator rendered it."""
    files: tuple[NodeFile, ...]
    """registries.conf, then the registries.conf.d drop-ins in the order the node reads them."""
    policy_json: str | None


@dataclass(frozen=True, slots=True)
class PoolState:
    name: str
    target: str
    """`spec.configuration.name`: the rendered config the pool is moving to."""
    current: str
    """`status.configuration.name`: the rendered config every node has reached."""
    machines: int
    updated: int

    @property
    def rolling(self) -> bool:
        return self.target != self.current or self.updated < self.machines


def rendered_config(machine_config: Mapping[str, Any]) -> RenderedConfig:
    metadata = _mapping(machine_config.get("metadata"))
    name = str(metadata.get("name", "?"))
    storage = _mapping(_mapping(_mapping(machine_config.get("spec")).get("config")).get("storage"))
    files = storage.get("files") or []
    if not isinstance(files, list):
        raise NodeConfigError(f"MachineConfig/{name}: spec.config.storage.files is not a list")
    texts: dict[str, str] = {}
    for entry in files:
        path = _mapping(entry).get("path")
        relative = path[len(ETC_CONTAINERS) :] if isinstance(path, str) else ""
        if not path or not path.startswith(ETC_CONTAINERS) or not _registries_file(relative):
            continue
        texts[relative] = file_text(_mapping(entry).get("contents"), f"MachineConfig/{name} {path}")
    policy = texts.pop(POLICY_JSON, None)
    ordered = sorted(texts, key=lambda relative: (relative != MAIN_FILE, relative))
    return RenderedConfig(
        name,
        str(metadata.get("creationTimestamp", "")),
        tuple(NodeFile(relative, texts[relative]) for relative in ordered),
        policy,
    )


def pool_state(pool: Mapping[str, Any]) -> PoolState:
    metadata, spec, status = (_mapping(pool.get(key)) for key in ("metadata", "spec", "status"))
    return PoolState(
        name=str(metadata.get("name", "?")),
        target=str(_mapping(spec.get("configuration")).get("name", "")),
        current=str(_mapping(status.get("configuration")).get("name", "")),
        machines=_count(status.get("machineCount")),
        updated=_count(status.get("updatedMachineCount")),
    )


def file_text(contents: Any, where: str) -> str:
    """The text of an Ignition file's `contents` (data URL, optional gzip)."""
    source = _mapping(contents).get("source")
    if not isinstance(source, str):
        raise NodeConfigError(f"{where}: contents.source is not a data URL")
    data = decode_data_url(source, where)
    if _mapping(contents).get("compression") == "gzip":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise NodeConfigError(f"{where}: gzip contents do not decompress: {error}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NodeConfigError(f"{where}: contents are not UTF-8 text") from None


def decode_data_url(url: str, where: str) -> bytes:
    """RFC 2397 `data:[<mediatype>][;base64],<data>`."""
    if not url.startswith("data:") or "," not in url:
        raise NodeConfigError(f"{where}: contents.source is not a data URL ({url[:40]!r})")
    header, payload = url[len("data:") :].split(",", 1)
    if header.split(";")[-1].strip().lower() == "base64":
        try:
            return base64.b64decode(unquote_to_bytes(payload), validate=True)
        except (binascii.Error, ValueError) as error:
            raise NodeConfigError(
                f"{where}: the base64 data URL does not decode: {error}"
            ) from None
    return unquote_to_bytes(payload)


def _registries_file(relative: str) -> bool:
    if relative in (MAIN_FILE, POLICY_JSON):
        return True
    directory, _, name = relative.partition("/")
    return directory == DROP_IN_DIR and "/" not in name and name.endswith(".conf")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0

"""A node's configuration directory (`--node-config DIR`, laid out like /etc/containers)
→ the index CRI-O on that node works with, with its policy.json when DIR has one.

Read as containers/image reads it: `registries.conf`, then every `*.conf` directly in
`registries.conf.d/`, in name order. Subdirectories are skipped (a mounted ConfigMap
keeps its versions in `..data` directories), symlinks followed (its keys are symlinks).
"""

from __future__ import annotations

from pathlib import Path

from webhook.core.mirror_index import MirrorIndex
from webhook.core.node_registries import (
    DROP_IN_DIR,
    MAIN_FILE,
    NodeFile,
    NodeRegistries,
    read_node_registries,
)
from webhook.errors import NodeConfigError, SignaturePolicyError

POLICY_JSON = "policy.json"


def read_node_files(directory: str) -> list[NodeFile]:
    root = Path(directory)
    if not root.is_dir():
        raise NodeConfigError(
            f"{directory}: no such directory (--node-config names a directory laid out like "
            "/etc/containers: registries.conf, registries.conf.d/*.conf)"
        )
    files = []
    if (root / MAIN_FILE).exists():
        files.append(NodeFile(MAIN_FILE, _read(root / MAIN_FILE)))
    drop_ins = root / DROP_IN_DIR
    if drop_ins.is_dir():
        for path in sorted(drop_ins.iterdir(), key=lambda path: path.name):
            if path.name.endswith(".conf") and path.is_file():
                files.append(NodeFile(f"{DROP_IN_DIR}/{path.name}", _read(path)))
    if not files:
        raise NodeConfigError(
            f"{directory}: holds neither {MAIN_FILE} nor {DROP_IN_DIR}/*.conf; "
            "is it the node's /etc/containers?"
        )
    return files


def load_node_config(directory: str) -> NodeRegistries:
    """Raises NodeConfigError naming the file by its path under `directory`."""
    files = read_node_files(directory)
    policy = Path(directory) / POLICY_JSON
    policy_json = _read(policy) if policy.exists() else None
    try:
        return read_node_registries(files, policy_json)
    except (NodeConfigError, SignaturePolicyError) as error:
        raise NodeConfigError(f"{directory.rstrip('/')}/{error}") from None


def node_index(directory: str) -> MirrorIndex:
    return MirrorIndex.from_node_files(load_node_config(directory))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NodeConfigError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise NodeConfigError(f"{path}: cannot be read: {error.strerror or error}") from None

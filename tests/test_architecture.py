"""DESIGN.md's layering, enforced: the core is pure, adapters wrap one library each."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "webhook"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def core_may_import(module: str) -> bool:
    top = module.split(".")[0]
    return (
        top in sys.stdlib_module_names
        or module == "webhook.errors"
        or module == "webhook.core"
        or module.startswith("webhook.core.")
    )


def python_files(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


@pytest.mark.parametrize("path", python_files("core"), ids=lambda p: p.name)
def test_core_imports_only_the_standard_library_the_core_and_errors(path: Path) -> None:
    outside = sorted(m for m in imported_modules(path) if not core_may_import(m))
    assert outside == [], f"{path.name} imports {outside}"


def adapter_of(module_stem: str) -> str:
    """One adapter may span modules named `<adapter>_<part>` (`tls_certificates`,
    `tls_serving`): they wrap the same library and may use each other."""
    return module_stem.split("_")[0]


@pytest.mark.parametrize("path", python_files("adapters"), ids=lambda p: p.name)
def test_adapters_do_not_import_each_other(path: Path) -> None:
    others = sorted(
        m
        for m in imported_modules(path)
        if m.startswith("webhook.adapters")
        and adapter_of(m.removeprefix("webhook.adapters.")) != adapter_of(path.stem)
    )
    assert others == [], f"{path.name} imports {others}"


def test_every_adapter_module_is_found_by_the_import_scan() -> None:
    nested = sorted(str(path.relative_to(PACKAGE)) for path in (PACKAGE / "adapters").rglob("*.py"))
    flat = sorted(str(path.relative_to(PACKAGE)) for path in python_files("adapters"))
    assert nested == flat, "adapters are flat modules, so the scan above sees each one"


def test_relative_imports_are_not_used_so_the_scan_sees_everything() -> None:
    relative = [
        path.name
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert relative == []

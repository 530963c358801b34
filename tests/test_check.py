"""`idms-guard check` over a directory of manifests with known findings (golden outputs in
tests/data/check/expected; `UPDATE_GOLDEN=1` rewrites them)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.test_cli import run

CHECK = Path(__file__).parent / "data" / "check"
MANIFESTS = CHECK / "manifests"


def golden(name: str, actual: str) -> str:
    path = CHECK / "expected" / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual)
    return path.read_text()


def check(*extra: str) -> tuple[int, str, str]:
    relative = os.path.relpath(MANIFESTS)
    return run("check", relative, "--example", *extra)


@pytest.mark.parametrize("output", ["text", "json", "sarif"])
def test_findings_match_the_golden_output(output: str) -> None:
    code, out, err = check("--output", output)
    assert (code, err) == (1, "")
    assert out == golden(f"findings.{output}", out)


def test_each_finding_points_at_the_image_line() -> None:
    _, out, _ = check("--output", "json")
    for finding in json.loads(out):
        line = Path(finding["file"]).read_text().splitlines()[finding["line"] - 1]
        assert finding["image"] in line


def test_exempt_namespaces_and_other_kinds_are_not_reported() -> None:
    _, out, _ = check("--output", "json")
    names = {finding["name"] for finding in json.loads(out)}
    assert names == {"shop", "report", "debug"}


def test_sarif_names_every_rule_and_levels_follow_the_mode() -> None:
    _, out, _ = check("--output", "sarif", "--mode", "warn")
    run_ = json.loads(out)["runs"][0]
    assert {rule["id"] for rule in run_["tool"]["driver"]["rules"]} >= {
        result["ruleId"] for result in run_["results"]
    }
    assert {result["level"] for result in run_["results"]} == {"warning"}


def test_warn_mode_reports_but_exits_0() -> None:
    code, out, _ = check("--mode", "warn")
    assert code == 0
    assert "tag-not-mirrored" in out


def test_clean_manifests_exit_0_with_no_output() -> None:
    code, out, err = run("check", str(MANIFESTS / "clean.json"), "--example")
    assert (code, out, err) == (0, "", "")


def test_manifests_can_come_from_stdin() -> None:
    code, out, _ = run("check", "-", "--example", stdin=(MANIFESTS / "deployment.yaml").read_text())
    assert code == 1
    assert out.startswith("<stdin>:16: Deployment/shop")


def test_unreadable_input_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pod\nspec: {containers: [\n")
    code, out, err = run("check", str(bad), "--example")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "not valid YAML" in err

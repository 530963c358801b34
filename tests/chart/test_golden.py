"""Golden snapshots of what the chart renders, to review every change of output in a diff.

The chart-generated certificates differ on every render, so their base64 is masked (after
checking it is there); everything else must match byte for byte. `UPDATE_GOLDEN=1`
rewrites the snapshots.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.chart.cases import CASES_BY_NAME
from tests.support.helm import Helm

GOLDEN = Path(__file__).parent / "golden"
GENERATED = re.compile(
    r"^(?P<key>\s*(?:caBundle|ca\.crt|tls\.crt|tls\.key|next-ca\.crt|next-ca\.key): )"
    r"[A-Za-z0-9+/]{200,}={0,2}$",
    re.MULTILINE,
)
MASK = "<generated at render time>"


def masked(text: str) -> str:
    return GENERATED.sub(lambda match: match["key"] + MASK, text)


def compare(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    expected = path.read_text()
    assert text == expected, f"{name} changed; review and run with UPDATE_GOLDEN=1"


def test_default_render(helm: Helm) -> None:
    text = helm.template().text
    # the Secret's five keys (CA, certificate, key, next CA and its key) and one caBundle
    # per webhook entry (3 validating, 1 mutating)
    assert len(GENERATED.findall(text)) == 5 + 4
    compare("default.yaml", masked(text))


@pytest.mark.parametrize("case_name", ["certificates-openshift"])
def test_render(helm: Helm, case_name: str) -> None:
    text = CASES_BY_NAME[case_name].render(helm).text
    assert not GENERATED.search(text)
    compare(f"{case_name}.yaml", text)


def test_notes(helm: Helm) -> None:
    compare("NOTES.txt", helm.notes())

"""Every worked example of ../shared/spec/mirror-vectors.json, produced by the upstream code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.mirror_objects import objects_from_vector_config
from webhook.core.mirror_index import ImagePlan, MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets

VECTORS_FILE = Path(__file__).parents[1] / "data" / "mirror-vectors.json"
SHARED_VECTORS = Path(__file__).parents[3] / "shared" / "spec" / "mirror-vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]


def vectors(outcome: str) -> list[Any]:
    """Vectors by outcome: `mcoRejects`, `parseError`, or a pull `plan`."""

    def outcome_of(vector: dict[str, Any]) -> str:
        return next((key for key in ("mcoRejects", "parseError") if key in vector), "plan")

    return [pytest.param(v, id=v["id"]) for v in VECTORS if outcome_of(v) == outcome]


def plan_as_vector(plan: ImagePlan) -> list[dict[str, Any]]:
    rows = []
    for pull in plan.plans:
        row: dict[str, Any] = {
            "normalized": str(pull.reference),
            "matchedPrefix": pull.matched_prefix,
        }
        if pull.error:
            row["error"] = pull.error
        else:
            row["attempts"] = [{"ref": c.pull_spec, "blocked": c.blocked} for c in pull.candidates]
        rows.append(row)
    return rows


def test_vectors_are_the_shared_copy() -> None:
    if not SHARED_VECTORS.exists():
        pytest.skip("../shared is not beside this checkout")
    assert json.loads(SHARED_VECTORS.read_text()) == json.loads(VECTORS_FILE.read_text())


def test_every_vector_is_covered() -> None:
    assert len(VECTORS) == 101
    assert len(vectors("plan")) + len(vectors("mcoRejects")) + len(vectors("parseError")) == 101


@pytest.mark.parametrize("vector", vectors("plan"))
def test_pull_attempts_match_upstream(vector: dict[str, Any]) -> None:
    config = load_mirror_sets(objects_from_vector_config(vector["config"]))
    assert config.problems == ()
    plan = MirrorIndex.from_config(config).explain(vector["image"])
    assert plan_as_vector(plan) == vector["candidates"]


@pytest.mark.parametrize("vector", vectors("mcoRejects"))
def test_configurations_the_operator_refuses_are_rejected(vector: dict[str, Any]) -> None:
    config = load_mirror_sets(objects_from_vector_config(vector["config"]))
    assert config.mco_rejection == vector["mcoRejects"]


@pytest.mark.parametrize("vector", vectors("parseError"))
def test_unparsable_images_are_reported_with_the_upstream_reason(vector: dict[str, Any]) -> None:
    config = load_mirror_sets(objects_from_vector_config(vector["config"]))
    plan = MirrorIndex.from_config(config).explain(vector["image"])
    upstream_reason = vector["parseError"].rsplit(": ", 1)[-1]
    assert plan.plans == ()
    assert plan.parse_error is not None
    assert upstream_reason in plan.parse_error

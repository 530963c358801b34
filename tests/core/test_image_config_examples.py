"""Worked examples of Image/cluster on a node (tests/data/image-config/examples.json).

Each example carries its reasoning (`why`), the objects, and what the machine-config
operator writes from them: registries.conf tables, policy.json and the search drop-in,
or its refusal; then, per image, the attempts the node makes, the signature policy's
verdict on the logical reference, and the webhook's finding.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from webhook.core.explanation import explanation_json, finding_for_image
from webhook.core.image_config import base_policy_json
from webhook.core.image_reference import OPENSHIFT_SEARCH_REGISTRIES
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_set_schema import ProblemScope
from webhook.core.mirror_sets import MirrorSetConfig, load_mirror_sets
from webhook.core.policy import PolicySettings
from webhook.core.registries_conf import render

EXAMPLES = json.loads(
    (Path(__file__).parents[1] / "data" / "image-config" / "examples.json").read_text()
)


def by_id(examples: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(example, id=f"{example['id']}-{example['title']}") for example in examples]


def loaded(example: dict[str, Any]) -> tuple[MirrorSetConfig, MirrorIndex]:
    config = load_mirror_sets(example["objects"])
    return config, MirrorIndex.from_config(config)


def attempts(candidates: list[dict[str, Any]]) -> list[str]:
    return [
        c["pull_spec"]
        + (" ✗blocked" if c["blocked"] else "")
        + (" (insecure)" if c.get("insecure") else "")
        for c in candidates
    ]


@pytest.mark.parametrize("example", by_id(EXAMPLES))
def test_every_example_says_why(example: dict[str, Any]) -> None:
    assert example["why"]
    assert example["expect"]


@pytest.mark.parametrize("example", by_id(EXAMPLES))
def test_the_operator_refuses_or_accepts_as_the_example_says(example: dict[str, Any]) -> None:
    config, _ = loaded(example)
    assert config.mco_rejection == example["rejection"]
    notes = [p.message for p in config.problems if p.scope is ProblemScope.NOTE]
    assert notes == example["notes"]


@pytest.mark.parametrize("example", by_id(EXAMPLES))
def test_registries_conf_has_the_operators_tables(example: dict[str, Any]) -> None:
    _, index = loaded(example)
    text = render(index.tables, OPENSHIFT_SEARCH_REGISTRIES)
    assert tomllib.loads(text).get("registry", []) == example["registries_conf"]


@pytest.mark.parametrize("example", by_id(EXAMPLES))
def test_policy_json_is_the_operators(example: dict[str, Any]) -> None:
    config, _ = loaded(example)
    text = config.node.policy_json() if config.node else base_policy_json()
    assert json.loads(text) == example["policy_json"]


@pytest.mark.parametrize("example", by_id(EXAMPLES))
def test_the_search_drop_in_is_written_only_for_a_search_list(example: dict[str, Any]) -> None:
    config, _ = loaded(example)
    written = config.node.search_drop_in if config.node else None
    assert written == example["search_conf"]
    if written is not None:
        assert tomllib.loads(written)["unqualified-search-registries"]


@pytest.mark.parametrize("example", by_id(EXAMPLES))
def test_each_image_gets_its_attempts_verdict_and_finding(example: dict[str, Any]) -> None:
    _, index = loaded(example)
    assert_judged_as_stated(example, index)


def assert_judged_as_stated(example: dict[str, Any], index: MirrorIndex) -> None:
    """Every image of the example gets the attempts (or expansions), policy verdict and
    finding the example states."""
    for expected in example["expect"]:
        answer = explanation_json(index.explain(expected["image"]))
        finding = finding_for_image(expected["image"], index, PolicySettings())
        if "expansions" in expected:
            got = [
                {
                    "reference": e["reference"],
                    "attempts": attempts(e["candidates"]),
                    "policy": e["policy"],
                }
                for e in answer["expansions"]
            ]
            assert got == expected["expansions"], expected["image"]
        else:
            assert attempts(answer["candidates"]) == expected["attempts"], expected["image"]
            assert answer.get("policy") == expected["policy"], expected["image"]
        assert (finding.reason.value if finding else None) == expected["finding"], expected["image"]

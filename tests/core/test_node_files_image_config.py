"""The node files the operator writes for each Image/cluster worked example
(tests/data/image-config/examples.json) — registries.conf, policy.json and the
search-registries drop-in — read back as a node's own files, give every image the
attempts, policy verdict and finding the example states for the objects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.test_image_config_examples import (
    EXAMPLES,
    assert_judged_as_stated,
    by_id,
    loaded,
)
from webhook.core.image_config import base_policy_json
from webhook.core.image_reference import OPENSHIFT_SEARCH_REGISTRIES
from webhook.core.mirror_index import MirrorIndex
from webhook.core.node_registries import NodeFile, read_node_registries
from webhook.core.registries_conf import render

SEARCH_DROP_IN = "registries.conf.d/01-image-searchRegistries.conf"
RENDERED = [example for example in EXAMPLES if example["rejection"] is None]


def node_index(example: dict[str, Any]) -> MirrorIndex:
    config, index = loaded(example)
    files = [NodeFile("registries.conf", render(index.tables, OPENSHIFT_SEARCH_REGISTRIES))]
    node = config.node
    if node is not None and node.search_drop_in is not None:
        files.append(NodeFile(SEARCH_DROP_IN, node.search_drop_in))
    policy = node.policy_json() if node is not None else base_policy_json()
    return MirrorIndex.from_node_files(read_node_registries(files, policy))


@pytest.mark.parametrize("example", by_id(RENDERED))
def test_the_operators_files_read_back_judge_as_the_objects(example: dict[str, Any]) -> None:
    assert_judged_as_stated(example, node_index(example))


def test_some_examples_are_rendered() -> None:
    assert len(RENDERED) >= len(EXAMPLES) // 2

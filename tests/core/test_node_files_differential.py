"""The node files and the objects agree: an index built from the registries.conf that the
objects render (read back by `read_node_registries`) gives the same pull attempts as the
index built from the objects themselves, for every worked example and for generated
configurations, in both digest-only styles."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.core.test_mirror_vectors import plan_as_vector, vectors
from tests.e2e.test_skopeo_oracle import DIGEST, REPOSITORIES, mirror_objects
from tests.support.mirror_objects import objects_from_vector_config
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.node_registries import NodeFile, read_node_registries
from webhook.core.registries_conf import DIGEST_ONLY_STYLES


def read_back(index: MirrorIndex, style: str) -> MirrorIndex:
    conf = NodeFile("registries.conf", index.registries_conf(digest_only_style=style))
    node = read_node_registries([conf])
    return MirrorIndex(node.tables, node.search_registries, aliases=node.aliases)


def attempts(index: MirrorIndex, image: str) -> list[dict[str, Any]]:
    return plan_as_vector(index.explain(image))


@pytest.mark.parametrize("style", DIGEST_ONLY_STYLES)
@pytest.mark.parametrize("vector", vectors("plan"))
def test_the_rendered_files_pull_as_the_objects_do(vector: dict[str, Any], style: str) -> None:
    index = MirrorIndex.from_config(load_mirror_sets(objects_from_vector_config(vector["config"])))
    assert attempts(read_back(index, style), vector["image"]) == vector["candidates"]


@settings(derandomize=True, max_examples=150, deadline=None, database=None)
@given(
    objects=mirror_objects(),
    repository=st.sampled_from(REPOSITORIES),
    suffix=st.sampled_from((f"@{DIGEST}", ":v1")),
)
def test_the_rendered_files_pull_as_generated_objects_do(
    objects: list[dict[str, Any]], repository: str, suffix: str
) -> None:
    config = load_mirror_sets(objects)
    assume(config.mco_rejection is None and not config.problems)
    index = MirrorIndex.from_config(config)
    for style in DIGEST_ONLY_STYLES:
        assert attempts(read_back(index, style), repository + suffix) == attempts(
            index, repository + suffix
        )

"""Image/cluster's blocked and insecure scopes over the mirror tables, judged by us and by
the real containers/image (skopeo) on the registries.conf we render.

skopeo can express the pull order (attempts, blocked ones, rewriting failures) under the
tables that `blockedRegistries` and `insecureRegistries` add, nested blocked tables with
the mirrors they inherit included. It cannot express the signature policy (`inspect`
never evaluates it) nor short-name search (its docker transport normalizes to docker.io):
those are covered by the worked examples in tests/data/image-config.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.e2e.test_skopeo_oracle import (
    DIGEST,
    M1,
    M2,
    SRC,
    assert_engine_matches_skopeo,
    mirror_objects,
    skopeo,
)
from tests.support.mirror_objects import entry, image_config, mirror_object
from tests.support.skopeo_oracle import SkopeoOracle
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets

__all__ = ["skopeo"]

pytestmark = pytest.mark.skopeo

SCOPES = (SRC, f"{SRC}/team", f"{SRC}/team/app", f"{SRC}/other", M1, f"{M1}/ns", M2, "*.0.0.2")
REPOSITORIES = (f"{SRC}/team/app", f"{SRC}/team/app/sub", f"{SRC}/other/app", f"{M1}/ns/app")


def image(blocked: list[str], insecure: list[str]) -> dict[str, Any]:
    sources: dict[str, list[str]] = {}
    if blocked:
        sources["blockedRegistries"] = blocked
    if insecure:
        sources["insecureRegistries"] = insecure
    return image_config(**sources)


def index_of(objects: list[dict[str, Any]]) -> MirrorIndex | None:
    config = load_mirror_sets(objects)
    if config.mco_rejection is not None:
        return None  # the operator writes nothing: there is no file to compare
    assert config.node is not None
    return MirrorIndex.from_config(config)


CASES = [
    pytest.param(
        [mirror_object("idms", "d", [entry(f"{SRC}/team", f"{M1}/team")])],
        [f"{SRC}/team/secret"],
        [],
        f"{SRC}/team/secret/app@{DIGEST}",
        id="nested-blocked-keeps-the-mirror",
    ),
    pytest.param(
        [mirror_object("idms", "d", [entry(SRC, f"{M1}/src")])],
        [SRC],
        [M1],
        f"{SRC}/app@{DIGEST}",
        id="blocked-mirrored-source-insecure-mirror",
    ),
    pytest.param(
        [mirror_object("itms", "t", [entry(f"{SRC}/team", f"{M1}/ns")])],
        [f"{M1}/ns"],
        [],
        f"{SRC}/team/app:v1",
        id="mirror-inside-a-blocked-scope",
    ),
    pytest.param([], ["*.0.0.2"], [], f"{SRC}/app:v1", id="wildcard-blocked"),
]


@pytest.mark.parametrize(("objects", "blocked", "insecure", "pull"), CASES)
def test_image_config_pulls_match_skopeo(
    skopeo: SkopeoOracle,
    objects: list[dict[str, Any]],
    blocked: list[str],
    insecure: list[str],
    pull: str,
) -> None:
    index = index_of([*objects, image(blocked, insecure)])
    assert index is not None
    assert_engine_matches_skopeo(skopeo, index, pull, "pull-from-mirror")


@settings(derandomize=True, max_examples=40, deadline=None, database=None)
@given(
    objects=mirror_objects(),
    blocked=st.lists(st.sampled_from(SCOPES), max_size=2, unique=True),
    insecure=st.lists(st.sampled_from(SCOPES), max_size=2, unique=True),
    repository=st.sampled_from(REPOSITORIES),
    suffix=st.sampled_from((f"@{DIGEST}", ":v1")),
)
def test_generated_image_configs_pull_as_skopeo_does(
    skopeo: SkopeoOracle,
    objects: list[dict[str, Any]],
    blocked: list[str],
    insecure: list[str],
    repository: str,
    suffix: str,
) -> None:
    index = index_of([*objects, image(blocked, insecure)])
    assume(index is not None)
    assert index is not None
    assert_engine_matches_skopeo(skopeo, index, repository + suffix, "pull-from-mirror")

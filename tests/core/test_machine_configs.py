"""What a pool runs: the registries files of rendered MachineConfigs (both data-URL
encodings, gzip), the pool's rollout state, and the comparison with what the current
objects render, in the user's terms."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.machine_configs import machine_config_pool, rendered_machine_config
from tests.support.mirror_objects import entry, mirror_object
from webhook.core.image_config import base_policy_json
from webhook.core.machine_configs import (
    PoolState,
    decode_data_url,
    file_text,
    pool_state,
    rendered_config,
)
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.pool_report import judge_pool, pool_index
from webhook.errors import NodeConfigError

REDHAT = mirror_object("idms", "redhat", [entry("registry.redhat.io", "mirror.corp/redhat")])
ACME = mirror_object("itms", "acme", [entry("quay.io/acme", "mirror.corp/acme")])
DROP_IN = 'unqualified-search-registries = ["registry.access.redhat.com", "docker.io"]\n'


def conf(*objects: dict[str, Any]) -> str:
    return MirrorIndex.from_config(load_mirror_sets(list(objects))).registries_conf()


def objects_index(*objects: dict[str, Any]) -> MirrorIndex:
    return MirrorIndex.from_config(load_mirror_sets(list(objects)))


# --- data URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["base64", "percent"])
def test_both_data_url_encodings_give_the_registries_files_back(encoding: str) -> None:
    text = conf(REDHAT, ACME)
    machine_config = rendered_machine_config(
        "rendered-worker-1",
        {"registries.conf": text, "registries.conf.d/01-search.conf": DROP_IN},
        encoding,
    )
    rendered = rendered_config(machine_config)
    assert [(f.name, f.text) for f in rendered.files] == [
        ("registries.conf", text),
        ("registries.conf.d/01-search.conf", DROP_IN),
    ]
    assert rendered.created == "2026-11-30T10:00:00Z"


def test_gzip_compressed_contents_are_unpacked() -> None:
    text = conf(REDHAT)
    machine_config = rendered_machine_config(
        "rendered-worker-1", {"registries.conf": text}, compress=True
    )
    assert rendered_config(machine_config).files[0].text == text


def test_files_outside_the_registries_files_are_left_out() -> None:
    machine_config = rendered_machine_config(
        "rendered-worker-1",
        {"registries.conf": "", "registries.d/default.yaml": "x", "policy.json": "{}"},
    )
    rendered = rendered_config(machine_config)
    assert [f.name for f in rendered.files] == ["registries.conf"]
    assert rendered.policy_json == "{}"


def test_a_percent_encoded_url_keeps_every_character() -> None:
    assert decode_data_url("data:,a%20%3D%20%5B%22x%22%5D%0A", "here") == b'a = ["x"]\n'


def test_a_media_type_with_parameters_before_base64_is_read() -> None:
    assert decode_data_url("data:text/plain;charset=utf-8;base64,eCA9IDE=", "here") == b"x = 1"


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ({"source": "https://example.com/registries.conf"}, "is not a data URL"),
        ({"source": "data:;base64,!!!"}, "the base64 data URL does not decode"),
        ({"source": "data:;base64,aGVsbG8=", "compression": "gzip"}, "do not decompress"),
        ({"source": "data:,%FF%FE"}, "not UTF-8 text"),
        ({}, "contents.source is not a data URL"),
    ],
)
def test_a_file_that_cannot_be_decoded_is_named(contents: dict[str, Any], message: str) -> None:
    where = "MachineConfig/x /etc/containers/registries.conf"
    with pytest.raises(NodeConfigError, match="^" + re.escape(where + ": ")):
        file_text(contents, where)
    with pytest.raises(NodeConfigError, match=message):
        file_text(contents, "here")


# --- pools --------------------------------------------------------------------------------


def test_a_pool_says_its_target_what_all_nodes_reached_and_how_far_it_is() -> None:
    pool = pool_state(machine_config_pool("worker", "rendered-worker-2", "rendered-worker-1", 5, 3))
    assert pool == PoolState("worker", "rendered-worker-2", "rendered-worker-1", 5, 3)
    assert pool.rolling


def test_a_settled_pool_is_not_rolling() -> None:
    pool = pool_state(machine_config_pool("worker", "rendered-worker-1", "rendered-worker-1", 5, 5))
    assert not pool.rolling


def rendered(name: str, *objects: dict[str, Any], created: str = "2026-11-30T10:00:00Z") -> Any:
    files = {"registries.conf": conf(*objects)}
    return rendered_config(rendered_machine_config(name, files, created=created))


def test_a_settled_pool_whose_files_mean_what_the_objects_render_matches() -> None:
    pool = PoolState("worker", "rendered-worker-1", "rendered-worker-1", 5, 5)
    current = rendered("rendered-worker-1", ACME, REDHAT)
    verdict = judge_pool(pool, objects_index(REDHAT, ACME), current, current)
    assert verdict.matches
    assert verdict.summary == (
        "pool worker: 5 of 5 nodes updated; the registries files match the objects"
    )


def test_a_mirror_set_not_yet_rolled_out_says_how_far_the_rollout_is() -> None:
    pool = PoolState("worker", "rendered-worker-2", "rendered-worker-1", 5, 3)
    verdict = judge_pool(
        pool,
        objects_index(REDHAT, ACME),
        rendered("rendered-worker-1", ACME),
        rendered("rendered-worker-2", REDHAT, ACME),
    )
    assert not verdict.matches
    assert verdict.differences == (
        "ImageDigestMirrorSet/redhat not yet on pool worker: 3 of 5 nodes updated",
    )
    assert verdict.summary.startswith(
        "pool worker: 3 of 5 nodes updated to rendered-worker-2 (the others run rendered-worker-1)"
    )


def test_a_refused_configuration_says_nodes_keep_what_they_have_since_when() -> None:
    pool = PoolState("worker", "rendered-worker-1", "rendered-worker-1", 5, 5)
    current = rendered("rendered-worker-1", ACME, created="2026-11-28T08:15:00Z")
    rejection = 'invalid format for source "quay.io/NS/"'
    verdict = judge_pool(pool, objects_index(REDHAT, ACME), current, current, rejection)
    assert verdict.summary == (
        "pool worker: 5 of 5 nodes updated; the operator refused the current objects "
        f"({rejection}): nodes keep the configuration of 2026-11-28T08:15:00Z"
    )
    assert verdict.differences == (
        "ImageDigestMirrorSet/redhat not yet on pool worker: the operator refused the current "
        "objects; nodes keep rendered-worker-1",
    )


def test_mirrors_of_a_deleted_object_still_on_the_pool_are_named_by_scope() -> None:
    pool = PoolState("worker", "rendered-worker-1", "rendered-worker-1", 2, 2)
    current = rendered("rendered-worker-1", ACME, REDHAT)
    verdict = judge_pool(pool, objects_index(ACME), current, current)
    assert verdict.differences == (
        "the mirrors for registry.redhat.io are still on pool worker though no object has them "
        "now: rendered-worker-1 does not have it; the operator has not rendered it yet",
    )


def test_the_same_tables_in_the_other_digest_only_style_match() -> None:
    text = objects_index(REDHAT).registries_conf(digest_only_style="mirror-by-digest-only")
    current = rendered_config(
        rendered_machine_config("rendered-worker-1", {"registries.conf": text})
    )
    pool = PoolState("worker", "rendered-worker-1", "rendered-worker-1", 1, 1)
    assert judge_pool(pool, objects_index(REDHAT), current, current).matches


def test_the_pool_index_pulls_as_its_files_say() -> None:
    index = pool_index(rendered("rendered-worker-1", REDHAT))
    digest = "sha256:" + "c" * 64
    plan = index.explain(f"registry.redhat.io/ubi9/ubi@{digest}")
    assert [c.pull_spec for c in plan.plans[0].candidates] == [
        f"mirror.corp/redhat/ubi9/ubi@{digest}",
        f"registry.redhat.io/ubi9/ubi@{digest}",
    ]


BLOCKED_QUAY_IMAGE = {
    "apiVersion": "config.openshift.io/v1",
    "kind": "Image",
    "metadata": {"name": "cluster"},
    "spec": {"registrySources": {"blockedRegistries": ["quay.io"]}},
}


def with_policy(name: str, policy_json: str, *objects: dict[str, Any]) -> Any:
    files = {"registries.conf": conf(*objects), "policy.json": policy_json}
    return rendered_config(rendered_machine_config(name, files))


def test_a_pool_whose_policy_json_is_the_default_matches_objects_without_an_image() -> None:
    pool = PoolState("worker", "rendered-worker-1", "rendered-worker-1", 2, 2)
    current = with_policy("rendered-worker-1", base_policy_json(), ACME)
    assert judge_pool(pool, objects_index(ACME), current, current).matches


def test_a_policy_json_the_image_config_has_not_reached_yet_is_a_difference() -> None:
    pool = PoolState("worker", "rendered-worker-1", "rendered-worker-1", 2, 2)
    objects = objects_index(ACME, BLOCKED_QUAY_IMAGE)
    current = with_policy("rendered-worker-1", base_policy_json(), ACME)
    verdict = judge_pool(pool, objects, current, current)
    assert any(
        d.startswith("the signature policy (policy.json) on pool worker")
        for d in verdict.differences
    )

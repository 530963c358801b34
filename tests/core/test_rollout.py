"""Rollout warnings: an image whose verdict under the objects differs from its verdict under
the files a pool's nodes run gets one line saying why, and nothing is ever denied for it."""

from __future__ import annotations

from typing import Any

from tests.support.machine_configs import rendered_machine_config
from tests.support.mirror_objects import entry, mirror_object
from webhook.core.machine_configs import PoolState, rendered_config
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings
from webhook.core.pool_report import pool_index
from webhook.core.rollout import ROLLOUT_WARNINGS_MAX, PoolFiles, rollout_warnings
from webhook.core.workloads import ContainerType, ImageSite

REDHAT = mirror_object("idms", "redhat", [entry("registry.redhat.io", "mirror.corp/redhat")])
ACME = mirror_object("itms", "acme", [entry("quay.io/acme", "mirror.corp/acme")])
UBI = "registry.redhat.io/ubi9/ubi@sha256:" + "d" * 64
ROLLING = PoolState("worker", "rendered-worker-2", "rendered-worker-1", 5, 3)
SETTLED = PoolState("worker", "rendered-worker-1", "rendered-worker-1", 5, 5)


def index(*objects: dict[str, Any]) -> MirrorIndex:
    return MirrorIndex.from_config(load_mirror_sets(list(objects)))


def pool_files(pool: PoolState, *objects: dict[str, Any], refused: bool = False) -> PoolFiles:
    text = index(*objects).registries_conf()
    config = rendered_config(rendered_machine_config(pool.current, {"registries.conf": text}))
    return PoolFiles(pool, pool_index(config), refused)


def sites(*images: str) -> list[ImageSite]:
    return [
        ImageSite("", f"c{n}", ContainerType.CONTAINER, image) for n, image in enumerate(images)
    ]


def warned(
    objects: MirrorIndex, *pools: PoolFiles, images: tuple[str, ...] = (UBI,)
) -> tuple[str, ...]:
    return rollout_warnings(sites(*images), objects, pools, PolicySettings())


def test_a_mirror_set_not_yet_on_every_node_is_warned_about_with_the_progress() -> None:
    assert warned(index(REDHAT, ACME), pool_files(ROLLING, ACME)) == (
        f"{UBI}: the mirror set for registry.redhat.io is not on all worker nodes yet: "
        "3 of 5 updated",
    )


def test_a_refused_configuration_says_so_instead_of_a_progress() -> None:
    (line,) = warned(index(REDHAT, ACME), pool_files(SETTLED, ACME, refused=True))
    assert line.endswith(
        "not on all worker nodes yet: the operator refused the current mirror sets"
    )


def test_mirrors_removed_from_the_objects_but_still_on_nodes_are_warned_about_too() -> None:
    (line,) = warned(index(ACME), pool_files(ROLLING, REDHAT, ACME))
    assert line == (
        f"{UBI}: worker nodes still pull it through mirrors the mirror sets no longer have: "
        "3 of 5 updated"
    )


def test_an_image_both_judge_alike_is_not_mentioned() -> None:
    assert (
        warned(index(REDHAT, ACME), pool_files(ROLLING, ACME), images=("quay.io/acme/a:1",)) == ()
    )


def test_no_pool_that_differs_means_no_warning() -> None:
    assert warned(index(REDHAT)) == ()


def test_many_images_mid_rollout_are_summed_up() -> None:
    images = tuple(f"registry.redhat.io/x/app{n}@sha256:" + "e" * 64 for n in range(5))
    found = warned(index(REDHAT), pool_files(ROLLING), images=images)
    assert len(found) == ROLLOUT_WARNINGS_MAX + 1
    assert found[-1] == "… and 2 more images mid-rollout"

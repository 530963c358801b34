"""The cluster watch follows Image/cluster (and ClusterVersion) like the mirror sets, against
the in-process list/watch server: a changed Image reaches the index without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters.test_mirror_watcher import eventually
from tests.support.fake_kube import FakeKube
from tests.support.mirror_objects import entry, image_config, mirror_object
from webhook.adapters.mirror_watcher import MirrorSetWatcher, list_mirror_sets, load_api_client
from webhook.core.image_reference import parse_normalized
from webhook.core.signature_policy import PolicyOutcome
from webhook.index_sources import IndexHolder, MirrorSetSources

D = "sha256:" + "a" * 64


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with FakeKube() as server:
        yield server


@pytest.fixture
def holder(fake: FakeKube, tmp_path: Path) -> Iterator[IndexHolder]:
    client = load_api_client(str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    holder = IndexHolder()
    sources = MirrorSetSources(holder, cluster=True)
    watcher = MirrorSetWatcher(
        client,
        sources.cluster_changed,
        retry_seconds=0.02,
        max_backoff_seconds=0.1,
        missing_kind_recheck_seconds=0.1,
        watch_timeout_seconds=5,
    )
    watcher.start()
    try:
        yield holder
    finally:
        watcher.stop()
        client.close()


def quay_verdict(holder: IndexHolder) -> PolicyOutcome | None:
    verdict = holder.current.policy_verdict(parse_normalized(f"quay.io/ns/app@{D}"))
    return verdict.outcome if verdict else None


def test_a_changed_image_config_reaches_the_index_without_a_restart(
    fake: FakeKube, holder: IndexHolder
) -> None:
    fake.put(mirror_object("idms", "quay", [entry("quay.io", "mirror.corp/quay")]))
    eventually(lambda: holder.ready and len(holder.current) == 1, "the mirror set")
    assert quay_verdict(holder) is None  # no Image: nothing judged by a policy, as before

    fake.put(image_config(blockedRegistries=["quay.io"]))
    eventually(lambda: quay_verdict(holder) is PolicyOutcome.REJECTED, "quay.io blocked")
    plan = holder.current.explain(f"quay.io/ns/app@{D}").plans[0]
    assert plan.candidates[-1].origins == ("Image/cluster",)

    fake.put(image_config(insecureRegistries=["mirror.corp"]))
    eventually(lambda: quay_verdict(holder) is PolicyOutcome.ACCEPTED, "quay.io unblocked")
    assert holder.current.insecure("mirror.corp/quay/ns/app")

    fake.delete("images", "cluster")
    eventually(lambda: quay_verdict(holder) is None, "the Image gone")


def test_a_one_shot_list_includes_the_image_config(fake: FakeKube, tmp_path: Path) -> None:
    fake.put(image_config(blockedRegistries=["docker.io"]))
    client = load_api_client(str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    try:
        kinds = {obj["kind"] for obj in list_mirror_sets(client)}
    finally:
        client.close()
    assert "Image" in kinds


def test_a_cluster_without_the_image_crd_is_judged_as_before(
    fake: FakeKube, tmp_path: Path
) -> None:
    fake.missing.update({"images", "clusterversions"})
    client = load_api_client(str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    try:
        objects = list_mirror_sets(client)
    finally:
        client.close()
    assert objects == []

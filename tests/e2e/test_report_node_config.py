"""`idms-guard report --node-config DIR`: the cluster's workloads judged with a node's own
files; the files rendered from the cluster's mirror sets give the same rows."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_report_command import EXPECTED, fake, found, kubeconfig, report
from tests.support.fake_kube import FakeKube
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets

__all__ = ["fake", "kubeconfig"]  # fixtures


def test_the_files_rendered_from_the_clusters_mirror_sets_give_the_same_rows(
    fake: FakeKube, kubeconfig: str, tmp_path: Path
) -> None:
    objects = [fake.get("imagedigestmirrorsets", "digests"), fake.get("imagetagmirrorsets", "tags")]
    conf = MirrorIndex.from_config(load_mirror_sets([o for o in objects if o])).registries_conf()
    (tmp_path / "registries.conf").write_text(conf)
    code, stdout, stderr = report(
        "--kubeconfig", kubeconfig, "-o", "json", "--node-config", str(tmp_path)
    )
    assert (code, stderr) == (1, "")
    assert found(stdout) == EXPECTED


def test_the_node_files_replace_the_clusters_mirror_sets(kubeconfig: str, tmp_path: Path) -> None:
    (tmp_path / "registries.conf").write_text(
        '[[registry]]\nlocation = "docker.io/library"\n'
        '[[registry.mirror]]\nlocation = "mirror.local/library"\n'
    )
    code, stdout, _ = report(
        "--kubeconfig", kubeconfig, "-o", "json", "--node-config", str(tmp_path)
    )
    assert code == 1
    rows = found(stdout)
    assert (
        "shop",
        "Deployment/web",
        "docker.io/library/nginx:1.27",
        "tag-not-mirrored",
    ) not in rows
    assert ("shop", "CronJob/nightly", "quay.io/acme/tools:1", "tag-not-mirrored") in rows

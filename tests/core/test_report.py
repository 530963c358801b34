"""The report's rows, their deduplication along controller chains, and the three renderings."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import yaml

from tests.support.cluster_objects import item, workload
from tests.support.mirror_objects import entry, mirror_object
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings, Reason
from webhook.core.report import (
    InventoryItem,
    oc_mirror_snippet,
    render_json,
    render_table,
    report_rows,
)

DIGEST = "sha256:" + "a" * 64
INDEX = MirrorIndex.from_config(
    load_mirror_sets(
        [
            mirror_object("idms", "digests", [entry("quay.io/acme", "mirror.local/acme")]),
            mirror_object(
                "itms", "tags", [entry("registry.example.com/tagged", "mirror.local/tagged")]
            ),
            mirror_object(
                "idms", "blocked", [entry("registry.blocked.io", "mirror.local/b", never=True)]
            ),
        ]
    )
)
NGINX = "docker.io/library/nginx:1.27"
OTHER = f"docker.io/other/app@{DIGEST}"


def rows_for(*objects: dict[str, Any], modes: dict[str, str | None] | None = None) -> list[Any]:
    items = [item(obj) for obj in objects]
    return report_rows(items, INDEX, PolicySettings(), modes or {})


def summary(rows: list[Any]) -> list[tuple[str, str, str, str]]:
    return [(row.namespace, f"{row.kind}/{row.name}", row.image, row.reason.value) for row in rows]


@pytest.mark.parametrize(
    ("image", "reason", "reference"),
    [
        (NGINX, Reason.TAG_NOT_MIRRORED, NGINX),
        ("docker.io/nginx", Reason.TAG_NOT_MIRRORED, "docker.io/library/nginx:latest"),
        ("quay.io/acme/shop:1.4", Reason.TAG_NOT_MIRRORED, "quay.io/acme/shop:1.4"),
        (OTHER, Reason.SOURCE_NOT_MIRRORED, OTHER),
        ("registry.blocked.io/app:1", Reason.SOURCE_BLOCKED_NO_MIRROR, "registry.blocked.io/app:1"),
        ("nginx:1.27", Reason.SHORT_NAME, None),
        ("Bad//ref", Reason.INVALID_REFERENCE, None),
        (f"quay.io/acme/shop@{DIGEST}", None, None),
        ("registry.example.com/tagged/app:1", None, None),
        ("mirror.local/acme/shop:1.4", None, None),
        ("image-registry.openshift-image-registry.svc:5000/ns/app:1", None, None),
    ],
)
def test_each_image_is_judged_as_the_webhook_judges_it_in_enforce_mode(
    image: str, reason: Reason | None, reference: str | None
) -> None:
    rows = rows_for(workload("Pod", "shop", "p", image))
    assert [(row.reason, row.reference) for row in rows] == (
        [(reason, reference)] if reason else []
    )


def test_a_deployment_its_replica_sets_and_their_pods_make_one_row() -> None:
    deployment = workload("Deployment", "shop", "web", NGINX)
    current = workload("ReplicaSet", "shop", "web-1", NGINX, owner=deployment)
    old = workload("ReplicaSet", "shop", "web-0", "docker.io/library/nginx:1.25", owner=deployment)
    pod = workload("Pod", "shop", "web-1-x", NGINX, owner=current)
    rows = rows_for(pod, current, old, deployment)
    assert summary(rows) == [("shop", "Deployment/web", NGINX, "tag-not-mirrored")]


def test_cron_jobs_and_deployment_configs_own_their_chains() -> None:
    cron = workload("CronJob", "ops", "nightly", NGINX)
    job = workload("Job", "ops", "nightly-1", NGINX, owner=cron)
    job_pod = workload("Pod", "ops", "nightly-1-x", NGINX, owner=job)
    config = workload("DeploymentConfig", "ops", "legacy", NGINX)
    controller = workload("ReplicationController", "ops", "legacy-1", NGINX, owner=config)
    legacy_pod = workload("Pod", "ops", "legacy-1-x", NGINX, owner=controller)
    rows = rows_for(job_pod, job, cron, legacy_pod, controller, config)
    assert [row.kind for row in rows] == ["CronJob", "DeploymentConfig"]


def test_a_pod_whose_controller_is_not_listed_is_reported_itself() -> None:
    metadata = {"name": "canary", "uid": "u-1"}
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": metadata}
    pod = workload("Pod", "shop", "p", NGINX, owner=rollout)
    assert summary(rows_for(pod)) == [("shop", "Pod/p", NGINX, "tag-not-mirrored")]


def test_an_owner_that_is_not_the_controller_does_not_hide_a_pod() -> None:
    replica_set = workload("ReplicaSet", "shop", "web-1", NGINX)
    pod = workload("Pod", "shop", "p", NGINX, owner=replica_set, controller=False)
    assert [f"{r.kind}/{r.name}" for r in rows_for(pod, replica_set)] == [
        "Pod/p",
        "ReplicaSet/web-1",
    ]


def test_an_owner_reference_without_uid_matches_by_kind_and_name() -> None:
    replica_set = workload("ReplicaSet", "shop", "web-1", NGINX)
    pod = workload("Pod", "shop", "web-1-x", NGINX, owner=replica_set)
    del pod["metadata"]["ownerReferences"][0]["uid"]
    assert summary(rows_for(pod, replica_set)) == [
        ("shop", "ReplicaSet/web-1", NGINX, "tag-not-mirrored")
    ]


def test_rows_keep_every_container_and_every_object_and_are_ordered() -> None:
    rows = rows_for(
        workload("Deployment", "shop", "web", NGINX, NGINX, init=("nginx:1.27",)),
        workload("Deployment", "shop", "api", NGINX),
        workload("Pod", "billing", "debug", NGINX),
        workload("Pod", "openshift-monitoring", "exempt", NGINX),
    )
    assert [(row.namespace, row.name, row.site.describe()) for row in rows] == [
        ("billing", "debug", 'container "c0"'),
        ("shop", "api", 'container "c0"'),
        ("shop", "web", 'init container "i0"'),
        ("shop", "web", 'container "c0"'),
        ("shop", "web", 'container "c1"'),
    ]


def test_the_table_has_one_block_per_namespace_with_its_mode() -> None:
    rows = rows_for(
        workload("Deployment", "shop", "web", NGINX, "nginx"),
        workload("Pod", "billing", "debug", NGINX),
        modes={"shop": "warn", "billing": None},
    )
    assert render_table(rows) == (
        "namespace billing (no idms-guard.io/mode label): 1 image would be denied in enforce mode\n"
        "  OBJECT     CONTAINER       IMAGE                         REASON            FIX\n"
        '  Pod/debug  container "c0"  docker.io/library/nginx:1.27  tag-not-mirrored  '
        "add an ImageTagMirrorSet for docker.io/library, or mirror it and pin it by digest\n"
        "\n"
        "namespace shop (mode warn): 2 images would be denied in enforce mode\n"
        "  OBJECT          CONTAINER       IMAGE                         REASON            FIX\n"
        '  Deployment/web  container "c0"  docker.io/library/nginx:1.27  tag-not-mirrored  '
        "add an ImageTagMirrorSet for docker.io/library, or mirror it and pin it by digest\n"
        '  Deployment/web  container "c1"  nginx                         short-name        '
        "write the registry, e.g. docker.io/library/nginx:latest, and mirror it\n"
    )
    assert render_table([]) == ""


def test_untrusted_names_and_images_cannot_break_the_table() -> None:
    pod = workload("Pod", "shop", "p", "evil\n\x1b[2Jimage")
    table = render_table(rows_for(pod))
    assert "\x1b" not in table
    assert '"evil\\n\\u001b[2Jimage"' in table


def test_json_has_every_field_a_script_needs() -> None:
    rows = rows_for(workload("Deployment", "shop", "web", NGINX), modes={"shop": "audit"})
    assert json.loads(render_json(rows)) == {
        "findings": [
            {
                "namespace": "shop",
                "mode": "audit",
                "kind": "Deployment",
                "name": "web",
                "container": "c0",
                "containerType": "container",
                "pointer": "/spec/template/spec/containers/0/image",
                "image": NGINX,
                "reason": "tag-not-mirrored",
                "problem": rows[0].problem,
                "fix": rows[0].fix,
                "reference": NGINX,
            }
        ]
    }
    assert json.loads(render_json([])) == {"findings": []}


def test_the_oc_mirror_snippet_lists_unmirrored_images_once_sorted() -> None:
    rows = rows_for(
        workload("Deployment", "shop", "web", NGINX, "nginx", "docker.io/nginx"),
        workload("Deployment", "shop", "api", NGINX, f"docker.io/other/app@{DIGEST}"),
        workload("Pod", "shop", "p", "registry.blocked.io/app:1", "Bad//ref"),
    )
    document = yaml.safe_load(oc_mirror_snippet(rows))
    assert document == {
        "kind": "ImageSetConfiguration",
        "apiVersion": "mirror.openshift.io/v2alpha1",
        "mirror": {
            "additionalImages": [
                {"name": NGINX},
                {"name": "docker.io/library/nginx:latest"},
                {"name": f"docker.io/other/app@{DIGEST}"},
                {"name": "registry.blocked.io/app:1"},
            ]
        },
    }
    empty = yaml.safe_load(oc_mirror_snippet([]))
    assert empty["mirror"] == {"additionalImages": []}


def test_a_reference_yaml_would_misread_is_quoted() -> None:
    row = rows_for(workload("Pod", "shop", "p", NGINX))[0]
    odd = replace(row, reference="a: b #c")
    assert yaml.safe_load(oc_mirror_snippet([odd]))["mirror"]["additionalImages"] == [
        {"name": "a: b #c"}
    ]


def test_items_are_plain_values() -> None:
    obj = workload("Pod", "shop", "p", NGINX)
    assert item(obj) == InventoryItem("shop", "", "Pod", "p", obj)

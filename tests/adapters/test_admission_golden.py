"""Golden AdmissionReview pairs: for each case, the request the API server sends and the
answer of each mode, under tests/data/golden/. `UPDATE_GOLDEN=1` rewrites them; review the
diff like code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.reviews import ephemeral_container_review, pod_review, sample, workload_review
from tests.support.sources import serving
from webhook.adapters.http_app import AppSettings, create_app
from webhook.core.decision import Mode
from webhook.core.mirror_index import MirrorIndex
from webhook.core.policy import PolicySettings
from webhook.main import load_mirror_set_paths

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
D = "sha256:" + "b" * 64
TEMPLATE = ["spec", "template", "spec"]

CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "tag-mirrored-by-itms": lambda: pod_review({"web": "registry.example.com/team/web:2.1"}),
    "digest-mirrored-by-idms": lambda: pod_review({"web": f"registry.example.com/team/web@{D}"}),
    "image-on-the-mirror-registry": lambda: pod_review(
        {"web": "mirror.corp.example:8443/team/web:2.1"}
    ),
    "tag-not-mirrored": lambda: pod_review({"web": "docker.io/library/nginx:1.27"}),
    "no-tag-means-latest": lambda: pod_review({"web": "ghcr.io/acme/web"}),
    "source-not-mirrored": lambda: pod_review({"web": f"ghcr.io/acme/web@{D}"}),
    "source-blocked-tag": lambda: pod_review({"web": "registry.redhat.io/ubi9/ubi:9.4"}),
    "source-blocked-mirror-blocked-too": lambda: pod_review({"web": f"quay.io/vendor/agent@{D}"}),
    "short-name": lambda: pod_review({"web": "nginx"}),
    "invalid-reference": lambda: pod_review({"web": "registry.example.com/Team/web:1"}),
    "several-findings-init-first": lambda: pod_review(
        {"web": "docker.io/library/nginx:1.27", "ok": "registry.example.com/team/web:1"},
        init_containers={"setup": "registry.redhat.io/ubi9/ubi:9.4"},
    ),
    "exempt-namespace": lambda: pod_review(
        {"web": "docker.io/library/nginx:1.27"}, namespace="openshift-monitoring"
    ),
    "update-without-image-change": lambda: pod_review(
        {"web": "docker.io/library/nginx:1.27"}, operation="UPDATE"
    ),
    "update-changing-the-image": lambda: sample("validate-pod-update-set-image"),
    "dry-run": lambda: sample("validate-pod-create-dryrun"),
    "ephemeral-debug-container": lambda: ephemeral_container_review("busybox:1.36"),
    "pod-from-replicaset-controller": lambda: sample("validate-pod-create-replicaset-controller"),
    "deployment": lambda: workload_review(
        "apps", "v1", "Deployment", TEMPLATE, {"web": "docker.io/library/nginx:1.27"}
    ),
    "cronjob": lambda: workload_review(
        "batch",
        "v1",
        "CronJob",
        ["spec", "jobTemplate", "spec", "template", "spec"],
        {"job": f"ghcr.io/acme/job@{D}"},
    ),
    "deploymentconfig": lambda: workload_review(
        "apps.openshift.io", "v1", "DeploymentConfig", TEMPLATE, {"web": "nginx:1.27"}
    ),
}


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    config = load_mirror_set_paths([str(GOLDEN / "mirror-sets.yaml")])
    assert config.problems == ()

    app = create_app(AppSettings(PolicySettings()), serving(MirrorIndex.from_config(config)))
    return app.test_client()


def golden(path: Path, actual: Any) -> Any:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    return json.loads(path.read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_answers_match_the_golden_responses(client: FlaskClient, case: str) -> None:
    request = golden(GOLDEN / f"{case}.request.json", CASES[case]())
    answers = {}
    for mode in Mode:
        reply = client.post(f"/validate/{mode.value}?timeout=10s", json=request)
        assert reply.status_code == 200
        answers[mode.value] = reply.get_json()
    assert answers == golden(GOLDEN / f"{case}.responses.json", answers)


def test_every_golden_file_belongs_to_a_case() -> None:
    names = {p.name.split(".")[0] for p in GOLDEN.glob("*.json")}
    assert names == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_answer_echoes_the_request_uid(client: FlaskClient, case: str) -> None:
    request = CASES[case]()
    reply = client.post("/validate/audit", json=request).get_json()
    assert reply["apiVersion"] == "admission.k8s.io/v1"
    assert reply["kind"] == "AdmissionReview"
    assert reply["response"]["uid"] == request["request"]["uid"]
    assert "patch" not in reply["response"]

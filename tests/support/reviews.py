"""AdmissionReview bodies for tests, built from the real ones an API server sent.

Starting from ../shared/admission-samples keeps everything a hand-written review misses
(service-account volumes, tolerations, managedFields, userInfo) in every test request.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parents[1] / "data" / "admission-samples"


def sample(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return body


def pod_review(
    containers: Mapping[str, str],
    *,
    namespace: str = "apps",
    init_containers: Mapping[str, str] | None = None,
    operation: str = "CREATE",
    old_containers: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """A pod CREATE (or UPDATE with `old_containers`) from `kubectl run`, with these images."""
    body = sample("validate-pod-create-kubectl-run")
    request = body["request"]
    request["namespace"] = namespace
    request["object"]["metadata"]["namespace"] = namespace
    request["dryRun"] = dry_run
    request["object"]["spec"]["containers"] = _containers(request["object"], containers)
    if init_containers:
        request["object"]["spec"]["initContainers"] = _containers(
            request["object"], init_containers
        )
    if operation == "UPDATE":
        request["operation"] = "UPDATE"
        request["options"] = {"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"}
        old = copy.deepcopy(request["object"])
        old["spec"]["containers"] = _containers(old, old_containers or containers)
        request["oldObject"] = old
    return body


def workload_review(
    group: str,
    version: str,
    kind: str,
    pod_spec_path: list[str],
    images: Mapping[str, str],
    namespace: str = "apps",
) -> dict[str, Any]:
    """A workload CREATE whose pod template holds `images`, wrapped like a real review."""
    body = sample("validate-pod-create-kubectl-run")
    pod = body["request"]["object"]
    workload: dict[str, Any] = {
        "apiVersion": f"{group}/{version}" if group else version,
        "kind": kind,
        "metadata": {"name": "web", "namespace": namespace},
    }
    node = workload
    for key in pod_spec_path[:-1]:
        node = node.setdefault(key, {})
    node[pod_spec_path[-1]] = {**pod["spec"], "containers": _containers(pod, images)}
    request = body["request"]
    request.update(
        kind={"group": group, "version": version, "kind": kind},
        requestKind={"group": group, "version": version, "kind": kind},
        name="web",
        namespace=namespace,
        object=workload,
    )
    return body


def _containers(pod: dict[str, Any], images: Mapping[str, str]) -> list[dict[str, Any]]:
    template = pod["spec"]["containers"][0]
    return [
        {**copy.deepcopy(template), "name": name, "image": image} for name, image in images.items()
    ]


def ephemeral_container_review(image: str, namespace: str = "apps") -> dict[str, Any]:
    """`kubectl debug`: an UPDATE of the `pods/ephemeralcontainers` subresource, whole Pod."""
    body = sample("validate-pod-update-set-image")
    request = body["request"]
    request["subResource"] = "ephemeralcontainers"
    request["namespace"] = namespace
    request["object"] = copy.deepcopy(request["oldObject"])
    request["object"]["spec"]["ephemeralContainers"] = [
        {"name": "debugger-x7k2p", "image": image, "stdin": True, "tty": True}
    ]
    return body

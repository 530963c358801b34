"""Namespaces, pods and workloads for tests, shaped as the API server returns them."""

from __future__ import annotations

import uuid
from typing import Any

from webhook.core.report import InventoryItem
from webhook.core.workloads import pod_spec_pointer

API_VERSIONS = {
    "Pod": "v1",
    "ReplicationController": "v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "DeploymentConfig": "apps.openshift.io/v1",
}


def namespace(name: str, mode: str | None = None) -> dict[str, Any]:
    labels = {"idms-guard.io/mode": mode} if mode else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def workload(
    kind: str,
    ns: str,
    name: str,
    *images: str,
    owner: dict[str, Any] | None = None,
    controller: bool = True,
    init: tuple[str, ...] = (),
) -> dict[str, Any]:
    """`images` become containers c0, c1, ...; `init` init containers i0, ..."""
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{n}", "image": image} for n, image in enumerate(images)]
    }
    if init:
        spec["initContainers"] = [{"name": f"i{n}", "image": image} for n, image in enumerate(init)]
    group = API_VERSIONS[kind].rpartition("/")[0]
    path = pod_spec_pointer(group, kind)
    assert path is not None
    body: Any = spec
    for key in reversed(path.split("/")[1:]):
        body = {key: body}
    metadata: dict[str, Any] = {"name": name, "namespace": ns, "uid": str(uuid.uuid4())}
    if owner is not None:
        metadata["ownerReferences"] = [owner_reference(owner, controller)]
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": metadata, **body}


def owner_reference(owner: dict[str, Any], controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def item(obj: dict[str, Any]) -> InventoryItem:
    group = obj["apiVersion"].rpartition("/")[0]
    metadata = obj["metadata"]
    return InventoryItem(metadata["namespace"], group, obj["kind"], metadata["name"], obj)

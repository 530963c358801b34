"""Rendered MachineConfigs and MachineConfigPools shaped as a 4.x cluster serves them.

The registries files sit among the other files the operator renders (crio.conf drop-ins,
kubelet config), each `contents.source` a data URL in one of the two encodings the
operator writes: percent-encoded (`data:,…`) or base64 (`data:text/plain;charset=utf-8;base64,…`).
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

API_VERSION = "machineconfiguration.openshift.io/v1"
CRIO_DROP_IN = '[crio.runtime]\nshort_name_mode = "disabled"\n'


def data_url(text: str, encoding: str) -> str:
    if encoding == "base64":
        return "data:text/plain;charset=utf-8;base64," + base64.b64encode(text.encode()).decode()
    return "data:," + quote(text, safe="")


def ignition_file(path: str, text: str, encoding: str, compress: bool = False) -> dict[str, Any]:
    contents: dict[str, Any] = {}
    if compress:
        packed = gzip.compress(text.encode())
        contents = {
            "compression": "gzip",
            "source": "data:;base64," + base64.b64encode(packed).decode(),
        }
    else:
        contents = {"source": data_url(text, encoding)}
    return {"path": path, "mode": 420, "overwrite": True, "contents": contents}


def rendered_machine_config(
    name: str,
    registries: Mapping[str, str],
    encoding: str = "base64",
    created: str = "2026-11-30T10:00:00Z",
    compress: bool = False,
) -> dict[str, Any]:
    """`registries`: path under /etc/containers → text (registries.conf, registries.conf.d/…)."""
    files = [
        ignition_file("/etc/crio/crio.conf.d/00-default", CRIO_DROP_IN, "percent"),
        *(
            ignition_file(f"/etc/containers/{path}", text, encoding, compress)
            for path, text in registries.items()
        ),
        ignition_file("/etc/kubernetes/kubelet.conf", "kind: KubeletConfiguration\n", "base64"),
    ]
    return {
        "apiVersion": API_VERSION,
        "kind": "MachineConfig",
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "annotations": {
                "machineconfiguration.openshift.io/generated-by-controller-version": "4.21.0",
                "machineconfiguration.openshift.io/release-image-version": "4.21.0",
            },
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "MachineConfigPool",
                    "name": name.split("-")[1],
                    "uid": "00000000-0000-0000-0000-000000000001",
                    "blockOwnerDeletion": True,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "config": {"ignition": {"version": "3.5.0"}, "storage": {"files": files}},
            "extensions": [],
            "fips": False,
            "kernelArguments": [],
            "kernelType": "default",
            "osImageURL": "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "0" * 64,
        },
    }


def machine_config_pool(
    name: str, target: str, current: str, machines: int, updated: int
) -> dict[str, Any]:
    rolling = target != current or updated < machines
    conditions = [
        ("Updated", not rolling),
        ("Updating", rolling),
        ("Degraded", False),
        ("RenderDegraded", False),
    ]
    return {
        "apiVersion": API_VERSION,
        "kind": "MachineConfigPool",
        "metadata": {"name": name},
        "spec": {
            "configuration": {"name": target},
            "machineConfigSelector": {
                "matchLabels": {"machineconfiguration.openshift.io/role": name}
            },
            "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{name}": ""}},
            "paused": False,
        },
        "status": {
            "configuration": {"name": current},
            "machineCount": machines,
            "updatedMachineCount": updated,
            "readyMachineCount": updated,
            "unavailableMachineCount": machines - updated,
            "degradedMachineCount": 0,
            "observedGeneration": 3,
            "conditions": [
                {
                    "type": kind,
                    "status": "True" if value else "False",
                    "lastTransitionTime": "2026-11-30T10:00:00Z",
                    "message": "",
                    "reason": "",
                }
                for kind, value in conditions
            ],
        },
    }

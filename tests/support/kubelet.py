"""What kubelet does with a rendered pod's volumes and environment, on this machine.

Secrets and ConfigMaps of one `helm template` become files in a directory per volume
mount (as kubelet projects them, `items` included); `metadata.namespace` field references
become the release namespace. Used where a test runs the chart's containers for real.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.helm import NAMESPACE, Rendered


@dataclass
class Kubelet:
    """Turns the volumes of one rendered pod into directories under `root`."""

    rendered: Rendered
    root: Path

    def mount(self, spec: dict[str, Any], container: dict[str, Any]) -> dict[str, Path]:
        """mountPath → local directory, filled from the rendered Secrets and ConfigMaps."""
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        mounts = {}
        for mount in container["volumeMounts"]:
            assert "subPath" not in mount
            directory = self.root / mount["name"]
            directory.mkdir(parents=True, exist_ok=True)
            self._fill(volumes[mount["name"]], directory)
            mounts[mount["mountPath"]] = directory
        return mounts

    def _fill(self, volume: dict[str, Any], directory: Path) -> None:
        if "secret" in volume:
            source = volume["secret"]
            data = self._object("Secret", source["secretName"])["data"]
            files = {key: base64.b64decode(value) for key, value in data.items()}
        elif "configMap" in volume:
            source = volume["configMap"]
            data = self._object("ConfigMap", source["name"])["data"]
            files = {key: value.encode() for key, value in data.items()}
        else:
            assert "emptyDir" in volume, volume
            return
        if "items" in source:
            files = {item["path"]: files[item["key"]] for item in source["items"]}
        for name, content in files.items():
            (directory / name).write_bytes(content)

    def _object(self, kind: str, name: str) -> dict[str, Any]:
        return self.rendered.one(kind, name)


def localized(value: str, mounts: dict[str, Path]) -> str:
    for mount_path, directory in mounts.items():
        if value == mount_path or value.startswith(mount_path + "/"):
            return str(directory) + value[len(mount_path) :]
    return value


def container_environment(container: dict[str, Any], mounts: dict[str, Path]) -> dict[str, str]:
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = localized(item["value"], mounts)
        elif item["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}:
            env[item["name"]] = NAMESPACE
        else:
            raise AssertionError(f"no stand-in for {item}")
    return env

"""Just enough of a Kubernetes API server for `helm template --dry-run=server`, so that the
chart's `lookup` calls see the objects a test puts in (e.g. the TLS Secret of an earlier
release).

helm only talks TLS with a bearer token, asks /version, discovers the API groups (the
legacy discovery documents; the aggregated form is not offered), lists its release Secrets
and GETs objects by name. Objects are kept by (apiVersion path, plural, namespace, name);
anything else is a 404 as for a missing object. TLS on 127.0.0.1 only; `stop()` joins
every thread it started.
"""

from __future__ import annotations

import base64
import re
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.support.json_http import LocalTLSServer, send_json, status
from webhook.adapters.tls_certificates import (
    generate_ca,
    generate_serving_certificate,
    write_certificate_files,
)

TOKEN = "helm-cluster-token"
RESOURCES = {  # group/version -> [(plural, kind, namespaced)]
    "v1": [
        ("namespaces", "Namespace", False),
        ("secrets", "Secret", True),
        ("configmaps", "ConfigMap", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("pods", "Pod", True),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
    "rbac.authorization.k8s.io/v1": [
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
    ],
    "admissionregistration.k8s.io/v1": [
        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False),
        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False),
    ],
}
_OBJECT = re.compile(
    r"/(?:api/(?P<core>v1)|apis/(?P<gv>[^/]+/[^/]+))"
    r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?"
)


class HelmCluster:
    """Use as a context manager; `kubeconfig` is the file to give helm."""

    def __init__(self, directory: Path, kube_version: str = "1.33.0") -> None:
        self.kube_version = kube_version
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.paths: list[str] = []
        ca = generate_ca("helm-cluster-ca")
        serving = generate_serving_certificate(ca, ["localhost"], ip_addresses=["127.0.0.1"])
        files = write_certificate_files(directory / "tls", ca, serving)
        self._server = _Server(_Handler, files["tls.crt"], files["tls.key"])
        self._server.cluster = self
        self.kubeconfig = directory / "kubeconfig"
        cluster = {
            "server": f"https://127.0.0.1:{self._server.port}",
            "certificate-authority-data": base64.b64encode(ca.cert_pem).decode(),
        }
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "test", "cluster": cluster}],
                    "users": [{"name": "admin", "user": {"token": TOKEN}}],
                    "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
                    "current-context": "test",
                }
            )
        )

    def __enter__(self) -> HelmCluster:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)

    def put(self, obj: dict[str, Any]) -> None:
        plural = _plural(obj["apiVersion"], obj["kind"])
        namespace = obj["metadata"].get("namespace", "")
        self.objects[(obj["apiVersion"], plural, namespace, obj["metadata"]["name"])] = obj

    def answer(self, path: str) -> tuple[int, Any]:
        if path == "/version":
            major, minor, _ = self.kube_version.split(".")
            return 200, {"major": major, "minor": minor, "gitVersion": f"v{self.kube_version}"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups = [
                {
                    "name": gv.split("/")[0],
                    "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                    "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]},
                }
                for gv in RESOURCES
                if "/" in gv
            ]
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        group_version = path.removeprefix("/api/").removeprefix("/apis/")
        if group_version in RESOURCES and path in (
            f"/api/{group_version}",
            f"/apis/{group_version}",
        ):
            return 200, _resource_list(group_version)
        match = _OBJECT.fullmatch(path)
        if match:
            api_version = match["core"] or match["gv"]
            key = (api_version, match["plural"], match["namespace"] or "")
            if match["name"]:
                found = self.objects.get((*key, match["name"]))
                if found is not None:
                    return 200, found
            else:
                items = [o for k, o in self.objects.items() if k[:3] == key]
                return 200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
        return 404, _not_found(path)


def _resource_list(group_version: str) -> dict[str, Any]:
    resources = [
        {
            "name": plural,
            "singularName": kind.lower(),
            "namespaced": namespaced,
            "kind": kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        }
        for plural, kind, namespaced in RESOURCES[group_version]
    ]
    return {"kind": "APIResourceList", "groupVersion": group_version, "resources": resources}


def _plural(api_version: str, kind: str) -> str:
    return next(plural for plural, k, _ in RESOURCES[api_version] if k == kind)


def _not_found(path: str) -> dict[str, Any]:
    return status(404, "NotFound", f"{path} not found")


class _Server(LocalTLSServer):
    cluster: HelmCluster


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        cluster = self.server.cluster
        cluster.paths.append(path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            send_json(self, 401, status(401, "Unauthorized", "Unauthorized"))
        else:
            send_json(self, *cluster.answer(path))

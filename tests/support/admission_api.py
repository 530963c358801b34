"""A stand-in for the Kubernetes API server's admission path, for the chart's `helm test`.

It answers what a real API server answers to a pod created with `?dryRun=All`, and
nothing else: it authenticates a ServiceAccount's bearer token, authorizes `create pods`
by the rendered Roles and RoleBindings, selects the ValidatingWebhookConfiguration
entries by namespaceSelector, objectSelector, rules and matchConditions (CEL, as
tests/support/cel.py evaluates them), calls each over HTTPS at its Service trusting only
its caBundle, applies its failurePolicy, and answers 201 with the webhooks' warnings as
`Warning: 299 - "…"` headers, or a 403 Status with the denial. TLS on 127.0.0.1 only;
every thread it starts is joined by `stop()`.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.cel import CelError, evaluate
from tests.support.helm import Rendered
from tests.support.json_http import LocalTLSServer, send_json, status

POD_PATH_PREFIX = "/api/v1/namespaces/"


@dataclass
class Cluster:
    """What the API server knows: rendered objects, tokens, and where Services answer."""

    rendered: Rendered
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    """bearer token -> (namespace, ServiceAccount name)"""
    endpoints: dict[str, tuple[str, int]] = field(default_factory=dict)
    """<service>.<namespace>.svc -> (host, port) that kube-proxy would forward to"""

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        labels = {"kubernetes.io/metadata.name": namespace}
        for document in self.rendered.of_kind("Namespace"):
            if document["metadata"]["name"] == namespace:
                labels.update(document["metadata"].get("labels") or {})
        return labels

    def may_create_pods(self, namespace: str, account: tuple[str, str]) -> bool:
        """RBAC: a RoleBinding in `namespace` gives the account a Role allowing it."""
        roles = {
            role["metadata"]["name"]: role
            for role in self.rendered.of_kind("Role")
            if role["metadata"].get("namespace") == namespace
        }
        for binding in self.rendered.of_kind("RoleBinding"):
            if binding["metadata"].get("namespace") != namespace:
                continue
            subjects = {
                (s.get("namespace", namespace), s["name"])
                for s in binding.get("subjects", [])
                if s["kind"] == "ServiceAccount"
            }
            role = roles.get(binding["roleRef"]["name"])
            if (
                account in subjects
                and role
                and binding["roleRef"]["kind"] == "Role"
                and any(_allows(rule, "create", "", "pods") for rule in role["rules"])
            ):
                return True
        return False


class AdmissionAPIServer:
    """Serves `POST /api/v1/namespaces/NS/pods?dryRun=All` over TLS on 127.0.0.1."""

    def __init__(self, cluster: Cluster, cert_file: Path, key_file: Path) -> None:
        self.cluster = cluster
        self.calls: list[str] = []
        """Names of the webhook entries called, in order."""
        self._server = _Server(_Handler, cert_file, key_file)
        self._server.api = self

    @property
    def port(self) -> int:
        return self._server.port

    def __enter__(self) -> AdmissionAPIServer:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)

    def create_pod(self, namespace: str, token: str, pod: dict[str, Any]) -> _Answer:
        account = self.cluster.tokens.get(token)
        if account is None:
            return _Answer(401, status(401, "Unauthorized", "Unauthorized"))
        user = f"system:serviceaccount:{account[0]}:{account[1]}"
        if not self.cluster.may_create_pods(namespace, account):
            message = (
                f'pods is forbidden: User "{user}" cannot create resource "pods" in API '
                f'group "" in the namespace "{namespace}"'
            )
            return _Answer(403, status(403, "Forbidden", message))
        pod.setdefault("metadata", {})["namespace"] = namespace
        review = _review(namespace, user, pod)
        warnings: list[str] = []
        for configuration in self.cluster.rendered.of_kind("ValidatingWebhookConfiguration"):
            for entry in configuration["webhooks"]:
                answer = self._admit(entry, review, warnings)
                if answer is not None:
                    return answer
        return _Answer(201, pod, warnings)

    def _admit(
        self, entry: dict[str, Any], review: dict[str, Any], warnings: list[str]
    ) -> _Answer | None:
        """None to go on; an answer when the entry rejects the request."""
        fail = entry.get("failurePolicy", "Fail") == "Fail"
        request = review["request"]
        labels = self.cluster.namespace_labels(request["namespace"])
        object_labels = request["object"]["metadata"].get("labels") or {}
        if not (
            selects(entry.get("namespaceSelector") or {}, labels)
            and selects(entry.get("objectSelector") or {}, object_labels)
            and any(_rule_matches(rule) for rule in entry["rules"])
        ):
            return None
        try:
            if not all(evaluate(c["expression"], review) for c in entry.get("matchConditions", [])):
                return None
        except CelError as error:
            return _failed(entry, str(error)) if fail else None
        self.calls.append(entry["name"])
        try:
            response = self._call(entry, review)
        except (OSError, ValueError, KeyError) as error:
            return _failed(entry, str(error)) if fail else None
        warnings += response.get("warnings") or []
        if response.get("allowed") is not True:
            message = (response.get("status") or {}).get("message", "")
            text = f'admission webhook "{entry["name"]}" denied the request: {message}'
            return _Answer(403, status(403, "Forbidden", text), warnings)
        return None

    def _call(self, entry: dict[str, Any], review: dict[str, Any]) -> dict[str, Any]:
        service = entry["clientConfig"]["service"]
        name = f"{service['name']}.{service['namespace']}.svc"
        host, port = self.cluster.endpoints[name]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # trusts nothing but the bundle
        bundle = entry["clientConfig"].get("caBundle")
        if bundle:
            context.load_verify_locations(cadata=base64.b64decode(bundle).decode())
        timeout = entry.get("timeoutSeconds", 10)
        connection = http.client.HTTPSConnection(host, port, timeout=timeout)
        raw = socket.create_connection((host, port), timeout=timeout)
        try:
            connection.sock = context.wrap_socket(raw, server_hostname=name)
        except OSError:
            raw.close()
            raise
        try:
            path = f"{service.get('path', '/')}?timeout={timeout}s"
            connection.request(
                "POST", path, json.dumps(review), {"Content-Type": "application/json"}
            )
            reply = connection.getresponse()
            body = json.loads(reply.read())
        finally:
            connection.close()
        response: dict[str, Any] = body["response"]
        if response.get("uid") != review["request"]["uid"]:
            raise ValueError("the webhook answered for another uid")
        return response


@dataclass(frozen=True)
class _Answer:
    code: int
    body: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector; empty selects everything."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def _rule_matches(rule: dict[str, Any]) -> bool:
    """The rule covers CREATE of v1 pods (namespaced)."""
    operations = rule["operations"]
    return (
        ("CREATE" in operations or "*" in operations)
        and ("" in rule["apiGroups"] or "*" in rule["apiGroups"])
        and ("v1" in rule["apiVersions"] or "*" in rule["apiVersions"])
        and ("pods" in rule["resources"] or "*" in rule["resources"])
        and rule.get("scope", "*") in ("*", "Namespaced")
    )


def _allows(rule: dict[str, Any], verb: str, group: str, resource: str) -> bool:
    return (
        (verb in rule["verbs"] or "*" in rule["verbs"])
        and (group in rule["apiGroups"] or "*" in rule["apiGroups"])
        and (resource in rule["resources"] or "*" in rule["resources"])
    )


def _review(namespace: str, user: str, pod: dict[str, Any]) -> dict[str, Any]:
    gvk = {"group": "", "version": "v1", "kind": "Pod"}
    gvr = {"group": "", "version": "v1", "resource": "pods"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": pod["metadata"].get("name", ""),
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": user, "groups": ["system:serviceaccounts"]},
            "object": pod,
            "oldObject": None,
            "dryRun": True,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def _failed(entry: dict[str, Any], reason: str) -> _Answer:
    message = f'Internal error occurred: failed calling webhook "{entry["name"]}": {reason}'
    return _Answer(500, status(500, "InternalError", message))


class _Server(LocalTLSServer):
    api: AdmissionAPIServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        parts = url.path.removeprefix(POD_PATH_PREFIX).split("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if not url.path.startswith(POD_PATH_PREFIX) or len(parts) != 2 or parts[1] != "pods":
            return self._send(_Answer(404, status(404, "NotFound", "not served here")))
        if query.get("dryRun") != "All":
            message = "this stand-in answers dry runs (?dryRun=All) only"
            return self._send(_Answer(400, status(400, "BadRequest", message)))
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        self._send(self.server.api.create_pod(parts[0], token, json.loads(body)))

    def _send(self, answer: _Answer) -> None:
        headers = [("Warning", _warning_header(text)) for text in answer.warnings]
        send_json(self, answer.code, answer.body, headers)


def _warning_header(text: str) -> str:
    """`299 - "text"`, quoted as the API server quotes it. Go writes header bytes as they
    are (UTF-8); http.server encodes latin-1, so the UTF-8 bytes go in as latin-1."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'.encode().decode("latin-1")

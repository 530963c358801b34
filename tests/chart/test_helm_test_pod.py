"""The chart's pieces work together, played out on this machine as kubelet would.

From one render: the chart-generated Secret and the mirror-set ConfigMap become files where
the Deployment mounts them, `idms-guard serve` starts with the Deployment's own command,
arguments and environment (only the address and port are changed), and the `helm test`
pod's script runs with its own environment and a ServiceAccount token against an API
server stand-in (tests/support/admission_api.py) that knows the render: it authorizes the
test by the rendered Role, selects the webhook entries by the test namespace's labels and
calls the webhook trusting only the rendered caBundle. That covers the certificate (its
names, its CA in the webhooks' caBundle), the flags, the paths, the selectors, the RBAC
and the test itself; and the test fails where the API server could not reach the webhook.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import secrets
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.admission_api import AdmissionAPIServer, Cluster, selects
from tests.support.helm import NAMESPACE, Helm, HelmError, Rendered
from tests.support.kubelet import Kubelet, container_environment, localized
from tests.support.processes import free_port, running, wait_for
from tests.support.reviews import pod_review
from webhook.adapters.tls_certificates import (
    generate_ca,
    generate_serving_certificate,
    write_certificate_files,
)
from webhook.main import example_mirror_sets_text

REPO = Path(__file__).parents[2]


@dataclass
class Running:
    rendered: Rendered
    port: int
    root: Path


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> Rendered:
    objects = [document for document in yaml.safe_load_all(example_mirror_sets_text()) if document]
    # No cluster: the webhook must not reach for whatever $KUBECONFIG names on this machine.
    return helm.template({"mirrorSets": {"objects": objects, "watchCluster": False}})


@pytest.fixture(scope="module")
def webhook(rendered: Rendered, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("webhook-pod")
    spec = rendered.one("Deployment")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    mounts = Kubelet(rendered, root).mount(spec, container)
    assert container["command"] == ["idms-guard", "serve"]
    port = free_port()
    arguments = [localized(argument, mounts) for argument in container["args"]]
    arguments[arguments.index("--host") + 1] = "127.0.0.1"
    arguments[arguments.index("--port") + 1] = str(port)
    argv = [sys.executable, "-m", "webhook.cli", "serve", *arguments]
    log = root / "server.log"
    with running(argv, log, container_environment(container, mounts)) as process:
        wait_for(lambda: _accepts(port), "the webhook to listen", process=process, log_path=log)
        yield Running(rendered, port, root)


@dataclass
class HelmTestRun:
    status: int
    output: str
    calls: list[str]


def run_test_pod(
    running_webhook: Running,
    rendered: Rendered | None = None,
    *,
    endpoint: tuple[str, int] | None = None,
) -> HelmTestRun:
    """The helm test pod's script, run as kubelet would with its ServiceAccount token,
    against the API server stand-in that knows `rendered` (by default the render the
    webhook runs from) and forwards the Service to the webhook (or `endpoint`)."""
    rendered = rendered or running_webhook.rendered
    pod = rendered.one("Pod")
    (container,) = pod["spec"]["containers"]
    assert pod["spec"]["automountServiceAccountToken"] is True
    root = running_webhook.root / f"api-{uuid.uuid4().hex[:8]}"
    account_dir = root / "serviceaccount"
    account_dir.mkdir(parents=True)
    token = secrets.token_urlsafe(24)
    (account_dir / "token").write_text(token)
    (account_dir / "namespace").write_text(pod["metadata"]["namespace"])
    ca = generate_ca("kubernetes-ca")
    serving = generate_serving_certificate(
        ca, ["kubernetes.default.svc"], ip_addresses=["127.0.0.1"]
    )
    files = write_certificate_files(root / "apiserver", ca, serving)
    (account_dir / "ca.crt").write_bytes(ca.cert_pem)
    service = f"{rendered.one('Service')['metadata']['name']}.{NAMESPACE}.svc"
    cluster = Cluster(
        rendered,
        tokens={token: (pod["metadata"]["namespace"], pod["spec"]["serviceAccountName"])},
        endpoints={service: endpoint or ("127.0.0.1", running_webhook.port)},
    )
    env = container_environment(container, {})
    assert container["command"][:2] == ["python3", "-c"]
    with AdmissionAPIServer(cluster, files["tls.crt"], files["tls.key"]) as api:
        completed = subprocess.run(
            [sys.executable, "-c", container["command"][2]],
            capture_output=True,
            text=True,
            timeout=120,
            env={
                "PATH": "/usr/bin:/bin",
                **env,
                "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": str(api.port),
                "IDMS_GUARD_SERVICEACCOUNT_DIR": str(account_dir),
                "IDMS_GUARD_ATTEMPTS": "1",
            },
            check=False,
        )
    return HelmTestRun(completed.returncode, completed.stdout + completed.stderr, api.calls)


def changed(rendered: Rendered, change: Any) -> Rendered:
    """A copy of the render with `change(documents)` applied, as if the cluster had it so."""
    documents = [copy.deepcopy(document) for document in rendered.documents]
    change(documents)
    return Rendered(rendered.text, tuple(documents))


def validating_entries(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        entry
        for document in documents
        if document["kind"] == "ValidatingWebhookConfiguration"
        for entry in document["webhooks"]
    ]


def test_the_helm_test_pod_passes_through_the_api_server(webhook: Running) -> None:
    run = run_test_pod(webhook)
    assert run.status == 0, run.output
    assert "ok: the API server called the webhook" in run.output
    assert "helm-test.idms-guard.invalid/probe:1.0" in run.output
    assert run.calls == ["warn.idms-guard.io"]  # the test namespace's mode, nothing else


def test_the_helm_test_pod_fails_without_a_ca_bundle(webhook: Running) -> None:
    """As with cainjector or service-ca not running: the API server cannot call it, and the
    warn entry's Ignore lets the pod through silently."""

    def drop_bundles(documents: list[dict[str, Any]]) -> None:
        for entry in validating_entries(documents):
            entry["clientConfig"].pop("caBundle")

    run = run_test_pod(webhook, changed(webhook.rendered, drop_bundles))
    assert run.status == 1
    assert "without idms-guard's warning" in run.output
    assert "caBundle" in run.output


def test_the_helm_test_pod_fails_when_the_bundle_trusts_another_ca(webhook: Running) -> None:
    stranger = base64.b64encode(generate_ca("someone-else").cert_pem).decode()

    def replace_bundles(documents: list[dict[str, Any]]) -> None:
        for entry in validating_entries(documents):
            entry["clientConfig"]["caBundle"] = stranger

    run = run_test_pod(webhook, changed(webhook.rendered, replace_bundles))
    assert run.status == 1
    assert "without idms-guard's warning" in run.output


def test_the_helm_test_pod_fails_when_the_api_server_cannot_reach_the_webhook(
    webhook: Running,
) -> None:
    """A NetworkPolicy that shuts the API server out looks like this: nobody answers."""
    run = run_test_pod(webhook, endpoint=("127.0.0.1", free_port()))
    assert run.status == 1
    assert "without idms-guard's warning" in run.output


def test_the_helm_test_pod_needs_its_role(webhook: Running) -> None:
    def drop_roles(documents: list[dict[str, Any]]) -> None:
        documents[:] = [d for d in documents if d["kind"] != "Role"]

    run = run_test_pod(webhook, changed(webhook.rendered, drop_roles))
    assert run.status == 1
    assert "403" in run.output
    assert "cannot create resource" in run.output


def test_the_served_certificate_is_the_one_the_webhooks_trust(webhook: Running) -> None:
    status, _ = call_as_the_api_server(webhook, "GET", "/healthz")
    assert status == 200


def test_static_mirror_sets_are_loaded_from_the_config_map(webhook: Running) -> None:
    """The webhook judges by the mounted example mirror sets: an ITMS covers quay.io/acme."""
    for image, allowed in [("quay.io/acme/shop:1.4", True), ("docker.io/library/nginx:1", False)]:
        review = pod_review({"app": image})
        status, answer = call_as_the_api_server(webhook, "POST", "/validate/enforce", review)
        assert status == 200
        assert answer["response"]["allowed"] is allowed, (image, answer)


def call_as_the_api_server(
    webhook: Running, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """HTTPS to the server, trusting only the webhooks' caBundle, checking the Service name."""
    (configuration,) = webhook.rendered.of_kind("ValidatingWebhookConfiguration")
    bundle = base64.b64decode(configuration["webhooks"][0]["clientConfig"]["caBundle"])
    context = ssl.create_default_context(cadata=bundle.decode())
    service = f"{webhook.rendered.one('Service')['metadata']['name']}.{NAMESPACE}.svc"
    connection = http.client.HTTPConnection("127.0.0.1", webhook.port, timeout=10)
    raw = socket.create_connection(("127.0.0.1", webhook.port), timeout=10)
    connection.sock = context.wrap_socket(raw, server_hostname=service)
    try:
        payload = json.dumps(body) if body is not None else None
        connection.request(method, path, payload, {"Content-Type": "application/json"})
        reply = connection.getresponse()
        data = reply.read()
        return reply.status, json.loads(data) if body is not None else data
    finally:
        connection.close()


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


TEST_NAMESPACE = "guard-idms-guard-helm-test"
HOOK = "helm.sh/hook"


def test_the_test_objects_are_hooks_in_a_namespace_the_release_owns(
    default_render: Rendered,
) -> None:
    """`helm uninstall` leaves hooks behind but deletes release objects: the namespace is
    one, so a failed test pod, kept for its logs, goes with it."""
    namespace = default_render.one("Namespace")
    assert namespace["metadata"]["name"] == TEST_NAMESPACE
    assert HOOK not in (namespace["metadata"].get("annotations") or {})
    tests = [d for d in default_render.documents if HOOK in d["metadata"].get("annotations", {})]
    assert sorted(d["kind"] for d in tests) == ["Pod", "Role", "RoleBinding", "ServiceAccount"]
    for document in tests:
        metadata = document["metadata"]
        assert metadata["namespace"] == TEST_NAMESPACE, document["kind"]
        assert metadata["annotations"][HOOK] == "test"
        policies = metadata["annotations"]["helm.sh/hook-delete-policy"].split(",")
        assert policies == ["before-hook-creation", "hook-succeeded"]


def test_the_test_may_create_pods_in_its_namespace_and_nothing_else(
    default_render: Rendered,
) -> None:
    account = default_render.one("Pod")["spec"]["serviceAccountName"]
    (binding,) = [
        b for b in default_render.of_kind("RoleBinding") if b["roleRef"]["name"] == account
    ]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": TEST_NAMESPACE}
    ]
    role = default_render.one("Role", binding["roleRef"]["name"])
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]
    for cluster_binding in default_render.of_kind("ClusterRoleBinding"):
        assert all(s["name"] != account for s in cluster_binding["subjects"])


@pytest.mark.parametrize("pin_everywhere", [False, True])
def test_the_test_namespace_reaches_the_warn_entry_alone(helm: Helm, pin_everywhere: bool) -> None:
    rendered = helm.template({"pinning": {"allGuardedNamespaces": pin_everywhere}})
    labels = {"kubernetes.io/metadata.name": TEST_NAMESPACE}
    labels.update(rendered.one("Namespace")["metadata"]["labels"])
    selected = [
        entry["name"]
        for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
        for configuration in rendered.of_kind(kind)
        for entry in configuration["webhooks"]
        if selects(entry["namespaceSelector"], labels)
    ]
    assert selected == ["warn.idms-guard.io"]


def test_the_test_namespace_can_be_named(helm: Helm) -> None:
    rendered = helm.template({"tests": {"namespace": "idms-guard-smoke"}})
    assert rendered.one("Namespace")["metadata"]["name"] == "idms-guard-smoke"
    assert rendered.one("Pod")["metadata"]["namespace"] == "idms-guard-smoke"
    (container,) = rendered.one("Pod")["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["IDMS_GUARD_TEST_NAMESPACE"] == "idms-guard-smoke"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"webhooks": {"warn": {"enabled": False}}}, "tests.enabled needs webhooks.warn.enabled"),
        (
            {"tests": {"namespace": "kube-smoke"}, "policy": {"exemptNamespaces": []}},
            'starts with "kube-"',
        ),
        ({"tests": {"namespace": NAMESPACE}}, "it is the release namespace"),
        (
            {"tests": {"namespace": "legacy"}, "webhooks": {"excludeNamespaces": ["legacy"]}},
            "webhooks.excludeNamespaces lists it",
        ),
        (
            {"tests": {"namespace": "team-x"}, "policy": {"exemptNamespaces": ["team-?"]}},
            r'matches "team-\?"',
        ),
    ],
    ids=["warn off", "excluded prefix", "release namespace", "excluded", "exempt"],
)
def test_a_test_that_could_never_see_a_warning_is_refused(
    helm: Helm, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmError, match=message):
        helm.template(values)


def test_without_tests_there_is_no_test_namespace(helm: Helm) -> None:
    rendered = helm.template(
        {"tests": {"enabled": False}, "webhooks": {"warn": {"enabled": False}}}
    )
    assert not {"Namespace", "Pod", "Role", "RoleBinding"} & rendered.kinds()

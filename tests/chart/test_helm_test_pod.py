"""The chart's pieces work together, played out on this machine as kubelet would.

From one render: the chart-generated Secret and the mirror-set ConfigMap become files where
the Deployment mounts them, `idms-guard serve` starts with the Deployment's own command,
arguments and environment (only the address and port are changed), and the `helm test`
pod's script runs with its own environment against it, the Service's DNS name resolving to
127.0.0.1 as cluster DNS would. That covers the certificate (its names, its CA in the
webhooks' caBundle), the flags, the paths, and the test itself.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.helm import NAMESPACE, Helm, Rendered
from tests.support.processes import free_port, running, wait_for
from tests.support.reviews import pod_review
from webhook.adapters.tls_certificates import generate_ca, write_certificate_files
from webhook.main import example_mirror_sets_text

REPO = Path(__file__).parents[2]


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


def run_test_pod(running_webhook: Running, ca_override: Path | None = None) -> tuple[int, str]:
    """The helm test pod's command and environment, its Service name resolved locally."""
    rendered = running_webhook.rendered
    pod = rendered.one("Pod")
    (container,) = pod["spec"]["containers"]
    mounts = Kubelet(rendered, running_webhook.root / "test-pod").mount(pod["spec"], container)
    env = container_environment(container, mounts)
    if ca_override is not None:
        env["IDMS_GUARD_CA_FILE"] = str(ca_override)
        env["IDMS_GUARD_ATTEMPTS"] = "1"
    command = container["command"]
    assert command[:2] == ["python3", "-c"]
    host = urlsplit(env["IDMS_GUARD_URL"]).hostname
    assert host == f"{rendered.one('Service')['metadata']['name']}.{NAMESPACE}.svc"
    resolver = (
        "import socket\n"
        "_getaddrinfo = socket.getaddrinfo\n"
        "def _cluster_dns(host, port, *args, **kwargs):\n"
        f"    if host == {host!r}:\n"
        f"        return _getaddrinfo('127.0.0.1', {running_webhook.port}, *args, **kwargs)\n"
        "    return _getaddrinfo(host, port, *args, **kwargs)\n"
        "socket.getaddrinfo = _cluster_dns\n"
        f"exec(compile({command[2]!r}, 'admission-test.py', 'exec'))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", resolver],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **env},
        check=False,
    )
    return completed.returncode, completed.stdout + completed.stderr


def test_the_helm_test_pod_passes_against_the_rendered_webhook(webhook: Running) -> None:
    status, output = run_test_pod(webhook)
    assert status == 0, output
    assert "answered allowed=true" in output


def test_the_helm_test_pod_fails_when_the_certificate_is_not_trusted(
    webhook: Running, tmp_path: Path
) -> None:
    stranger = generate_ca("someone-else")
    files = write_certificate_files(tmp_path, stranger, stranger)
    status, output = run_test_pod(webhook, ca_override=files["ca.crt"])
    assert status == 1
    assert "CERTIFICATE_VERIFY_FAILED" in output


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

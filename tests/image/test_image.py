"""The container image, built and run the way a disconnected cluster gets and runs it.

The whole path of the README's "The image" section: build from the Dockerfile with local
base images (tests/image/podman.py), push to a mirror (Debian's Distribution registry with
TLS and htpasswd auth), pull it back pinned by digest, and run it as the chart's rendered
Deployment says, the way OpenShift's restricted-v2 runs it: an arbitrary UID with group 0,
no capabilities, no privilege escalation, a read-only root filesystem where only the
chart's emptyDir volumes are writable (podman's own tmpfs on /tmp, /run is turned off).
The chart's command, arguments, environment, mounts (its generated TLS Secret and
mirror-set ConfigMap as kubelet would write them), memory limit, probes, preStop hook and
`helm test` pod are taken from `helm template`, not repeated here; the `helm test` pod runs
from the image against the API server stand-in of tests/support/admission_api.py.

Needs podman, runc and mmdebstrap (`bash .ci/run` installs them): skipped with the reason
where no container can run, failed instead under CI=true.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.image.podman import (
    RUNTIME_BASE,
    TEST_TAG,
    NoEngineError,
    Podman,
    build_image,
    debian_sources,
    engine,
    git_revision,
)
from tests.support.admission_api import AdmissionAPIServer, Cluster
from tests.support.helm import NAMESPACE, RELEASE, Helm, Rendered, require_helm
from tests.support.kubelet import Kubelet, container_environment
from tests.support.mirror_objects import entry, mirror_object
from tests.support.processes import free_port, wait_for
from tests.support.registry import RegistryServer, RegistryTls, make_registry_tls
from tests.support.reviews import pod_review
from webhook.adapters.tls_certificates import (
    CertificatePair,
    generate_ca,
    generate_serving_certificate,
    write_certificate_files,
)

pytestmark = pytest.mark.image

REPOSITORY = "idms-guard/idms-guard"
ARBITRARY_USER = "1000650000:0"  # what restricted-v2 picks: a UID of the namespace's range
SERVICE = f"{RELEASE}-idms-guard"
SERVICE_NAME = f"{SERVICE}.{NAMESPACE}.svc"
UNMIRRORED = "docker.io/library/nginx:1.27"
MIRRORED = "quay.io/acme/app:1.0"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
START_TIMEOUT = 90.0  # an upper bound for the webhook to become ready, never an expectation


@pytest.fixture(scope="module")
def podman() -> Podman:
    try:
        return engine()
    except NoEngineError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"image test cannot run in CI: {error}", pytrace=False)
        pytest.skip(f"no container engine: {error}")


@pytest.fixture(scope="module")
def image(podman: Podman) -> str:
    build_image(podman, TEST_TAG)
    return TEST_TAG


@pytest.fixture(scope="module")
def registry_tls(tmp_path_factory: pytest.TempPathFactory) -> RegistryTls:
    return make_registry_tls(tmp_path_factory.mktemp("mirror-tls"))


@pytest.fixture(scope="module")
def mirror(
    tmp_path_factory: pytest.TempPathFactory, registry_tls: RegistryTls
) -> Iterator[RegistryServer]:
    users = {"mirror-pusher": f"pw-{secrets.token_hex(12)}"}
    workdir = tmp_path_factory.mktemp("mirror")
    with RegistryServer(workdir, registry_tls, auth="htpasswd", users=users) as server:
        yield server


@pytest.fixture(scope="module")
def pinned(podman: Podman, image: str, mirror: RegistryServer, tmp_path_factory: Any) -> str:
    """Pushed to the mirror, then pulled back by the digest the push reported."""
    registry_args = mirror_args(mirror)
    digest_file = tmp_path_factory.mktemp("push") / "digest"
    pushed = f"{mirror.host}/{REPOSITORY}:0.1.0"
    podman.run("push", *registry_args, "--digestfile", str(digest_file), image, pushed)
    reference = f"{mirror.host}/{REPOSITORY}@{digest_file.read_text().strip()}"
    podman.run("pull", *registry_args, reference)
    return reference


def mirror_args(mirror: RegistryServer) -> list[str]:
    [(user, password)] = mirror.users.items()
    return ["--cert-dir", str(mirror.tls.ca_file.parent), "--creds", f"{user}:{password}"]


@pytest.fixture(scope="module")
def rendered(pinned: str) -> Rendered:
    registry, _, rest = pinned.partition("/")
    repository, _, digest = rest.partition("@")
    values = {
        "image": {"registry": registry, "repository": repository, "digest": digest},
        "mirrorSets": {
            "watchCluster": False,
            "objects": [mirror_object("itms", "apps", [entry("quay.io/acme", "m.local/acme")])],
        },
        "preStopSleepSeconds": 1,
    }
    return Helm(require_helm()).template(values)


@dataclass(frozen=True)
class Webhook:
    """The running container, and an HTTPS client that checks the Service name."""

    podman: Podman
    name: str
    port: int
    ca_file: Path
    container: dict[str, Any]

    def request(self, method: str, path: str, body: Any = None) -> urllib3.BaseHTTPResponse:
        with urllib3.HTTPSConnectionPool(
            "127.0.0.1", self.port, ca_certs=str(self.ca_file), server_hostname=SERVICE_NAME,
            assert_hostname=SERVICE_NAME, retries=False, timeout=10,
        ) as pool:  # fmt: skip
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"}
            return pool.request(method, path, body=data, headers=headers)

    def review(self, path: str, body: Any) -> dict[str, Any]:
        reply = self.request("POST", path, body)
        assert reply.status == 200, reply.data
        answer: dict[str, Any] = reply.json()["response"]
        return answer

    def exec(self, *argv: str) -> str:
        return self.podman.run("exec", self.name, *argv, timeout=60)


@pytest.fixture(scope="module")
def webhook(
    podman: Podman, pinned: str, rendered: Rendered, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Webhook]:
    deployment = rendered.one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    mounts = Kubelet(rendered, tmp_path_factory.mktemp("webhook-pod")).mount(pod, container)
    tls_mount = next(m for m in container["volumeMounts"] if m["mountPath"].endswith("/tls"))
    ca_file = mounts[tls_mount["mountPath"]] / "ca.crt"  # the chart-made CA (helm mode)
    port, name = free_port(), f"idms-guard-image-test-{secrets.token_hex(4)}"
    container_port = container["ports"][0]["containerPort"]
    argv = [
        "run", "--detach", "--name", name, *restricted(container),
        "--network", "slirp4netns", "--publish", f"127.0.0.1:{port}:{container_port}",
        "--memory", memory(container["resources"]["limits"]["memory"]),
        *environment(container), *volumes(container, pod, mounts),
        "--entrypoint", json.dumps(container["command"]), pinned, *container["args"],
    ]  # fmt: skip
    podman.run(*argv)
    try:
        hook = Webhook(podman, name, port, ca_file, container)
        wait_for(lambda: ready(hook), "the webhook container to be ready", START_TIMEOUT)
        yield hook
    finally:
        print(podman.run("logs", name)[-3000:])
        podman.run("rm", "--force", "--time", "10", name)


def ready(hook: Webhook) -> bool:
    try:
        path = hook.container["readinessProbe"]["httpGet"]["path"]
        return hook.request("GET", path).status == 200
    except urllib3.exceptions.HTTPError:
        return False


def restricted(container: dict[str, Any]) -> list[str]:
    """podman's flags for the chart's container securityContext, as restricted-v2 runs it."""
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["runAsNonRoot"] is True
    return [
        "--read-only", "--read-only-tmpfs=false", "--user", ARBITRARY_USER,
        "--cap-drop=ALL", "--security-opt", "no-new-privileges",
    ]  # fmt: skip


def memory(quantity: str) -> str:
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    return quantity[:-2] + units[quantity[-2:]]


def environment(container: dict[str, Any]) -> list[str]:
    variables = container_environment(container, {})
    return [flag for item in variables.items() for flag in ("--env", "=".join(item))]


def volumes(container: dict[str, Any], pod: dict[str, Any], mounts: dict[str, Path]) -> list[str]:
    """Secrets and ConfigMaps as kubelet's files, read-only; emptyDirs as tmpfs."""
    sources = {volume["name"]: volume for volume in pod["volumes"]}
    flags = []
    for mount in container["volumeMounts"]:
        source, target = sources[mount["name"]], mount["mountPath"]
        if "emptyDir" in source:
            size = memory(source["emptyDir"]["sizeLimit"])
            flags += ["--mount", f"type=tmpfs,destination={target},tmpfs-size={size}"]
        else:
            flags += ["--volume", f"{mounts[target]}:{target}:ro"]
    return flags


def test_the_chart_runs_the_image_pinned_by_digest_from_the_mirror(
    webhook: Webhook, pinned: str
) -> None:
    assert webhook.container["image"] == pinned
    inspected = json.loads(webhook.podman.run("container", "inspect", webhook.name))[0]
    assert inspected["ImageName"] == pinned
    pulled = json.loads(webhook.podman.run("image", "inspect", pinned))[0]
    assert pinned in pulled["RepoDigests"]


def test_the_image_names_its_base_and_revision(podman: Podman, image: str) -> None:
    labels = json.loads(podman.run("image", "inspect", image))[0]["Config"]["Labels"]
    assert labels["org.opencontainers.image.base.name"] == RUNTIME_BASE.tag(debian_sources())
    assert labels["org.opencontainers.image.revision"] == git_revision()


def test_liveness_and_readiness_answer_over_tls_for_the_service_name(webhook: Webhook) -> None:
    for probe in ("livenessProbe", "readinessProbe"):
        get = webhook.container[probe]["httpGet"]
        assert get["scheme"] == "HTTPS"
        assert webhook.request("GET", get["path"]).status == 200


def test_enforce_denies_an_image_no_mirror_serves(webhook: Webhook) -> None:
    answer = webhook.review("/validate/enforce", pod_review({"web": UNMIRRORED}))
    assert answer["allowed"] is False
    assert "pulled by tag" in answer["status"]["message"]


def test_warn_allows_it_with_a_warning(webhook: Webhook) -> None:
    answer = webhook.review("/validate/warn", pod_review({"web": UNMIRRORED}))
    assert answer["allowed"] is True
    assert any(UNMIRRORED in warning for warning in answer["warnings"])


def test_audit_allows_it_and_records_the_finding(webhook: Webhook) -> None:
    answer = webhook.review("/validate/audit", pod_review({"web": UNMIRRORED}))
    assert answer["allowed"] is True
    assert "tag-not-mirrored" in json.dumps(answer["auditAnnotations"])


def test_an_image_the_mounted_mirror_sets_serve_is_allowed(webhook: Webhook) -> None:
    answer = webhook.review("/validate/enforce", pod_review({"app": MIRRORED}))
    assert answer["allowed"] is True


def test_metrics_count_the_reviews(webhook: Webhook) -> None:
    webhook.review("/validate/audit", pod_review({"web": UNMIRRORED}))
    reply = webhook.request("GET", "/metrics")
    assert reply.status == 200
    assert 'reason="tag-not-mirrored"' in reply.data.decode()


def test_the_server_runs_as_the_arbitrary_uid_without_capabilities(webhook: Webhook) -> None:
    status = process_status(webhook)
    assert status["Uid"].split()[:2] == [ARBITRARY_USER.split(":")[0]] * 2
    assert status["Gid"].split()[:2] == ["0", "0"]
    assert int(status["CapEff"], 16) == 0
    assert int(status["CapBnd"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"


def process_status(webhook: Webhook) -> dict[str, str]:
    """/proc/1/status of the server, read with the image's own python3 (there is no shell)."""
    script = "print(open('/proc/1/status').read())"
    lines = webhook.exec("python3", "-c", script).splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def test_only_the_chart_volumes_are_writable(webhook: Webhook) -> None:
    inspected = json.loads(webhook.podman.run("container", "inspect", webhook.name))[0]
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True
    writable = {mount["Destination"] for mount in inspected["Mounts"] if mount["RW"]}
    tmpfs = set(inspected["HostConfig"].get("Tmpfs") or {})
    empty_dirs = {"/tmp", "/home/idms-guard"}
    assert writable | tmpfs == empty_dirs
    home = next(e["value"] for e in webhook.container["env"] if e["name"] == "HOME")
    assert home in empty_dirs


def test_the_prestop_hook_runs_in_the_image(webhook: Webhook) -> None:
    command = webhook.container["lifecycle"]["preStop"]["exec"]["command"]
    webhook.exec(*command)


def test_the_helm_test_pod_passes_through_the_api_server(
    webhook: Webhook, pinned: str, rendered: Rendered, tmp_path: Path
) -> None:
    """The test pod's own command and environment, run from the image with a
    ServiceAccount token, against the API server stand-in (tests/support/admission_api.py)
    that calls the webhook container trusting the rendered caBundle."""
    pod = rendered.one("Pod")
    [container] = pod["spec"]["containers"]
    assert container["image"] == pinned
    token = secrets.token_urlsafe(24)
    account = service_account(tmp_path, token, pod["metadata"]["namespace"])
    cluster = Cluster(
        rendered,
        tokens={token: (pod["metadata"]["namespace"], pod["spec"]["serviceAccountName"])},
        endpoints={SERVICE_NAME: ("127.0.0.1", webhook.port)},
    )
    api_files = write_certificate_files(tmp_path / "apiserver", *api_certificate(account))
    with AdmissionAPIServer(cluster, api_files["tls.crt"], api_files["tls.key"]) as api:
        output = webhook.podman.run(
            "run", "--rm", "--network", "host", *restricted(container),  # a client only
            "--volume", f"{account}:{SERVICE_ACCOUNT_DIR}:ro", *environment(container),
            "--env", "KUBERNETES_SERVICE_HOST=127.0.0.1",
            "--env", f"KUBERNETES_SERVICE_PORT={api.port}",
            "--entrypoint", json.dumps(container["command"][:1]), pinned,
            *container["command"][1:], timeout=120,
        )  # fmt: skip
    assert "ok: the API server called the webhook" in output


def service_account(root: Path, token: str, namespace: str) -> Path:
    directory = root / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text(token)
    (directory / "namespace").write_text(namespace)
    return directory


def api_certificate(account: Path) -> tuple[CertificatePair, CertificatePair]:
    """The API server's CA, in the ServiceAccount's ca.crt, and its serving certificate."""
    ca = generate_ca("kubernetes-ca")
    (account / "ca.crt").write_bytes(ca.cert_pem)
    return ca, generate_serving_certificate(
        ca, ["kubernetes.default.svc"], ip_addresses=["127.0.0.1"]
    )

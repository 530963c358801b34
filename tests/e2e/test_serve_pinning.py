"""`idms-guard serve` pins over real HTTPS with a real mirror registry: the whole path the
API server's mutating call takes, from gunicorn to the Distribution registry and back."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import jsonpatch
import pytest
import yaml

from tests.e2e.test_serve_https import Server
from tests.support.mirror_objects import entry, mirror_object
from tests.support.processes import PYTHON, free_port, running, wait_for
from tests.support.registry import (
    REGISTRY_BINARY,
    RegistryServer,
    make_registry_tls,
    push_image,
)
from tests.support.reviews import pod_review
from webhook.adapters.tls_certificates import (
    generate_ca,
    generate_serving_certificate,
    service_dns_names,
    write_certificate_files,
)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryServer, str]]:
    if shutil.which(REGISTRY_BINARY) is None:
        pytest.skip(f"{REGISTRY_BINARY} is not installed (Debian: docker-registry)")
    workdir = tmp_path_factory.mktemp("mirror")
    tls = make_registry_tls(workdir / "tls")
    with RegistryServer(workdir, tls, "htpasswd", users={"reader": "pw-e2e-7431"}) as registry:
        digest = push_image(registry, "mirror/acme/app", "v1", layer_bytes=b"e2e app v1")
        yield registry, digest


@pytest.fixture
def server(tmp_path: Path, mirror: tuple[RegistryServer, str]) -> Iterator[Server]:
    registry, _ = mirror
    ca = generate_ca()
    names = service_dns_names("idms-guard", "idms-guard")
    write_certificate_files(tmp_path / "certs", ca, generate_serving_certificate(ca, names))
    sets = tmp_path / "mirror-sets.yaml"
    sets.write_text(
        yaml.safe_dump(
            mirror_object("idms", "acme", [entry("quay.io/acme", f"{registry.host}/mirror/acme")])
        )
    )
    auth = tmp_path / "auth.json"
    token = base64.b64encode(b"reader:pw-e2e-7431").decode()
    auth.write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    port, log = free_port(), tmp_path / "server.log"
    argv = [
        PYTHON, "-m", "webhook.cli", "serve",
        "--cert", str(tmp_path / "certs" / "tls.crt"),
        "--key", str(tmp_path / "certs" / "tls.key"),
        "--mirror-sets", str(sets), "--no-cluster",
        "--registry-auth", str(auth), "--registry-ca", str(registry.tls.ca_file),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with running(argv, log, {"HOME": str(tmp_path)}) as process:
        served = Server(port, tmp_path, process, log, ca)
        wait_for(lambda: served.get("/readyz") == 200, "readiness", process=process, log_path=log)
        yield served


def test_the_mutating_call_pins_the_tag_to_the_mirrors_digest(
    server: Server, mirror: tuple[RegistryServer, str]
) -> None:
    _, digest = mirror
    body = pod_review({"app": "quay.io/acme/app:v1"})
    status, reply = server.post("/mutate?timeout=10s", body)
    assert status == 200
    operations = json.loads(base64.b64decode(reply["response"]["patch"]))
    pod = jsonpatch.apply_patch(body["request"]["object"], operations)
    assert pod["spec"]["containers"][0]["image"] == f"quay.io/acme/app@{digest}"
    assert "pw-e2e-7431" not in server.log.read_text()


def test_the_pinned_pod_then_passes_enforcement(
    server: Server, mirror: tuple[RegistryServer, str]
) -> None:
    _, digest = mirror
    body = pod_review({"app": f"quay.io/acme/app@{digest}"})
    _, reply = server.post("/validate/enforce", body)
    assert reply["response"]["allowed"] is True

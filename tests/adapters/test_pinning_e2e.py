"""`/mutate` against real Distribution registries: tags become the digests the mirrors hold.

The patch is applied with the `jsonpatch` library and the result is judged again by the
engine: every pinned image must now be pulled by digest from the mirror.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
from flask.testing import FlaskClient

from tests.support.delaying_proxy import DelayingProxy
from tests.support.mirror_objects import entry, mirror_object
from tests.support.registry import FaultMode, RegistryServer, RegistryTls, push_image, push_index
from tests.support.reviews import pod_review, workload_review
from tests.support.sources import serving
from webhook.adapters.http_app import AppSettings, create_app
from webhook.adapters.registry import DockerConfig, RegistryClient
from webhook.adapters.resolver import TagResolver
from webhook.config import Settings
from webhook.core.lookups import LookupOutcome
from webhook.core.mirror_index import MirrorIndex, Role
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.patch import ORIGINAL_IMAGES_ANNOTATION
from webhook.core.policy import PolicySettings
from webhook.main import ReloadingRegistryClient, secret_scoped_lookup


def auth_file(registry: RegistryServer) -> DockerConfig:
    user, password = next(iter(registry.users.items()))
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return DockerConfig.from_json(json.dumps({"auths": {registry.host: {"auth": token}}}))


def mirrored_by(host: str) -> MirrorIndex:
    """quay.io/acme is mirrored (IDMS only: the usual oc-mirror output) to <host>/mirror/acme."""
    objects = [mirror_object("idms", "acme", [entry("quay.io/acme", f"{host}/mirror/acme")])]
    return MirrorIndex.from_config(load_mirror_sets(objects))


@contextmanager
def webhook(
    index: MirrorIndex, tls: RegistryTls, credentials: DockerConfig | None, timeout: float = 2.0
) -> Iterator[FlaskClient]:
    with RegistryClient(credentials, tls.ca_file, timeout=1.0) as client:
        resolver = TagResolver(client.manifest_digest)
        try:
            settings = AppSettings(PolicySettings(), pin_timeout=timeout)
            yield create_app(settings, serving(index), resolver).test_client()
        finally:
            resolver.close()


def mutate(client: FlaskClient, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(response, the object with the patch applied)."""
    reply = client.post("/mutate?timeout=10s", json=body)
    assert reply.status_code == 200
    response = reply.get_json()["response"]
    obj = body["request"]["object"]
    if "patch" in response:
        assert response["patchType"] == "JSONPatch"
        obj = jsonpatch.apply_patch(obj, json.loads(base64.b64decode(response["patch"])))
    return response, obj


@pytest.fixture(scope="module")
def pushed(htpasswd_registry: RegistryServer) -> dict[str, str]:
    return {
        "app": push_image(htpasswd_registry, "mirror/acme/app", "v1", layer_bytes=b"app v1"),
        "multi": push_index(htpasswd_registry, "mirror/acme/multi", "v2"),
    }


def test_tags_are_pinned_to_the_digests_in_the_mirror(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: dict[str, str]
) -> None:
    index = mirrored_by(htpasswd_registry.host)
    body = pod_review({"app": "quay.io/acme/app:v1", "multi": "quay.io/acme/multi:v2"})
    with webhook(index, registry_tls, auth_file(htpasswd_registry)) as client:
        response, pod = mutate(client, body)
    images = [c["image"] for c in pod["spec"]["containers"]]
    assert images == [f"quay.io/acme/app@{pushed['app']}", f"quay.io/acme/multi@{pushed['multi']}"]
    assert response.get("warnings") is None
    assert json.loads(pod["metadata"]["annotations"][ORIGINAL_IMAGES_ANNOTATION]) == {
        "/spec/containers/0/image": "quay.io/acme/app:v1",
        "/spec/containers/1/image": "quay.io/acme/multi:v2",
    }


def test_a_pinned_image_is_pulled_by_digest_from_the_mirror(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: dict[str, str]
) -> None:
    index = mirrored_by(htpasswd_registry.host)
    with webhook(index, registry_tls, auth_file(htpasswd_registry)) as client:
        _, pod = mutate(client, pod_review({"app": "quay.io/acme/app:v1"}))
    (plan,) = index.explain(pod["spec"]["containers"][0]["image"]).plans
    first = plan.candidates[0]
    assert (first.role, first.pull_spec) == (
        Role.MIRROR,
        f"{htpasswd_registry.host}/mirror/acme/app@{pushed['app']}",
    )


def test_the_pinned_pod_passes_the_validating_webhook(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: dict[str, str]
) -> None:
    index = mirrored_by(htpasswd_registry.host)
    body = pod_review({"app": "quay.io/acme/app:v1"})
    with webhook(index, registry_tls, auth_file(htpasswd_registry)) as client:
        assert (
            client.post("/validate/enforce", json=body).get_json()["response"]["allowed"] is False
        )
        _, pod = mutate(client, body)
        body["request"]["object"] = pod
        assert client.post("/validate/enforce", json=body).get_json()["response"]["allowed"]


def test_a_deployment_is_pinned_through_a_token_registry(
    token_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    digest = push_image(token_registry, "mirror/acme/web", "2.0", layer_bytes=b"web 2.0")
    body = workload_review(
        "apps", "v1", "Deployment", ["spec", "template", "spec"], {"web": "quay.io/acme/web:2.0"}
    )
    with webhook(mirrored_by(token_registry.host), registry_tls, auth_file(token_registry)) as c:
        _, deployment = mutate(c, body)
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"quay.io/acme/web@{digest}"


def test_a_second_invocation_changes_nothing(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: dict[str, str]
) -> None:
    index = mirrored_by(htpasswd_registry.host)
    body = pod_review({"app": "quay.io/acme/app:v1"})
    with webhook(index, registry_tls, auth_file(htpasswd_registry)) as client:
        _, pod = mutate(client, body)
        body["request"]["object"] = pod
        response, again = mutate(client, body)
    assert "patch" not in response
    assert again == pod


def test_a_tag_missing_from_the_mirror_stays_with_a_warning(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    index = mirrored_by(htpasswd_registry.host)
    body = pod_review({"app": "quay.io/acme/absent:v9"})
    with webhook(index, registry_tls, auth_file(htpasswd_registry)) as client:
        response, pod = mutate(client, body)
    assert pod["spec"]["containers"][0]["image"] == "quay.io/acme/absent:v9"
    assert response["warnings"] == [
        'container "app": quay.io/acme/absent:v9: not pinned: tag not found in the mirrors'
    ]


def test_wrong_credentials_leave_the_image_with_an_unauthorized_warning(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: dict[str, str]
) -> None:
    wrong = DockerConfig.from_json(
        json.dumps({"auths": {htpasswd_registry.host: {"username": "x", "password": "y"}}})
    )
    with webhook(mirrored_by(htpasswd_registry.host), registry_tls, wrong) as client:
        response, pod = mutate(client, pod_review({"app": "quay.io/acme/app:v1"}))
    assert pod["spec"]["containers"][0]["image"] == "quay.io/acme/app:v1"
    assert "not pinned: unauthorized at" in response["warnings"][0]


def test_the_audit_endpoint_records_the_digest_pinning_would_write(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: dict[str, str]
) -> None:
    index = mirrored_by(htpasswd_registry.host)
    with webhook(index, registry_tls, auth_file(htpasswd_registry)) as client:
        reply = client.post("/validate/audit", json=pod_review({"app": "quay.io/acme/app:v1"}))
    annotations = reply.get_json()["response"]["auditAnnotations"]
    (value,) = annotations.values()
    assert f"use quay.io/acme/app@{pushed['app']}" in value
    assert f"pinning would write {pushed['app']}" in value


def test_a_registry_slowed_beyond_the_deadline_leaves_the_image_alone(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: dict[str, str]
) -> None:
    """The real registry behind a proxy that holds each connection longer than the deadline."""
    with DelayingProxy(("127.0.0.1", htpasswd_registry.port), delay=5.0) as proxy:
        user, password = next(iter(htpasswd_registry.users.items()))
        credentials = DockerConfig.from_json(
            json.dumps({"auths": {proxy.host: {"username": user, "password": password}}})
        )
        with webhook(mirrored_by(proxy.host), registry_tls, credentials, timeout=0.5) as client:
            response, pod = mutate(client, pod_review({"app": "quay.io/acme/app:v1"}))
            assert client.get("/healthz").status_code == 200
    assert pod["spec"]["containers"][0]["image"] == "quay.io/acme/app:v1"
    assert "not pinned: registry lookup timed out" in response["warnings"][0]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        pytest.param(FaultMode.REFUSED, "unreachable at", id="registry-stopped"),
        pytest.param(FaultMode.SLOW, "timed out", id="registry-slower-than-the-deadline"),
        pytest.param(FaultMode.SERVER_ERROR, "bad-answer at", id="500"),
        pytest.param(FaultMode.NO_CHALLENGE, "unauthorized at", id="401"),
        pytest.param(FaultMode.NOT_FOUND, "tag not found in the mirrors", id="404"),
        pytest.param(FaultMode.GARBAGE, "bad-answer at", id="garbage"),
    ],
)
def test_a_broken_registry_leaves_the_image_alone_and_says_why(
    fault_server: Any, registry_tls: RegistryTls, mode: FaultMode, reason: str
) -> None:
    broken = fault_server(mode)
    with webhook(mirrored_by(broken.host), registry_tls, None, timeout=1.5) as client:
        response, pod = mutate(client, pod_review({"app": "quay.io/acme/app:v1"}))
        assert client.get("/healthz").status_code == 200
    assert pod["spec"]["containers"][0]["image"] == "quay.io/acme/app:v1"
    assert response["allowed"] is True
    assert "patch" not in response
    assert reason in response["warnings"][0]


def test_a_pods_own_pull_secret_is_used_when_enabled(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: dict[str, str]
) -> None:
    """No global credentials: only the pod's `imagePullSecrets` open the mirror, and the
    digest found with them is not handed to a pod without them."""
    user, password = next(iter(htpasswd_registry.users.items()))
    document = json.dumps(
        {"auths": {htpasswd_registry.host: {"username": user, "password": password}}}
    )
    stored = {("apps", "mirror-pull"): document}
    settings = Settings(registry_ca=str(registry_tls.ca_file))
    index = mirrored_by(htpasswd_registry.host)
    with RegistryClient(None, registry_tls.ca_file, timeout=1.0) as client:
        resolver = TagResolver(
            client.manifest_digest,
            scoped_lookup=lambda secrets: secret_scoped_lookup(settings, secrets),
        )
        try:
            app = create_app(
                AppSettings(PolicySettings()),
                serving(index),
                resolver,
                pull_secrets=lambda ns, names, _: [
                    stored[ns, n] for n in names if (ns, n) in stored
                ],
            )
            with_secret = pod_review({"app": "quay.io/acme/app:v1"})
            spec = with_secret["request"]["object"]["spec"]
            spec["imagePullSecrets"] = [{"name": "mirror-pull"}]
            _, pinned = mutate(app.test_client(), with_secret)
            response, unpinned = mutate(
                app.test_client(), pod_review({"app": "quay.io/acme/app:v1"})
            )
        finally:
            resolver.close()
    assert pinned["spec"]["containers"][0]["image"] == f"quay.io/acme/app@{pushed['app']}"
    assert unpinned["spec"]["containers"][0]["image"] == "quay.io/acme/app:v1"
    assert "not pinned: unauthorized at" in response["warnings"][0]


def test_rotated_registry_credentials_are_picked_up_without_a_restart(
    tmp_path: Path,
    htpasswd_registry: RegistryServer,
    registry_tls: RegistryTls,
    pushed: dict[str, str],
) -> None:
    user, password = next(iter(htpasswd_registry.users.items()))
    auth = tmp_path / "auth.json"

    def write(secret: str) -> None:
        document = {"auths": {htpasswd_registry.host: {"username": user, "password": secret}}}
        auth.write_text(json.dumps(document))

    write("wrong")
    clock = [0.0]
    settings = Settings(registry_auth=str(auth), registry_ca=str(registry_tls.ca_file))
    client = ReloadingRegistryClient(settings, check_interval=10, clock=lambda: clock[0])
    spec = f"{htpasswd_registry.host}/mirror/acme/app:v1"
    assert client.manifest_digest(spec).outcome is LookupOutcome.UNAUTHORIZED
    write(password)
    clock[0] += 11
    assert client.manifest_digest(spec).digest == pushed["app"]
    auth.write_text("{not json")
    clock[0] += 11
    assert client.manifest_digest(spec).digest == pushed["app"]  # the broken file is not used


def test_a_digest_the_digest_mirror_lacks_is_not_pinned(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    """Tags mirrored to one path, digests to another that lacks this image: pinning would
    send a working tag pull to a mirror without the manifest."""
    push_image(htpasswd_registry, "split/tags/app", "v3", layer_bytes=b"split app v3")
    objects = [
        mirror_object("itms", "t", [entry("quay.io/acme", f"{htpasswd_registry.host}/split/tags")]),
        mirror_object("idms", "d", [entry("quay.io/acme", f"{htpasswd_registry.host}/split/dig")]),
    ]
    index = MirrorIndex.from_config(load_mirror_sets(objects))
    with webhook(index, registry_tls, auth_file(htpasswd_registry)) as client:
        response, pod = mutate(client, pod_review({"app": "quay.io/acme/app:v3"}))
    assert pod["spec"]["containers"][0]["image"] == "quay.io/acme/app:v3"
    assert "is not on the digest mirrors" in response["warnings"][0]

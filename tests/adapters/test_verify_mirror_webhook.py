"""The validating webhook with `--verify-mirror` against real Distribution registries: an
image its mirrors lack is `not-in-mirror` in every mode; a mirror that cannot be asked
never denies; answers are cached as the policy says."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.adapters.test_pinning_e2e import auth_file, mutate
from tests.support.mirror_objects import entry, mirror_object
from tests.support.registry import RegistryServer, RegistryTls, TokenServer, push_image
from tests.support.reviews import pod_review
from tests.support.sources import serving
from webhook.adapters.http_app import AppSettings, create_app
from webhook.adapters.registry import DockerConfig, RegistryClient
from webhook.adapters.resolver import TagResolver
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings

ABSENT = "sha256:" + "2" * 64
HANG_CATCHER_SECONDS = 2.0  # the pin deadline is 1 s; anything near 2 s is a hang


def routed_to(host: str) -> MirrorIndex:
    """quay.io/held → <host>/mirror/held, by digest and by tag; the source is blocked."""
    mirrors = [entry("quay.io/held", f"{host}/mirror/held", never=True)]
    objects = [mirror_object("idms", "held", mirrors), mirror_object("itms", "held", mirrors)]
    return MirrorIndex.from_config(load_mirror_sets(objects))


class Clock:
    """The monotonic clock, moved forward by tests to age cached answers."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


class Webhook:
    def __init__(self, http: FlaskClient, resolver: TagResolver) -> None:
        self.http = http
        self.resolver = resolver

    def validate(self, mode: str, *images: str) -> dict[str, Any]:
        body = pod_review({f"c{n}": image for n, image in enumerate(images)})
        started = time.monotonic()
        reply = self.http.post(f"/validate/{mode}?timeout=10s", json=body)
        assert time.monotonic() - started < HANG_CATCHER_SECONDS
        assert reply.status_code == 200
        response: dict[str, Any] = reply.get_json()["response"]
        return response


@contextmanager
def webhook(
    host: str, tls: RegistryTls, credentials: DockerConfig | None, clock: Clock | None = None
) -> Iterator[Webhook]:
    with RegistryClient(credentials, tls.ca_file, timeout=0.8) as client:
        resolver = TagResolver(client.manifest_digest, clock=clock or Clock())
        settings = AppSettings(PolicySettings(), pin_timeout=1.0, verify_mirror=True)
        try:
            yield Webhook(
                create_app(settings, serving(routed_to(host)), resolver).test_client(), resolver
            )
        finally:
            resolver.close()


@pytest.fixture(scope="module")
def held(htpasswd_registry: RegistryServer) -> str:
    return push_image(htpasswd_registry, "mirror/held/app", "v1", layer_bytes=b"held app v1")


@pytest.fixture
def guard(htpasswd_registry: RegistryServer, registry_tls: RegistryTls) -> Iterator[Webhook]:
    with webhook(htpasswd_registry.host, registry_tls, auth_file(htpasswd_registry)) as hook:
        yield hook


def test_an_image_its_mirror_holds_is_allowed_without_a_word(guard: Webhook, held: str) -> None:
    response = guard.validate("enforce", f"quay.io/held/app@{held}", "quay.io/held/app:v1")
    assert response["allowed"] is True
    assert "warnings" not in response


def test_enforce_denies_a_digest_no_mirror_holds_naming_what_was_asked_where(
    guard: Webhook, htpasswd_registry: RegistryServer
) -> None:
    response = guard.validate("enforce", f"quay.io/held/app@{ABSENT}")
    assert response["allowed"] is False
    assert response["status"]["message"].splitlines()[1] == (
        f'- container "c0": quay.io/held/app@{ABSENT}: in none of its mirrors '
        f"({htpasswd_registry.host}/mirror/held/app: not found); "
        "mirror it (oc-mirror, or skopeo copy --all) before deploying"
    )


def test_warn_warns_about_a_tag_no_tag_mirror_holds(guard: Webhook) -> None:
    response = guard.validate("warn", "quay.io/held/app:v404")
    assert response["allowed"] is True
    assert response["warnings"] == [
        'container "c0": quay.io/held/app:v404: not in its mirrors; mirror it'
    ]


def test_audit_annotates_a_repository_no_mirror_holds(guard: Webhook) -> None:
    response = guard.validate("audit", f"quay.io/held/never-pushed@{ABSENT}")
    assert response["allowed"] is True
    assert list(response["auditAnnotations"]) == ["not-in-mirror-0"]


def test_refused_credentials_allow_with_a_warning_not_a_denial(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls, held: str
) -> None:
    wrong = DockerConfig.from_json(
        json.dumps({"auths": {htpasswd_registry.host: {"username": "x", "password": "y"}}})
    )
    with webhook(htpasswd_registry.host, registry_tls, wrong) as hook:
        response = hook.validate("enforce", f"quay.io/held/app@{ABSENT}")
    assert response["allowed"] is True
    (warning,) = response["warnings"]
    assert warning.startswith(
        f'container "c0": quay.io/held/app@{ABSENT[:19]}…: mirror not checked'
    )
    assert "unauthorized: HTTP 401" in warning


def test_a_stopped_registry_allows_within_the_deadline_and_a_cached_presence_survives_it(
    tmp_path: Path, registry_tls: RegistryTls
) -> None:
    registry = RegistryServer(tmp_path / "registry", registry_tls)
    with webhook(registry.host, registry_tls, None) as hook:
        with registry:
            digest = push_image(registry, "mirror/held/app", "v1", layer_bytes=b"soon gone")
            assert "warnings" not in hook.validate("enforce", f"quay.io/held/app@{digest}")
        cached = hook.validate("enforce", f"quay.io/held/app@{digest}")
        unknown = hook.validate("enforce", f"quay.io/held/app@{ABSENT}")
    assert cached["allowed"] is True
    assert "warnings" not in cached
    assert unknown["allowed"] is True
    assert "mirror not checked: unreachable" in unknown["warnings"][0]


def test_an_absent_answer_expires_and_the_image_is_admitted_once_mirrored(
    tmp_path: Path, registry_tls: RegistryTls
) -> None:
    clock = Clock()
    with (
        RegistryServer(tmp_path / "registry", registry_tls) as registry,
        webhook(registry.host, registry_tls, None, clock) as hook,
    ):
        assert hook.validate("enforce", "quay.io/held/late:v1")["allowed"] is False
        push_image(registry, "mirror/held/late", "v1", layer_bytes=b"mirrored late")
        assert hook.validate("enforce", "quay.io/held/late:v1")["allowed"] is False  # cached
        clock.offset += 11  # "absent" is kept seconds only
        assert hook.validate("enforce", "quay.io/held/late:v1")["allowed"] is True


def test_a_digest_just_pinned_is_not_asked_for_again(guard: Webhook, held: str) -> None:
    _, pod = mutate(guard.http, pod_review({"app": "quay.io/held/app:v1"}))
    asked = guard.resolver.lookups_made
    body = pod_review({"app": pod["spec"]["containers"][0]["image"]})
    response = guard.http.post("/validate/enforce", json=body).get_json()["response"]
    assert response["allowed"] is True
    assert guard.resolver.lookups_made == asked


def test_metrics_count_each_answer_by_outcome(guard: Webhook, held: str) -> None:
    guard.validate("warn", f"quay.io/held/app@{held}", f"quay.io/held/app@{ABSENT}")
    text = guard.http.get("/metrics").get_data(as_text=True)
    assert 'idms_guard_mirror_presence_checks_total{outcome="present"} 1.0' in text
    assert 'idms_guard_mirror_presence_checks_total{outcome="absent"} 1.0' in text


def test_without_verify_mirror_nothing_is_asked(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    with RegistryClient(auth_file(htpasswd_registry), registry_tls.ca_file) as client:
        resolver = TagResolver(client.manifest_digest)
        try:
            app = create_app(
                AppSettings(PolicySettings()), serving(routed_to(htpasswd_registry.host)), resolver
            )
            body = pod_review({"app": f"quay.io/held/app@{ABSENT}"})
            response = app.test_client().post("/validate/enforce", json=body).get_json()
        finally:
            resolver.close()
    assert response["response"]["allowed"] is True
    assert resolver.lookups_made == 0


def test_no_credential_or_token_reaches_an_answer_or_a_log(
    token_registry: RegistryServer,
    registry_tls: RegistryTls,
    registry_users: dict[str, str],
    token_server: TokenServer,
    registry_log: list[logging.LogRecord],
) -> None:
    digest = push_image(token_registry, "mirror/held/secret", "1", layer_bytes=b"kept quiet")
    with webhook(token_registry.host, registry_tls, auth_file(token_registry)) as hook:
        answers = [
            hook.validate(mode, f"quay.io/held/secret@{digest}", f"quay.io/held/secret@{ABSENT}")
            for mode in ("enforce", "warn", "audit")
        ]
    told = json.dumps(answers) + "\n".join(record.getMessage() for record in registry_log)
    secrets = [*registry_users.values(), *token_server.issued]
    assert token_server.issued
    assert not [secret for secret in secrets if secret in told]

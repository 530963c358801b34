"""The registry client against real registries: Debian's Distribution 2.8 (anonymous,
htpasswd, token auth), skopeo as the oracle for digests, and fault servers for the ways
mirrors break. Every outcome a lookup can have is reached through the network, never by
patching the client.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
import ssl
from pathlib import Path

import pytest

from tests.support.connect_proxy import ConnectProxy
from tests.support.registry import (
    DEAD_PORT,
    FAULT_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    PROXIED_REGISTRY_NAME,
    ClientFactory,
    FaultFactory,
    FaultMode,
    RegistryServer,
    RegistryTls,
    TokenServer,
    push_image,
    push_index,
    sha256_digest,
    skopeo_raw_manifest,
)
from webhook.adapters.registry import (
    DockerConfig,
    Lookup,
    LookupOutcome,
    RegistryClient,
    load_docker_config,
    parse_challenges,
)
from webhook.errors import InvalidReferenceError, RegistryConfigError

WRONG_PASSWORD = "wrong-pw-5f1d2c"
SLOW_TIMEOUT = 0.5


def config_for(registry: RegistryServer, password: str | None = None) -> DockerConfig:
    """A dockerconfigjson with the registry's user, under the registry's host key."""
    user, real_password = next(iter(registry.users.items()))
    auth = base64.b64encode(f"{user}:{password or real_password}".encode()).decode()
    return DockerConfig.from_json(json.dumps({"auths": {registry.host: {"auth": auth}}}))


# --- found ---------------------------------------------------------------------------


def test_finds_the_digest_of_a_tag_anonymously(
    anonymous_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    pushed = push_image(anonymous_registry, "acme/anonymous", "v1", layer_bytes=b"anon")
    lookup = registry_client().manifest_digest(f"{anonymous_registry.host}/acme/anonymous:v1")
    assert (lookup.outcome, lookup.digest, lookup.media_type) == (
        LookupOutcome.FOUND,
        pushed,
        OCI_MANIFEST,
    )


def test_finds_the_digest_with_basic_credentials(
    htpasswd_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    pushed = push_image(htpasswd_registry, "acme/basic", "v1", layer_bytes=b"basic")
    client = registry_client(config_for(htpasswd_registry))
    lookup = client.manifest_digest(f"{htpasswd_registry.host}/acme/basic:v1")
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, pushed)


def test_finds_the_digest_with_a_bearer_token(
    token_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    pushed = push_image(token_registry, "acme/bearer", "v1", layer_bytes=b"bearer")
    client = registry_client(config_for(token_registry))
    lookup = client.manifest_digest(f"{token_registry.host}/acme/bearer:v1")
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, pushed)


def test_a_token_sent_as_access_token_is_accepted(
    token_registry: RegistryServer, token_server: TokenServer, registry_client: ClientFactory
) -> None:
    pushed = push_image(token_registry, "acme/oauth", "v1", layer_bytes=b"oauth")
    token_server.token_fields = ("access_token",)  # the OAuth2 spelling only
    try:
        lookup = registry_client(config_for(token_registry)).manifest_digest(
            f"{token_registry.host}/acme/oauth:v1"
        )
    finally:
        token_server.token_fields = ("token", "access_token")
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, pushed)


def test_a_multi_arch_tag_resolves_to_the_index_digest_that_was_pushed(
    token_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    pushed = push_index(token_registry, "acme/multiarch", "v1")
    client = registry_client(config_for(token_registry))
    lookup = client.manifest_digest(f"{token_registry.host}/acme/multiarch:v1")
    assert (lookup.outcome, lookup.digest, lookup.media_type) == (
        LookupOutcome.FOUND,
        pushed,
        OCI_INDEX,
    )


@pytest.mark.skopeo
def test_the_index_digest_is_the_sha256_of_what_skopeo_reads(
    token_registry: RegistryServer,
    registry_tls: RegistryTls,
    registry_client: ClientFactory,
    tmp_path: Path,
) -> None:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    push_index(token_registry, "acme/oracle", "v1")
    spec = f"{token_registry.host}/acme/oracle:v1"
    credentials = next(iter(token_registry.users.items()))
    raw = skopeo_raw_manifest(spec, registry_tls, tmp_path / "home", credentials)
    lookup = registry_client(config_for(token_registry)).manifest_digest(spec)
    assert lookup.digest == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_a_digest_reference_is_found_when_the_registry_has_it(
    anonymous_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    pushed = push_image(anonymous_registry, "acme/by-digest", "v1", layer_bytes=b"digest")
    lookup = registry_client().manifest_digest(f"{anonymous_registry.host}/acme/by-digest@{pushed}")
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, pushed)


def test_a_registry_that_refuses_head_is_asked_with_get(
    fault_server: FaultFactory, registry_client: ClientFactory
) -> None:
    server = fault_server(FaultMode.HEAD_NOT_ALLOWED)
    lookup = registry_client().manifest_digest(f"{server.host}/acme/app:v1")
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, sha256_digest(FAULT_MANIFEST))
    assert [method for method, _ in server.requests] == ["HEAD", "GET"]


def test_the_digest_is_hashed_from_the_body_when_the_header_is_missing(
    fault_server: FaultFactory, registry_client: ClientFactory
) -> None:
    server = fault_server(FaultMode.NO_DIGEST_HEADER)
    lookup = registry_client().manifest_digest(f"{server.host}/acme/app:v1")
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, sha256_digest(FAULT_MANIFEST))
    assert [method for method, _ in server.requests] == ["HEAD", "GET"]


# --- not found -----------------------------------------------------------------------


def test_an_unknown_tag_is_not_found(
    anonymous_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    push_image(anonymous_registry, "acme/known", "v1", layer_bytes=b"known")
    lookup = registry_client().manifest_digest(f"{anonymous_registry.host}/acme/known:v2")
    assert lookup.outcome is LookupOutcome.NOT_FOUND
    assert lookup.detail == f"HTTP 404 from {anonymous_registry.host}"


def test_an_unknown_repository_is_not_found(
    token_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    client = registry_client(config_for(token_registry))
    lookup = client.manifest_digest(f"{token_registry.host}/acme/never-pushed:v1")
    assert lookup.outcome is LookupOutcome.NOT_FOUND


# --- unauthorized --------------------------------------------------------------------


def test_a_wrong_password_is_unauthorized_with_basic_auth(
    htpasswd_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    push_image(htpasswd_registry, "acme/locked", "v1", layer_bytes=b"locked")
    client = registry_client(config_for(htpasswd_registry, WRONG_PASSWORD))
    lookup = client.manifest_digest(f"{htpasswd_registry.host}/acme/locked:v1")
    assert lookup.outcome is LookupOutcome.UNAUTHORIZED


def test_a_wrong_password_is_unauthorized_with_a_token_service(
    token_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    push_image(token_registry, "acme/locked", "v1", layer_bytes=b"locked")
    client = registry_client(config_for(token_registry, WRONG_PASSWORD))
    lookup = client.manifest_digest(f"{token_registry.host}/acme/locked:v1")
    assert lookup.outcome is LookupOutcome.UNAUTHORIZED
    assert "token service" in lookup.detail


def test_no_credentials_is_unauthorized_with_basic_auth(
    htpasswd_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    push_image(htpasswd_registry, "acme/locked", "v1", layer_bytes=b"locked")
    lookup = registry_client().manifest_digest(f"{htpasswd_registry.host}/acme/locked:v1")
    assert lookup.outcome is LookupOutcome.UNAUTHORIZED


def test_no_credentials_is_unauthorized_with_a_token_service(
    token_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    # The token service hands out an anonymous token without access, as Docker Hub does;
    # the registry refuses it.
    push_image(token_registry, "acme/locked", "v1", layer_bytes=b"locked")
    lookup = registry_client().manifest_digest(f"{token_registry.host}/acme/locked:v1")
    assert lookup.outcome is LookupOutcome.UNAUTHORIZED


def test_credentials_for_another_host_are_not_sent(
    htpasswd_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    user, password = next(iter(htpasswd_registry.users.items()))
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    elsewhere = DockerConfig.from_json(json.dumps({"auths": {"127.0.0.1:1": {"auth": auth}}}))
    push_image(htpasswd_registry, "acme/locked", "v1", layer_bytes=b"locked")
    lookup = registry_client(elsewhere).manifest_digest(f"{htpasswd_registry.host}/acme/locked:v1")
    assert lookup.outcome is LookupOutcome.UNAUTHORIZED


@pytest.mark.parametrize(
    ("mode", "outcome", "detail"),
    [
        pytest.param(
            FaultMode.NO_CHALLENGE, LookupOutcome.UNAUTHORIZED, "without a usable",
            id="a-401-without-a-challenge-is-unauthorized",
        ),
        pytest.param(
            FaultMode.GARBAGE, LookupOutcome.BAD_ANSWER, "invalid Docker-Content-Digest",
            id="garbage-is-a-bad-answer",
        ),
        pytest.param(
            FaultMode.WRONG_CONTENT_TYPE, LookupOutcome.BAD_ANSWER, "text/html",
            id="a-wrong-content-type-is-a-bad-answer",
        ),
        pytest.param(
            FaultMode.REDIRECT, LookupOutcome.BAD_ANSWER, "redirects are not followed",
            id="a-redirect-is-not-followed",
        ),
    ],
)  # fmt: skip
def test_a_broken_registry_answer_is_classified(
    fault_server: FaultFactory,
    registry_client: ClientFactory,
    mode: FaultMode,
    outcome: LookupOutcome,
    detail: str,
) -> None:
    server = fault_server(mode)
    lookup = registry_client().manifest_digest(f"{server.host}/acme/app:v1")
    assert lookup.outcome is outcome
    assert detail in lookup.detail


# --- network faults ------------------------------------------------------------------


def test_a_refused_connection_is_unreachable(
    fault_server: FaultFactory, registry_client: ClientFactory
) -> None:
    server = fault_server(FaultMode.REFUSED)
    lookup = registry_client().manifest_digest(f"{server.host}/acme/app:v1")
    assert lookup.outcome is LookupOutcome.UNREACHABLE
    assert lookup.detail == f"cannot connect to {server.host}: Connection refused"


def test_an_untrusted_certificate_is_unreachable_and_says_so(
    anonymous_registry: RegistryServer, registry_client: ClientFactory
) -> None:
    client = registry_client(trust_test_ca=False)  # the system CAs do not know the test CA
    lookup = client.manifest_digest(f"{anonymous_registry.host}/acme/anything:v1")
    assert lookup.outcome is LookupOutcome.UNREACHABLE
    assert "certificate" in lookup.detail


def test_a_slow_registry_times_out(
    fault_server: FaultFactory, registry_client: ClientFactory
) -> None:
    server = fault_server(FaultMode.SLOW)
    lookup = registry_client(timeout=SLOW_TIMEOUT).manifest_digest(f"{server.host}/acme/app:v1")
    assert lookup.outcome is LookupOutcome.TIMEOUT


def test_a_server_error_is_a_bad_answer(
    fault_server: FaultFactory, registry_client: ClientFactory
) -> None:
    server = fault_server(FaultMode.SERVER_ERROR)
    lookup = registry_client().manifest_digest(f"{server.host}/acme/app:v1")
    assert (lookup.outcome, lookup.detail) == (
        LookupOutcome.BAD_ANSWER,
        f"HTTP 500 from {server.host}",
    )


def test_credentials_are_never_sent_to_a_plain_http_token_realm(
    fault_server: FaultFactory, registry_client: ClientFactory
) -> None:
    server = fault_server(FaultMode.PLAIN_HTTP_REALM)
    client = registry_client(_config({server.host: ALICE}))
    lookup = client.manifest_digest(f"{server.host}/acme/app:v1")
    assert lookup.outcome is LookupOutcome.BAD_ANSWER  # not UNREACHABLE: it was never tried
    assert "not a plain https URL" in lookup.detail


def test_an_unreachable_token_service_is_unreachable_and_named(
    fault_server: FaultFactory, registry_client: ClientFactory
) -> None:
    server = fault_server(FaultMode.DEAD_REALM)
    lookup = registry_client().manifest_digest(f"{server.host}/acme/app:v1")
    assert lookup.outcome is LookupOutcome.UNREACHABLE
    assert lookup.detail.startswith(f"cannot connect to token service 127.0.0.1:{DEAD_PORT}")


def test_a_pull_spec_without_a_registry_host_is_refused(registry_client: ClientFactory) -> None:
    with pytest.raises(InvalidReferenceError, match="registry host"):
        registry_client().manifest_digest("app:v1")


# --- bearer tokens -------------------------------------------------------------------


def test_a_bearer_token_is_reused_for_the_same_repository(
    token_registry: RegistryServer, token_server: TokenServer, registry_client: ClientFactory
) -> None:
    push_image(token_registry, "acme/cached", "v1", layer_bytes=b"cached")
    push_image(token_registry, "acme/cached", "v2", layer_bytes=b"cached-2")
    client = registry_client(config_for(token_registry))
    before = token_server.requests
    first = client.manifest_digest(f"{token_registry.host}/acme/cached:v1")
    second = client.manifest_digest(f"{token_registry.host}/acme/cached:v2")
    assert (first.outcome, second.outcome) == (LookupOutcome.FOUND, LookupOutcome.FOUND)
    assert token_server.requests - before == 1


def test_a_bearer_token_is_fetched_again_once_it_expires(
    token_registry: RegistryServer, token_server: TokenServer, registry_client: ClientFactory
) -> None:
    assert token_server.expires_in is not None
    now = [1000.0]
    push_image(token_registry, "acme/expiring", "v1", layer_bytes=b"expiring")
    client = registry_client(config_for(token_registry), clock=lambda: now[0])
    spec = f"{token_registry.host}/acme/expiring:v1"
    before = token_server.requests
    client.manifest_digest(spec)
    now[0] += token_server.expires_in  # the cache drops it a margin before it expires
    lookup = client.manifest_digest(spec)
    assert lookup.outcome is LookupOutcome.FOUND
    assert token_server.requests - before == 2


# --- DockerConfig --------------------------------------------------------------------

ALICE = ("alice", "a-pw")
BOB = ("bob", "b-pw")
CAROL = ("carol", "c-pw")


def _auth(credentials: tuple[str, str]) -> dict[str, str]:
    return {"auth": base64.b64encode(":".join(credentials).encode()).decode()}


def _config(keys: dict[str, tuple[str, str]]) -> DockerConfig:
    return DockerConfig.from_json(json.dumps({"auths": {k: _auth(v) for k, v in keys.items()}}))


NESTED = {"reg.io": ALICE, "reg.io/team": BOB, "reg.io/team/app": CAROL}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("reg.io/team/app", CAROL),
        ("reg.io/team/app:v1", CAROL),
        ("reg.io/team/app@sha256:" + "a" * 64, CAROL),
        ("reg.io/team/other", BOB),
        ("reg.io/team/app-two", BOB),  # a prefix is matched by path component, not text
        ("reg.io/other/app", ALICE),
        ("reg.io", ALICE),
        ("reg.io:5000/team/app", None),  # a port makes another host
        ("other.io/team/app", None),
    ],
)
def test_the_most_specific_key_wins(name: str, expected: tuple[str, str] | None) -> None:
    assert _config(NESTED).credentials_for(name) == expected


@pytest.mark.parametrize(
    "key",
    ["https://reg.io/v1/", "http://reg.io", "https://reg.io", "reg.io/v2/", "reg.io/v1", "REG.io"],
)
def test_legacy_keys_mean_their_host(key: str) -> None:
    assert _config({key: ALICE}).credentials_for("reg.io/team/app") == ALICE


def test_a_key_in_todays_form_beats_a_legacy_alias_of_the_same_host() -> None:
    config = _config({"https://reg.io/v1/": ALICE, "reg.io": BOB})
    assert config.credentials_for("reg.io/team/app") == BOB


@pytest.mark.parametrize(
    "key",
    ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io", "docker.io"],
)
@pytest.mark.parametrize("name", ["docker.io/library/nginx", "index.docker.io/library/nginx"])
def test_docker_hub_aliases_match_docker_io(key: str, name: str) -> None:
    assert _config({key: ALICE}).credentials_for(name) == ALICE


def test_username_and_password_fields_are_read() -> None:
    text = json.dumps({"auths": {"reg.io": {"username": "alice", "password": "a-pw"}}})
    assert DockerConfig.from_json(text).credentials_for("reg.io/app") == ALICE


def test_a_legacy_dockercfg_without_auths_is_read() -> None:
    text = json.dumps({"https://reg.io": _auth(ALICE)})
    assert DockerConfig.from_json(text).credentials_for("reg.io/app") == ALICE


def test_an_entry_with_only_an_identity_token_has_no_credentials() -> None:
    text = json.dumps({"auths": {"reg.io": {"identitytoken": "opaque"}}})
    assert DockerConfig.from_json(text).credentials_for("reg.io/app") is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not JSON"),
        ("[]", "expected a JSON object"),
        ('{"auths": []}', "'auths' is not an object"),
        ('{"auths": {"reg.io": "x"}}', "is not an object"),
        ('{"auths": {"reg.io": {"auth": "%%%not-base64"}}}', "not base64"),
        ('{"auths": {"reg.io": {"auth": "bm9jb2xvbg=="}}}', "user:password"),  # "nocolon"
        ('{"auths": {"reg.io": {"username": "u"}}}', "'username' and 'password'"),
    ],
)
def test_an_unusable_auth_file_is_a_config_error_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "auth.json"
    path.write_text(content)
    with pytest.raises(RegistryConfigError) as raised:
        load_docker_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert problem in str(raised.value)


def test_a_missing_auth_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryConfigError, match="cannot read"):
        load_docker_config(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "content",
    [
        '{"auths": {"reg.io": {"auth": "c2VjcmV0LXZhbHVl!"}}}',  # base64 of "secret-value", spoilt
        '{"auths": {"reg.io": {"password": "secret-value"}}}',  # no username
        '{"auths": {"reg.io": {"password": "secret-value"}}, oops}',  # not JSON
    ],
)
def test_a_config_error_does_not_repeat_the_secret(tmp_path: Path, content: str) -> None:
    path = tmp_path / "auth.json"
    path.write_text(content)
    with pytest.raises(RegistryConfigError) as raised:
        load_docker_config(path)
    assert "secret" not in str(raised.value)
    assert "c2VjcmV0" not in str(raised.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"not a certificate", "no PEM certificate"), (b"-----BEGIN CERTIFICATE-----\nxx", "usable")],
)
def test_an_unusable_ca_bundle_is_a_config_error(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content)
    with pytest.raises(RegistryConfigError, match=problem) as raised:
        RegistryClient(ca_bundle=bundle)
    assert str(bundle) in str(raised.value)


# --- WWW-Authenticate ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.io/token",service="reg",scope="repository:a/b:pull,push"',
            {
                "bearer": {
                    "realm": "https://auth.io/token",
                    "service": "reg",
                    "scope": "repository:a/b:pull,push",
                }
            },
        ),
        ('Basic realm="Registry Realm"', {"basic": {"realm": "Registry Realm"}}),
        (
            "bearer REALM=https://a/t, service=reg",
            {"bearer": {"realm": "https://a/t", "service": "reg"}},
        ),
        ('Bearer realm="a \\"quoted\\" realm"', {"bearer": {"realm": 'a "quoted" realm'}}),
        (
            'Basic realm="x", Bearer realm="https://a/t",scope="s1,s2"',
            {"basic": {"realm": "x"}, "bearer": {"realm": "https://a/t", "scope": "s1,s2"}},
        ),
        ('Bearer realm="unterminated', {"bearer": {"realm": "unterminated"}}),
        ("", {}),
        (",,, ;;", {}),
    ],
)
def test_challenges_are_parsed_with_quoted_commas_and_several_schemes(
    header: str, expected: dict[str, dict[str, str]]
) -> None:
    assert parse_challenges(header) == expected


# --- secrets never leak --------------------------------------------------------------


def test_reprs_of_config_and_client_name_registries_but_not_secrets(
    registry_client: ClientFactory,
) -> None:
    config = _config({"reg.io": ("alice", "a-very-secret-pw")})
    shown = repr(config) + repr(registry_client(config))
    assert "reg.io" in shown
    assert "a-very-secret-pw" not in shown
    assert _auth(("alice", "a-very-secret-pw"))["auth"] not in shown


def _secrets(registry: RegistryServer, token_server: TokenServer) -> list[str]:
    values = [WRONG_PASSWORD, *token_server.issued]
    for user, password in registry.users.items():
        values += [password, base64.b64encode(f"{user}:{password}".encode()).decode()]
    return values


def test_no_credential_or_token_appears_in_details_reprs_or_logs(
    token_registry: RegistryServer,
    htpasswd_registry: RegistryServer,
    token_server: TokenServer,
    registry_client: ClientFactory,
    registry_log: list[logging.LogRecord],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Runs every credentialed path again (so it proves something when run alone), then
    scans its own Lookups and reprs, caplog, and every log record of this module's tests."""
    caplog.set_level(logging.DEBUG)
    lookups: list[Lookup] = []
    clients: list[RegistryClient] = []
    for registry in (token_registry, htpasswd_registry):
        push_image(registry, "acme/leak-scan", "v1", layer_bytes=b"scan")
        for config in (config_for(registry), config_for(registry, WRONG_PASSWORD), None):
            client = registry_client(config)
            clients.append(client)
            for tag in ("v1", "v1", "missing"):
                lookups.append(client.manifest_digest(f"{registry.host}/acme/leak-scan:{tag}"))
    assert {lookup.outcome for lookup in lookups} >= {
        LookupOutcome.FOUND,
        LookupOutcome.NOT_FOUND,
        LookupOutcome.UNAUTHORIZED,
    }
    assert token_server.issued, "no token was issued: the scan would prove nothing"
    assert registry_log, "nothing was logged: the scan would prove nothing"
    texts = [lookup.detail for lookup in lookups] + [repr(item) for item in lookups + clients]
    texts += [caplog.text] + [record.getMessage() for record in registry_log]
    found = [
        secret[:8] + "…"
        for secret in _secrets(token_registry, token_server)
        if any(secret in text for text in texts)
    ]
    assert found == []


def test_a_ca_bundle_adds_to_the_system_trust_instead_of_replacing_it(
    registry_tls: RegistryTls,
) -> None:
    from webhook.adapters.registry import _ssl_context

    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    combined = _ssl_context(registry_tls.ca_file).cert_store_stats()["x509_ca"]
    assert combined == system + 1


def test_lookups_go_through_the_https_proxy_of_a_restricted_network(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    digest = push_image(htpasswd_registry, "acme/proxied", "v1", layer_bytes=b"proxied")
    host = f"{PROXIED_REGISTRY_NAME}:{htpasswd_registry.port}"
    user, password = next(iter(htpasswd_registry.users.items()))
    credentials = _config({host: (user, password)})
    with ConnectProxy() as proxy:
        environ = {"HTTPS_PROXY": f"http://{proxy.host}", "NO_PROXY": "10.0.0.0/8,.cluster.local"}
        with RegistryClient(credentials, registry_tls.ca_file, environ=environ) as client:
            lookup = client.manifest_digest(f"{host}/acme/proxied:v1")
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, digest)
    assert proxy.tunnels == [host]


@pytest.mark.parametrize(
    ("host", "no_proxy", "bypassed"),
    [
        pytest.param("mirror.corp", "", False, id="proxied-by-default"),
        pytest.param("mirror.corp", "mirror.corp", True, id="exact-name"),
        pytest.param("a.mirror.corp", ".mirror.corp", True, id="domain-suffix"),
        pytest.param("a.mirror.corp", "mirror.corp", True, id="domain-without-dot"),
        pytest.param("notmirror.corp", "mirror.corp", False, id="not-a-suffix-match"),
        pytest.param("10.1.2.3", "10.0.0.0/8", True, id="cidr"),
        pytest.param("127.0.0.1", "", True, id="loopback-never-proxied"),
        pytest.param("localhost", "", True, id="localhost-never-proxied"),
        pytest.param("anything", "*", True, id="star"),
        pytest.param("mirror.corp", "mirror.corp:5000", True, id="port-ignored"),
        pytest.param("fd02::10", "fd02::/48", True, id="ipv6-cidr"),
        pytest.param("fd00::5", "[fd00::5]:5000", True, id="ipv6-address-with-port"),
        pytest.param("fd00::6", "fd00::5", False, id="another-ipv6-address"),
    ],
)
def test_no_proxy_is_read_as_go_reads_it(host: str, no_proxy: str, bypassed: bool) -> None:
    from webhook.core.proxy_settings import proxy_settings as _proxy_settings

    proxy = _proxy_settings({"HTTPS_PROXY": "proxy:3128", "NO_PROXY": no_proxy})
    assert proxy is not None
    assert proxy.bypasses(host) is bypassed


def test_the_registry_proxy_variables_win_over_the_general_ones() -> None:
    from webhook.core.proxy_settings import proxy_settings as _proxy_settings

    proxy = _proxy_settings(
        {
            "HTTPS_PROXY": "http://general:1",
            "IDMS_GUARD_REGISTRY_PROXY": "http://registry-only:3128",
            "IDMS_GUARD_REGISTRY_NO_PROXY": ".corp",
        }
    )
    assert proxy is not None
    assert (proxy.url, proxy.no_proxy) == ("http://registry-only:3128", (".corp",))


def test_an_authenticated_proxy_gets_its_credentials_and_no_repr_shows_them(
    htpasswd_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    digest = push_image(htpasswd_registry, "acme/proxied", "v2", layer_bytes=b"proxied v2")
    host = f"{PROXIED_REGISTRY_NAME}:{htpasswd_registry.port}"
    user, password = next(iter(htpasswd_registry.users.items()))
    with ConnectProxy(credentials="proxy-user:proxy-s3cret") as proxy:
        environ = {"HTTPS_PROXY": f"http://proxy-user:proxy-s3cret@{proxy.host}"}
        with RegistryClient(
            _config({host: (user, password)}), registry_tls.ca_file, environ=environ
        ) as client:
            lookup = client.manifest_digest(f"{host}/acme/proxied:v2")
            shown = repr(client) + repr(client._proxy) + lookup.detail
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, digest)
    assert "proxy-s3cret" not in shown

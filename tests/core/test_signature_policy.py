"""policy.json as containers/image reads it, and the verdict it gives a logical reference.

Scope order (`requirementsForImageRef` + `DockerReferenceNamespaces`): the exact
reference, the repository and each parent namespace, host[:port], `*.domain` wildcards
of the host without its port, the transport's `""`, then `default`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from webhook.core.image_reference import parse_normalized
from webhook.core.signature_policy import (
    PolicyOutcome,
    parse_policy,
    parse_policy_text,
    policy_namespaces,
)
from webhook.errors import SignaturePolicyError

D = "sha256:" + "a" * 64
ACCEPT = [{"type": "insecureAcceptAnything"}]
REJECT = [{"type": "reject"}]
GPG = [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/etc/pki/key.gpg"}]
SIGSTORE = [{"type": "sigstoreSigned", "keyPath": "/etc/pki/cosign.pub"}]


def policy(default: Any = ACCEPT, **docker_scopes: Any) -> dict[str, Any]:
    return {"default": default, "transports": {"docker": dict(docker_scopes)}}


def verdict_of(document: dict[str, Any], image: str) -> tuple[PolicyOutcome, str | None]:
    verdict = parse_policy(document).verdict(parse_normalized(image))
    return verdict.outcome, verdict.scope


def test_namespaces_run_from_the_repository_to_the_wildcards_of_the_host() -> None:
    reference = parse_normalized("registry.example.com:8443/ns/app:1")
    assert policy_namespaces(reference) == [
        "registry.example.com:8443/ns/app",
        "registry.example.com:8443/ns",
        "registry.example.com:8443",
        "*.example.com",
        "*.com",
    ]


SCOPE_CASES = [
    # (docker scopes, image, expected outcome, deciding scope)
    pytest.param({}, "quay.io/a/b:1", PolicyOutcome.ACCEPTED, None, id="no-scope-uses-default"),
    pytest.param({"": REJECT}, "quay.io/a/b:1", PolicyOutcome.REJECTED, "", id="transport-default"),
    pytest.param(
        {"quay.io": REJECT}, "quay.io/a/b:1", PolicyOutcome.REJECTED, "quay.io", id="host"
    ),
    pytest.param(
        {"quay.io": REJECT, "quay.io/a": ACCEPT},
        "quay.io/a/b:1",
        PolicyOutcome.ACCEPTED,
        "quay.io/a",
        id="namespace-beats-host",
    ),
    pytest.param(
        {"quay.io/a/b": REJECT, "quay.io/a/b:1": ACCEPT},
        "quay.io/a/b:1",
        PolicyOutcome.ACCEPTED,
        "quay.io/a/b:1",
        id="exact-reference-first",
    ),
    pytest.param(
        {f"quay.io/a/b@{D}": REJECT},
        f"quay.io/a/b:1@{D}",
        PolicyOutcome.REJECTED,
        f"quay.io/a/b@{D}",
        id="tag-dropped-when-digested",
    ),
    pytest.param(
        {"quay.io/a/b:latest": REJECT},
        "quay.io/a/b",
        PolicyOutcome.REJECTED,
        "quay.io/a/b:latest",
        id="bare-name-is-latest",
    ),
    pytest.param(
        {"quay.io/a": REJECT}, "quay.io/ab/c:1", PolicyOutcome.ACCEPTED, None, id="whole-components"
    ),
    pytest.param(
        {"*.example.com": REJECT},
        "reg.example.com/x:1",
        PolicyOutcome.REJECTED,
        "*.example.com",
        id="wildcard",
    ),
    pytest.param(
        {"*.example.com": REJECT},
        "reg.example.com:5000/x:1",
        PolicyOutcome.REJECTED,
        "*.example.com",
        id="wildcard-ignores-port",
    ),
    pytest.param(
        {"*.example.com": REJECT},
        "example.com/x:1",
        PolicyOutcome.ACCEPTED,
        None,
        id="wildcard-needs-subdomain",
    ),
    pytest.param(
        {"*.example.com": REJECT, "reg.example.com": ACCEPT},
        "reg.example.com/x:1",
        PolicyOutcome.ACCEPTED,
        "reg.example.com",
        id="host-beats-wildcard",
    ),
    pytest.param(
        {"*.com": REJECT, "*.example.com": ACCEPT},
        "a.example.com/x:1",
        PolicyOutcome.ACCEPTED,
        "*.example.com",
        id="narrower-wildcard-first",
    ),
    pytest.param(
        {"docker.io/library": REJECT},
        "nginx:1",
        PolicyOutcome.REJECTED,
        "docker.io/library",
        id="normalized-name",
    ),
    pytest.param(
        {"quay.io": REJECT},
        "quay.io:443/a:1",
        PolicyOutcome.ACCEPTED,
        None,
        id="port-is-another-host",
    ),
]


@pytest.mark.parametrize(("scopes", "image", "outcome", "scope"), SCOPE_CASES)
def test_the_most_specific_scope_decides(
    scopes: dict[str, Any], image: str, outcome: PolicyOutcome, scope: str | None
) -> None:
    assert verdict_of({"default": ACCEPT, "transports": {"docker": scopes}}, image) == (
        outcome,
        scope,
    )


OUTCOME_CASES = [
    pytest.param(ACCEPT, PolicyOutcome.ACCEPTED, id="insecureAcceptAnything"),
    pytest.param(REJECT, PolicyOutcome.REJECTED, id="reject"),
    pytest.param(GPG, PolicyOutcome.NEEDS_SIGNATURE, id="signedBy-is-no-denial"),
    pytest.param(SIGSTORE, PolicyOutcome.NEEDS_SIGNATURE, id="sigstoreSigned-is-no-denial"),
    pytest.param([*GPG, *REJECT], PolicyOutcome.REJECTED, id="every-requirement-must-hold"),
    pytest.param([*ACCEPT, *SIGSTORE], PolicyOutcome.NEEDS_SIGNATURE, id="accept-and-signature"),
    pytest.param(
        [{"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchRepository"}}],
        PolicyOutcome.REJECTED,
        id="signedBaseLayer-never-implemented-upstream",
    ),
]


@pytest.mark.parametrize(("requirements", "outcome"), OUTCOME_CASES)
def test_requirements_give_the_outcome(requirements: list[Any], outcome: PolicyOutcome) -> None:
    assert verdict_of(policy(default=requirements), "quay.io/a:1")[0] is outcome


def test_other_transports_do_not_judge_docker_pulls() -> None:
    document = {"default": ACCEPT, "transports": {"atomic": {"quay.io": REJECT}}}
    assert verdict_of(document, "quay.io/a:1") == (PolicyOutcome.ACCEPTED, None)


def test_a_rejection_names_the_scope_and_requirement() -> None:
    verdict = parse_policy(policy(**{"quay.io": REJECT})).verdict(parse_normalized("quay.io/a:1"))
    assert (
        verdict.describe() == 'rejected: policy.json transports.docker["quay.io"] requires reject'
    )


def test_needing_a_signature_is_said_apart_from_rejection() -> None:
    verdict = parse_policy(policy(default=GPG)).verdict(parse_normalized("quay.io/a:1"))
    assert verdict.describe() == "needs signature: policy.json default requires signedBy"


def test_acceptance_is_one_word() -> None:
    verdict = parse_policy(policy()).verdict(parse_normalized("quay.io/a:1"))
    assert verdict.describe() == "accepted"


def test_a_policy_prints_back_to_the_same_document() -> None:
    document = {
        "default": REJECT,
        "transports": {"docker": {"quay.io": GPG}, "docker-daemon": {"": ACCEPT}},
    }
    assert parse_policy(document).to_json() == document


BAD_DOCUMENTS = [
    # (document or text, words the error must contain)
    pytest.param({"transports": {}}, "Default policy is missing", id="no-default"),
    pytest.param({"default": []}, "must not be empty", id="empty-default"),
    pytest.param({"default": ACCEPT, "extra": 1}, 'Unknown key "extra"', id="unknown-top-key"),
    pytest.param({"default": [{"type": "trustMe"}]}, 'type "trustMe"', id="unknown-type"),
    pytest.param(
        {"default": [{"type": "reject", "keyPath": "/k"}]},
        'Unknown key "keyPath"',
        id="extra-field",
    ),
    pytest.param(
        {"default": [{"type": "signedBy", "keyType": "GPGKeys"}]},
        "none of them present",
        id="signedBy-without-key",
    ),
    pytest.param(
        {"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "a", "keyData": "b"}]},
        "more than one present",
        id="signedBy-two-keys",
    ),
    pytest.param(
        {"default": [{"type": "signedBy", "keyType": "PGP", "keyPath": "a"}]},
        'keyType value "PGP"',
        id="signedBy-key-type",
    ),
    pytest.param(
        {"default": [{"type": "sigstoreSigned"}]}, "fulcio and pki", id="sigstore-without-key"
    ),
    pytest.param(
        {"default": [{**GPG[0], "signedIdentity": {"type": "anything"}}]},
        "reference match type",
        id="bad-signed-identity",
    ),
    pytest.param(
        {"default": ACCEPT, "transports": {"docker": {"quay.io": []}}},
        'transports.docker["quay.io"]: List of verification',
        id="empty-scope-named",
    ),
    pytest.param(
        {"default": ACCEPT, "transports": {"docker": ["quay.io"]}},
        "must be an object of scopes",
        id="scopes-not-object",
    ),
    pytest.param([ACCEPT], "must be a JSON object", id="not-an-object"),
]


@pytest.mark.parametrize(("document", "words"), BAD_DOCUMENTS)
def test_documents_upstream_refuses_are_refused_with_the_key_path(
    document: Any, words: str
) -> None:
    with pytest.raises(SignaturePolicyError, match=re.escape(words)):
        parse_policy(document)


def test_duplicate_keys_in_the_text_are_refused() -> None:
    text = '{"default": [{"type": "reject"}], "default": [{"type": "insecureAcceptAnything"}]}'
    with pytest.raises(SignaturePolicyError, match='Duplicate key "default"'):
        parse_policy_text(text)


def test_text_that_is_not_json_is_named() -> None:
    with pytest.raises(SignaturePolicyError, match="not JSON"):
        parse_policy_text("{default:")

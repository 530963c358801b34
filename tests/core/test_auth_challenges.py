"""What a lookup sends a registry host first, from what the host asked for before; and
what of a challenge is kept per host."""

from __future__ import annotations

import pytest

from webhook.core.auth_challenges import (
    FirstAnswer,
    HostChallenge,
    first_answer,
    host_challenge,
    parse_challenges,
)

BASIC = HostChallenge("basic")
BEARER = HostChallenge("bearer", "https://auth.corp/token", "registry.corp")


@pytest.mark.parametrize(
    ("remembered", "token_cached", "has_credentials", "expected"),
    [
        pytest.param(
            None, False, True, FirstAnswer.ANONYMOUS, id="unknown-host-is-asked-anonymously"
        ),
        pytest.param(
            None, False, False, FirstAnswer.ANONYMOUS, id="unknown-host-without-credentials"
        ),
        pytest.param(BASIC, False, True, FirstAnswer.BASIC, id="basic-host-gets-basic-at-once"),
        pytest.param(
            BASIC,
            False,
            False,
            FirstAnswer.ANONYMOUS,
            id="basic-host-no-credentials-for-the-repository",
        ),
        pytest.param(
            BEARER, False, True, FirstAnswer.TOKEN_FROM_REALM, id="bearer-host-token-from-realm"
        ),
        pytest.param(
            BEARER,
            False,
            False,
            FirstAnswer.TOKEN_FROM_REALM,
            id="bearer-host-anonymous-token-from-realm",
        ),
        pytest.param(BEARER, True, True, FirstAnswer.CACHED_TOKEN, id="cached-token-wins"),
        pytest.param(
            None, True, False, FirstAnswer.CACHED_TOKEN, id="cached-token-of-a-forgotten-host"
        ),
    ],
)
def test_the_first_answer_follows_what_the_host_asked_for_before(
    remembered: HostChallenge | None,
    token_cached: bool,
    has_credentials: bool,
    expected: FirstAnswer,
) -> None:
    answer = first_answer(remembered, token_cached=token_cached, has_credentials=has_credentials)
    assert answer is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param('Basic realm="Registry Realm"', BASIC, id="basic"),
        pytest.param(
            'Bearer realm="https://auth.corp/token",service="registry.corp",'
            'scope="repository:team/app:pull"',
            BEARER,
            id="bearer-keeps-realm-and-service-not-scope",
        ),
        pytest.param(
            'Basic realm="x", Bearer realm="https://auth.corp/token",service="registry.corp"',
            BEARER,
            id="bearer-before-basic-as-answered",
        ),
        pytest.param(
            'Bearer realm="https://auth.corp/token"',
            HostChallenge("bearer", "https://auth.corp/token"),
            id="bearer-without-service",
        ),
        pytest.param("Negotiate abc", None, id="no-scheme-the-client-answers"),
        pytest.param("", None, id="no-challenge"),
    ],
)
def test_a_host_challenge_is_the_one_the_client_answers(
    header: str, expected: HostChallenge | None
) -> None:
    assert host_challenge(parse_challenges(header)) == expected


def test_a_remembered_bearer_challenge_is_asked_like_a_new_one_without_a_scope() -> None:
    assert BEARER.bearer_parameters() == {
        "realm": "https://auth.corp/token",
        "service": "registry.corp",
    }

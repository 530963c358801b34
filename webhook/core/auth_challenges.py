"""`WWW-Authenticate` parsing, and what to send a registry host before it challenges again.

A host's challenge hardly ever changes, so the client remembers per host the one it
answered (`HostChallenge`: Basic, or Bearer with its realm and service) and `first_answer`
says how the next lookup starts: with a cached token, with Basic at once, with a token
fetched straight from the remembered realm, or anonymously (nothing known: the host must
challenge first, so no credential goes where it was not asked for). containers/image does
the same with the challenges of its one ping per client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Literal


@dataclass(frozen=True, slots=True)
class HostChallenge:
    """What a host asked for when it last challenged; for Bearer the token realm and
    service, never the scope (that belongs to one repository, not to the host)."""

    scheme: Literal["basic", "bearer"]
    realm: str = ""
    service: str = ""

    def bearer_parameters(self) -> dict[str, str]:
        """The Bearer challenge as if the host had just sent it for a new repository."""
        return {"realm": self.realm, "service": self.service}


class FirstAnswer(Enum):
    """How a lookup starts, before the host says anything."""

    CACHED_TOKEN = "the token cached for this host and repository"
    BASIC = "basic credentials, as the host asked for them before"
    TOKEN_FROM_REALM = "a token from the host's remembered realm"
    ANONYMOUS = "no Authorization: the host has not challenged yet"


def host_challenge(challenges: dict[str, dict[str, str]]) -> HostChallenge | None:
    """The challenge a client answers (Bearer before Basic), in the form kept per host."""
    if "bearer" in challenges:
        bearer = challenges["bearer"]
        return HostChallenge("bearer", bearer.get("realm", ""), bearer.get("service", ""))
    if "basic" in challenges:
        return HostChallenge("basic")
    return None


def first_answer(
    remembered: HostChallenge | None, *, token_cached: bool, has_credentials: bool
) -> FirstAnswer:
    """A cached token wins; a remembered Bearer realm is asked for a token (anonymous
    tokens too, as the host would ask anyway); Basic goes out only to a host that asked
    for it and only when credentials cover the repository."""
    if token_cached:
        return FirstAnswer.CACHED_TOKEN
    if remembered is None:
        return FirstAnswer.ANONYMOUS
    if remembered.scheme == "bearer":
        return FirstAnswer.TOKEN_FROM_REALM
    return FirstAnswer.BASIC if has_credentials else FirstAnswer.ANONYMOUS


def parse_challenges(header: str) -> dict[str, dict[str, str]]:
    """`WWW-Authenticate` (RFC 9110 §11.6.1) → {scheme: {parameter: value}}, keys lowercase.

    Hand-written because the header is not a comma list: quoted values hold commas and
    escapes, as Bearer scopes do (`scope="repository:a/b:pull,push"`), and one header may
    carry several challenges. The first challenge of a scheme, and the first value of a
    parameter, win. Garbage is skipped, never raised: a registry's header is input.
    """
    challenges: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    position, length = 0, len(header)
    while position < length:
        match = _TOKEN_RE.match(header, position)
        if match is None:  # separators, spaces or garbage: step over one character
            position += 1
            continue
        name = match.group()
        after = _skip_spaces(header, match.end())
        if after < length and header[after] == "=":
            value, position = _parameter_value(header, _skip_spaces(header, after + 1))
            current.setdefault(name.lower(), value)
        else:
            current = {}
            challenges.setdefault(name.lower(), current)
            position = after
    return challenges


_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BARE_VALUE_RE = re.compile(r"[^,\s]*")


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t":
        position += 1
    return position


def _parameter_value(text: str, position: int) -> tuple[str, int]:
    if position < len(text) and text[position] == '"':
        chars: list[str] = []
        position += 1
        while position < len(text) and text[position] != '"':
            if text[position] == "\\" and position + 1 < len(text):
                position += 1
            chars.append(text[position])
            position += 1
        return "".join(chars), position + 1
    match = _BARE_VALUE_RE.match(text, position)
    assert match is not None  # `*` matches the empty string
    return match.group(), match.end()

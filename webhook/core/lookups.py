"""What asking a registry for a tag's digest can come to: the vocabulary shared by the
registry client, the resolver, warnings and `explain --probe`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class LookupOutcome(Enum):
    FOUND = "found"
    NOT_FOUND = "not-found"
    UNAUTHORIZED = "unauthorized"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    BAD_ANSWER = "bad-answer"


@dataclass(frozen=True, slots=True)
class Lookup:
    pull_spec: str
    outcome: LookupOutcome
    digest: str | None = None
    media_type: str | None = None
    detail: str = ""
    """One line for humans; never credentials."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """The digest found for one image (first hit over its lookup specs), or why none was."""

    image: str
    digest: str | None
    attempts: tuple[Lookup, ...]
    reason: str = ""
    """Why there is no digest, in a few words, for the warning."""


Lookups = list[tuple[str, tuple[str, ...]]]
"""(image, pull specs to ask in order) pairs: what the resolver is given to answer."""


def credential_scope(pull_secrets: Sequence[str]) -> str:
    """Names the credentials an answer was obtained with ("" for the global ones only), so
    that answers made with one pod's pull secrets are kept apart from everyone else's."""
    if not pull_secrets:
        return ""
    return hashlib.sha256("\0".join(sorted(pull_secrets)).encode()).hexdigest()

"""Short-name aliases of registries.conf (`[aliases]`), checked as containers/image does.

An alias maps a short name to one repository, and CRI-O then pulls only that: it is
consulted before the search registries, whatever the short-name mode (spec §5.2). The
left side must be a short name without tag or digest; the right side a repository with
its registry, without tag or digest, normalized (`docker.io/alpine` means
`docker.io/library/alpine`). An empty right side resets an alias an earlier file set.
Every bad entry is reported at once, as upstream does, to spare a fix-one-rerun loop.
"""

from __future__ import annotations

from typing import Any

from webhook.core.image_reference import parse, parse_normalized
from webhook.errors import InvalidReferenceError, NodeConfigError


def parse_aliases(file_name: str, raw: Any) -> dict[str, str]:
    """`[aliases]` of one file → short name → normalized repository ("" resets)."""
    if not isinstance(raw, dict):
        raise NodeConfigError(f"{file_name}: [aliases] must be a table of strings")
    aliases: dict[str, str] = {}
    problems: list[str] = []
    for name, value in raw.items():
        problem = _short_name_problem(name)
        if problem is None and not isinstance(value, str):
            problem = f"the alias of {name!r} must be a string"
        elif problem is None and value:
            normalized, problem = _alias_value(value)
            if problem is None:
                aliases[name] = normalized
        elif problem is None:
            aliases[name] = ""
        if problem is not None:
            problems.append(problem)
    if problems:
        raise NodeConfigError(f"{file_name}: [aliases]: " + "; ".join(problems))
    return aliases


def _short_name_problem(name: str) -> str | None:
    try:
        reference = parse(name)
    except InvalidReferenceError as error:
        return f"cannot parse short name {name!r}: {error.reason}"
    if reference.digest is not None:
        return f"invalid short name {name!r}: must not contain digest"
    if reference.tag is not None:
        return f"invalid short name {name!r}: must not contain tag"
    if _qualified(reference.domain):
        return f"invalid short name {name!r}: must not contain registry"
    return None


def _alias_value(value: str) -> tuple[str, str | None]:
    try:
        reference = parse(value)
    except InvalidReferenceError as error:
        return "", f"error parsing alias {value!r}: {error.reason}"
    if reference.digest is not None:
        return "", f"invalid alias {value!r}: must not contain digest"
    if reference.tag is not None:
        return "", f"invalid alias {value!r}: must not contain tag"
    if not _qualified(reference.domain):
        return "", f"invalid alias {value!r}: must contain registry and repository"
    return parse_normalized(value).name, None


def _qualified(domain: str) -> bool:
    return "." in domain or ":" in domain or domain == "localhost"

"""`WWW-Authenticate` parsing: which scheme a registry asks for, and the token realm."""

from __future__ import annotations

import re


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

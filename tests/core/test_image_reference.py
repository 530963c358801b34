"""Image references as CRI-O parses them (spec §5, §6), one table per rule.

Every rejected input must raise `InvalidReferenceError` (never another exception), with
`reason` in containers/image's own words and `hint` pointing at the part that is wrong.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhook.core.image_reference import (
    DIGEST_BAD_FORMAT,
    DIGEST_BAD_LENGTH,
    DIGEST_UNSUPPORTED,
    INVALID_FORMAT,
    NAME_EMPTY,
    NAME_NOT_LOWERCASE,
    NAME_TOO_LONG,
    ImageReference,
    parse,
    parse_canonical,
    parse_normalized,
    runtime_image,
)
from webhook.errors import InvalidReferenceError

HEX64 = "a" * 64
D = f"sha256:{HEX64}"
D384 = "sha384:" + "b" * 96
D512 = "sha512:" + "c" * 128
NORMALIZED_UPPERCASE = f"{INVALID_FORMAT}: {NAME_NOT_LOWERCASE}"


def ref(
    domain: str, path: str, tag: str | None = None, digest: str | None = None
) -> ImageReference:
    return ImageReference(domain, path, tag, digest)


def rejection(parser: Callable[[str], object], text: str) -> InvalidReferenceError:
    with pytest.raises(InvalidReferenceError) as caught:
        parser(text)
    return caught.value


# --------------------------------------------------------------------------------------
# parse(): `reference.Parse`, no normalization — the form CRI-O uses for the short-name test
# --------------------------------------------------------------------------------------

PARSE_CASES = [
    pytest.param("nginx", ref("", "nginx"), id="bare-name-has-no-domain"),
    pytest.param("nginx:1.27", ref("", "nginx", "1.27"), id="bare-name-with-tag"),
    pytest.param("bitnami/redis", ref("bitnami", "redis"), id="first-component-is-domain-group"),
    pytest.param("quay.io/ns/app", ref("quay.io", "ns/app"), id="dotted-host"),
    pytest.param("localhost/foo", ref("localhost", "foo"), id="localhost"),
    pytest.param("registry:5000/app:1", ref("registry:5000", "app", "1"), id="host-with-port"),
    pytest.param("Quay.io/ns/app", ref("Quay.io", "ns/app"), id="upper-case-host-kept"),
    pytest.param("Foo/bar", ref("Foo", "bar"), id="upper-case-first-component-parses-unnormalized"),
    pytest.param("index.docker.io/nginx", ref("index.docker.io", "nginx"), id="no-docker-rewrite"),
    pytest.param(f"quay.io/a:v1@{D}", ref("quay.io", "a", "v1", D), id="tag-and-digest-kept"),
    pytest.param(HEX64, ref("", HEX64), id="64-hex-name-allowed-unnormalized"),
    pytest.param(
        "registry.example.com:5000",
        ref("", "registry.example.com", "5000"),
        id="host-port-without-path-is-name-and-tag",
    ),
    pytest.param(
        "a__b/c-----d/e.f_g", ref("", "a__b/c-----d/e.f_g"), id="underscore-is-no-host-char"
    ),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_keeps_what_was_written(text: str, expected: ImageReference) -> None:
    parsed = parse(text)
    assert parsed == expected
    assert str(parsed) == text


# --------------------------------------------------------------------------------------
# parse_normalized(): `ParseNormalizedNamed` — registry detection, docker.io, library/
# --------------------------------------------------------------------------------------

NORMALIZE_CASES = [
    # The first component is a registry only if it has "." or ":" or is "localhost".
    pytest.param("nginx", "docker.io/library/nginx", id="single-name-gets-docker-io-library"),
    pytest.param("bitnami/redis", "docker.io/bitnami/redis", id="no-dot-no-colon-is-a-path"),
    pytest.param("library/nginx", "docker.io/library/nginx", id="explicit-library"),
    pytest.param("quay.io/ns/app", "quay.io/ns/app", id="dot-makes-a-registry"),
    pytest.param("registry:5000/app", "registry:5000/app", id="colon-makes-a-registry"),
    pytest.param("localhost/foo", "localhost/foo", id="localhost-is-a-registry"),
    pytest.param("localhost:5000/foo", "localhost:5000/foo", id="localhost-with-port"),
    pytest.param("localhostx/foo", "docker.io/localhostx/foo", id="localhostx-is-a-path"),
    pytest.param("docker.io/nginx", "docker.io/library/nginx", id="docker-io-single-component"),
    pytest.param("index.docker.io/nginx", "docker.io/library/nginx", id="index-docker-io"),
    pytest.param(
        "index.docker.io/library/nginx:1", "docker.io/library/nginx:1", id="index-docker-io-lib"
    ),
    pytest.param("docker.io/bitnami/redis", "docker.io/bitnami/redis", id="multi-component-alone"),
    pytest.param(
        "docker.io/library/library/x", "docker.io/library/library/x", id="no-double-library"
    ),
    pytest.param("Quay.io/ns/app", "Quay.io/ns/app", id="upper-case-host-kept-as-written"),
    pytest.param("quay.io/ns/app:V1.0-RC_1", "quay.io/ns/app:V1.0-RC_1", id="upper-case-tag-ok"),
    pytest.param(
        "registry.example.com:5000",
        "docker.io/library/registry.example.com:5000",
        id="host-port-without-path-is-a-docker-name",
    ),
    pytest.param(f"reg.example.com@{D}", f"docker.io/library/reg.example.com@{D}", id="V87"),
    pytest.param(f"quay.io/a:v1@{D}", f"quay.io/a:v1@{D}", id="tag-and-digest-both-kept"),
]


@pytest.mark.parametrize(("text", "normalized"), NORMALIZE_CASES)
def test_parse_normalized(text: str, normalized: str) -> None:
    assert str(parse_normalized(text)) == normalized


def test_upper_case_host_is_kept_in_the_domain() -> None:
    assert parse_normalized("Quay.io/ns/app").domain == "Quay.io"


def test_no_implicit_latest_in_the_parsers() -> None:
    """`latest` is added by the runtime (TagNameOnly), not by parsing."""
    assert parse_normalized("quay.io/a").tag is None
    assert parse_normalized("quay.io/a").with_default_tag().tag == "latest"
    assert parse_normalized(f"quay.io/a@{D}").with_default_tag().tag is None


NORMALIZED_INPUTS = [
    "docker.io/library/nginx",
    "docker.io/library/nginx:latest",
    "docker.io/bitnami/redis:7",
    "quay.io/ns/sub/app:v1",
    f"quay.io/ns/app@{D}",
    f"quay.io/ns/app:v1@{D}",
    f"registry.example.com:5000/a/b@{D512}",
    f"mirror.local/x@{D384}",
    "localhost/foo",
    "localhost:5000/foo:1",
    "Quay.io/ns/app",
    "a.b.c.d.example.com/x__y/z--w/v.u_t:T",
]


@pytest.mark.parametrize("text", NORMALIZED_INPUTS)
def test_normalized_inputs_round_trip(text: str) -> None:
    assert str(parse_normalized(text)) == text
    assert parse_canonical(text) == parse_normalized(text)


# --------------------------------------------------------------------------------------
# parse_canonical(): `ParseNamed` — only already-normalized strings
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("nginx", id="short-name"),
        pytest.param("docker.io/nginx", id="docker-io-without-library"),
        pytest.param("index.docker.io/library/nginx", id="legacy-docker-host"),
        pytest.param("bitnami/redis", id="docker-path-without-host"),
    ],
)
def test_parse_canonical_refuses_what_normalization_would_change(text: str) -> None:
    error = rejection(parse_canonical, text)
    assert str(parse_normalized(text)) in error.hint


def test_parse_canonical_uses_upstream_wording_for_non_canonical_names() -> None:
    assert (
        rejection(parse_canonical, "docker.io/nginx").reason == "repository name must be canonical"
    )


# --------------------------------------------------------------------------------------
# Errors: upstream reason + a hint at the offending part
# --------------------------------------------------------------------------------------

ERROR_CASES = [
    # (parser, input, upstream reason, text the hint must contain)
    pytest.param(parse, "", NAME_EMPTY, "", id="empty"),
    pytest.param(parse, "quay.io/NS/app", NAME_NOT_LOWERCASE, "'NS'", id="upper-case-path"),
    pytest.param(
        parse_normalized, "quay.io/NS/app", NORMALIZED_UPPERCASE, "'NS'", id="upper-path-normalized"
    ),
    pytest.param(
        parse_normalized, "MyOrg/app:1", NORMALIZED_UPPERCASE, "'MyOrg'", id="upper-docker-org"
    ),
    pytest.param(parse_normalized, "Foo/bar", NORMALIZED_UPPERCASE, "'Foo'", id="upper-no-dot"),
    pytest.param(
        parse_normalized, "LOCALHOST/foo", NORMALIZED_UPPERCASE, "LOCALHOST", id="upper-localhost"
    ),
    pytest.param(
        parse_normalized,
        HEX64,
        "cannot specify 64-byte hexadecimal strings",
        "",
        id="64-hex-name",
    ),
    pytest.param(parse, "quay.io/" + "a" * 248, NAME_TOO_LONG, "256", id="name-256-chars"),
    pytest.param(
        parse_normalized,
        "x/" + "a" * 244,
        NAME_TOO_LONG,
        "256",
        id="docker-io-prefix-counts-toward-255",
    ),
    pytest.param(parse, "quay.io/a:" + "t" * 129, INVALID_FORMAT, "t" * 129, id="tag-129-chars"),
    pytest.param(parse, "quay.io/a:-x", INVALID_FORMAT, "'-x'", id="tag-leading-dash"),
    pytest.param(parse, "quay.io/a:", INVALID_FORMAT, "tag ''", id="empty-tag"),
    pytest.param(
        parse, "quay.io/a@sha256:abc", INVALID_FORMAT, "sha256:abc", id="digest-too-short-V97"
    ),
    pytest.param(
        parse, "quay.io/a@sha512:BBBB", INVALID_FORMAT, "sha512:BBBB", id="digest-too-short-V96"
    ),
    pytest.param(
        parse, "quay.io/a@sha256:" + "a" * 31, INVALID_FORMAT, "too short", id="digest-31-hex"
    ),
    pytest.param(
        parse, "quay.io/a@sha256:" + "a" * 63, DIGEST_BAD_LENGTH, "64", id="sha256-63-hex"
    ),
    pytest.param(
        parse, "quay.io/a@sha256:" + "a" * 96, DIGEST_BAD_LENGTH, "64", id="sha256-96-hex"
    ),
    pytest.param(
        parse, "quay.io/a@sha384:" + "a" * 64, DIGEST_BAD_LENGTH, "96", id="sha384-64-hex"
    ),
    pytest.param(
        parse, "quay.io/a@sha512:" + "a" * 64, DIGEST_BAD_LENGTH, "128", id="sha512-64-hex"
    ),
    pytest.param(
        parse, "quay.io/a@sha256:" + "A" * 64, DIGEST_BAD_FORMAT, "lower case", id="upper-hex-V98"
    ),
    pytest.param(
        parse, "quay.io/a@md5:" + "a" * 32, DIGEST_UNSUPPORTED, "'md5'", id="unsupported-algorithm"
    ),
    pytest.param(
        parse, "quay.io/a@Sha256:" + "a" * 64, DIGEST_BAD_FORMAT, "Sha256", id="upper-algorithm"
    ),
    pytest.param(
        parse, "quay.io/a@sha256:" + "g" * 64, INVALID_FORMAT, "sha256:ggg", id="non-hex-digest"
    ),
    pytest.param(parse, "[::1]:5000/foo", INVALID_FORMAT, "[::1]:5000", id="ipv6-literal"),
    pytest.param(parse, " nginx", INVALID_FORMAT, "whitespace", id="leading-space"),
    pytest.param(parse, "nginx ", INVALID_FORMAT, "whitespace", id="trailing-space"),
    pytest.param(parse, "nginx\n", INVALID_FORMAT, "whitespace", id="trailing-newline"),
    pytest.param(parse, "quay.io/a b", INVALID_FORMAT, "whitespace", id="inner-space"),
    pytest.param(parse, "https://quay.io/a", INVALID_FORMAT, "https://", id="scheme"),
    pytest.param(parse, "quay.io//a", INVALID_FORMAT, "''", id="empty-component"),
    pytest.param(parse, "quay.io/a/", INVALID_FORMAT, "''", id="trailing-slash"),
    pytest.param(parse, "quay.io/a___b", INVALID_FORMAT, "'a___b'", id="triple-underscore"),
    pytest.param(parse, "quay.io/-a", INVALID_FORMAT, "'-a'", id="leading-dash-component"),
    pytest.param(parse, "quay.io/a.-b", INVALID_FORMAT, "'a.-b'", id="dot-dash-separator"),
    pytest.param(parse, "-quay.io/a", INVALID_FORMAT, "'-quay.io'", id="host-leading-dash"),
    pytest.param(parse, "quay..io/a", INVALID_FORMAT, "'quay..io'", id="host-empty-label"),
    pytest.param(parse, "quay.io:/a", INVALID_FORMAT, "'quay.io:'", id="host-empty-port"),
]


@pytest.mark.parametrize(("parser", "text", "reason", "hint"), ERROR_CASES)
def test_errors_name_the_problem(
    parser: Callable[[str], object], text: str, reason: str, hint: str
) -> None:
    error = rejection(parser, text)
    assert isinstance(error, ValueError)  # callers may catch it as a plain ValueError
    assert error.reason == reason
    assert hint in error.hint
    assert error.reference == text
    assert reason in str(error)
    assert repr(text) in str(error)


@pytest.mark.parametrize("text", ["quay.io/" + "a" * 247, "a" * 255])
def test_name_of_exactly_255_characters_is_accepted(text: str) -> None:
    assert parse(text).name == text


def test_tag_of_exactly_128_characters_is_accepted() -> None:
    assert parse("quay.io/a:" + "T" * 128).tag == "T" * 128


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param(D, id="sha256-64"),
        pytest.param(D384, id="sha384-96"),
        pytest.param(D512, id="sha512-128"),
    ],
)
def test_supported_digests(digest: str) -> None:
    parsed = parse_normalized(f"quay.io/a@{digest}")
    assert parsed.digest == digest
    assert parsed.by_digest


def test_empty_digest_gets_a_hint() -> None:
    assert "digest" in rejection(parse, "quay.io/a@").hint


def test_overlong_name_reports_the_upstream_reason() -> None:
    assert rejection(parse, "a" * 1025).reason == NAME_TOO_LONG


# --------------------------------------------------------------------------------------
# runtime_image(): what CRI-O pulls for a pod's image string (spec §5)
# --------------------------------------------------------------------------------------

RUNTIME_CASES = [
    pytest.param(
        "nginx",
        True,
        ["registry.access.redhat.com/nginx:latest", "docker.io/library/nginx:latest"],
        id="short-name-expands-over-search-registries-V57",
    ),
    pytest.param(
        "bitnami/redis:7",
        True,
        ["registry.access.redhat.com/bitnami/redis:7", "docker.io/bitnami/redis:7"],
        id="short-two-component-name-V61",
    ),
    pytest.param(
        f"ubi9/ubi@{D}",
        True,
        [f"registry.access.redhat.com/ubi9/ubi@{D}", f"docker.io/ubi9/ubi@{D}"],
        id="short-name-by-digest-V93",
    ),
    pytest.param(
        "registry.example.com:5000",
        True,
        [
            "registry.access.redhat.com/registry.example.com:5000",
            "docker.io/library/registry.example.com:5000",
        ],
        id="host-port-alone-is-a-short-name-with-tag",
    ),
    pytest.param("quay.io/acme/app", False, ["quay.io/acme/app:latest"], id="implicit-latest-V08"),
    pytest.param("localhost/foo:1", False, ["localhost/foo:1"], id="localhost-V94"),
    pytest.param("localhost:5000/foo", False, ["localhost:5000/foo:latest"], id="localhost-V95"),
    pytest.param("registry:5000/app:1", False, ["registry:5000/app:1"], id="port-qualifies-V92"),
    pytest.param(
        "index.docker.io/library/nginx:1", False, ["docker.io/library/nginx:1"], id="legacy-V60"
    ),
    pytest.param(f"docker.io/nginx@{D}", False, [f"docker.io/library/nginx@{D}"], id="V59"),
    pytest.param(
        f"quay.io/acme/app:v1@{D}", False, [f"quay.io/acme/app@{D}"], id="tag-dropped-V15"
    ),
    pytest.param("Quay.io/ns/app:1", False, ["Quay.io/ns/app:1"], id="upper-case-host-V88"),
]


@pytest.mark.parametrize(("image", "short_name", "pulls"), RUNTIME_CASES)
def test_runtime_image(image: str, short_name: bool, pulls: list[str]) -> None:
    runtime = runtime_image(image)
    assert runtime.image == image
    assert runtime.short_name is short_name
    assert [str(reference) for reference in runtime.references] == pulls


def test_runtime_image_uses_the_given_search_registries() -> None:
    runtime = runtime_image("nginx:1.27", ("mirror.local", "docker.io", "quay.io"))
    assert [str(r) for r in runtime.references] == [
        "mirror.local/nginx:1.27",
        "docker.io/library/nginx:1.27",
        "quay.io/nginx:1.27",
    ]


RUNTIME_ERRORS = [
    pytest.param(f"quay.io/NS/app@{D}", NAME_NOT_LOWERCASE, id="upper-path-V89"),
    pytest.param("MyOrg/app:1", NORMALIZED_UPPERCASE, id="upper-short-name-V91"),
    pytest.param(f"quay.io/acme/app@sha512:{'B' * 4}", INVALID_FORMAT, id="V96"),
    pytest.param("quay.io/acme/app@sha256:abc", INVALID_FORMAT, id="V97"),
    pytest.param(f"quay.io/acme/app@sha256:{'A' * 64}", DIGEST_BAD_FORMAT, id="V98"),
    pytest.param("", NAME_EMPTY, id="empty"),
]


@pytest.mark.parametrize(("image", "reason"), RUNTIME_ERRORS)
def test_runtime_image_errors(image: str, reason: str) -> None:
    assert rejection(runtime_image, image).reason == reason


# --------------------------------------------------------------------------------------
# familiar(): Docker's display form
# --------------------------------------------------------------------------------------

FAMILIAR_CASES = [
    pytest.param("docker.io/library/nginx:latest", "nginx:latest", id="official-image"),
    pytest.param(f"docker.io/library/nginx@{D}", f"nginx@{D}", id="official-by-digest"),
    pytest.param("docker.io/bitnami/redis:7", "bitnami/redis:7", id="docker-org"),
    pytest.param("docker.io/library/library/x", "library/library/x", id="deep-library-kept"),
    pytest.param("quay.io/acme/app:1", "quay.io/acme/app:1", id="other-registry-unchanged"),
    pytest.param("localhost/foo", "localhost/foo", id="localhost-unchanged"),
]


@pytest.mark.parametrize(("text", "familiar"), FAMILIAR_CASES)
def test_familiar(text: str, familiar: str) -> None:
    assert parse_normalized(text).familiar() == familiar
    assert str(parse_normalized(familiar)) == text


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

_LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_ALNUM = _LOWER_ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_WORD = _ALNUM + "_"


@st.composite
def _label(draw: st.DrawFn) -> str:
    """A DNS-like label: alphanumerics with inner dashes."""
    first = draw(st.sampled_from(_ALNUM))
    if not draw(st.booleans()):
        return first
    middle = draw(st.text(_ALNUM + "-", max_size=6))
    return first + middle + draw(st.sampled_from(_ALNUM))


@st.composite
def _path_component(draw: st.DrawFn, separators: tuple[str, ...]) -> str:
    runs = draw(st.lists(st.text(_LOWER_ALNUM, min_size=1, max_size=6), min_size=1, max_size=3))
    text = runs[0]
    for run in runs[1:]:
        text += draw(st.sampled_from(separators)) + run
    return text


_registry = st.builds(
    lambda labels, port: ".".join(labels) + (f":{port}" if port is not None else ""),
    st.lists(_label(), min_size=2, max_size=4),
    st.none() | st.integers(min_value=0, max_value=65535),
).filter(lambda host: host not in ("docker.io", "index.docker.io")) | st.sampled_from(
    ["localhost", "localhost:5000", "registry:5000"]
)
_component = _path_component((".", "_", "__", "-", "--", "---"))
# Docker Hub paths: a first component with "." would make it a registry.
_docker_component = _path_component(("_", "__", "-", "--")).filter(
    lambda component: component != "localhost"
)
_tag = st.builds(operator.add, st.sampled_from(_WORD), st.text(_WORD + ".-", max_size=20))
_digest = st.sampled_from([("sha256", 32), ("sha384", 48), ("sha512", 64)]).flatmap(
    lambda algorithm: st.binary(min_size=algorithm[1], max_size=algorithm[1]).map(
        lambda raw: f"{algorithm[0]}:{raw.hex()}"
    )
)


@st.composite
def qualified_references(draw: st.DrawFn) -> str:
    """References whose registry is explicit, so normalization leaves them unchanged."""
    registry = draw(_registry)
    path = "/".join(draw(st.lists(_component, min_size=1, max_size=4)))
    text = f"{registry}/{path}"
    if draw(st.booleans()):
        text += ":" + draw(_tag)
    if draw(st.booleans()):
        text += "@" + draw(_digest)
    return text


@st.composite
def docker_references(draw: st.DrawFn) -> str:
    """Docker Hub references in any spelling: short, with docker.io, index.docker.io."""
    path = "/".join(draw(st.lists(_docker_component, min_size=1, max_size=3)))
    host = draw(st.sampled_from(["", "docker.io/", "index.docker.io/"]))
    text = host + path
    if draw(st.booleans()):
        text += ":" + draw(_tag)
    return text


_PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_PROPERTY_SETTINGS
@given(qualified_references())
def test_property_qualified_references_round_trip(text: str) -> None:
    parsed = parse(text)
    assert str(parsed) == text
    assert parse(str(parsed)) == parsed
    assert parse_normalized(text) == parsed
    assert parse_canonical(text) == parsed


@_PROPERTY_SETTINGS
@given(docker_references())
def test_property_normalization_is_idempotent(text: str) -> None:
    normalized = parse_normalized(text)
    assert normalized.domain == "docker.io"
    assert parse_normalized(str(normalized)) == normalized
    assert parse_canonical(str(normalized)) == normalized
    assert parse_normalized(normalized.familiar()) == normalized


_PARSERS = (parse, parse_normalized, parse_canonical, runtime_image)


def _parses_or_refuses(text: str) -> None:
    """Any exception other than InvalidReferenceError escapes and fails the test."""
    for parser in _PARSERS:
        with contextlib.suppress(InvalidReferenceError):
            parser(text)


_MUTATION_CHARS = "/:@.-_aA0 \n\t\x00[]é*+=#%K\u212a"


@st.composite
def mutilated_references(draw: st.DrawFn) -> str:
    text = list(draw(qualified_references() | docker_references()))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(text)))
        operation = draw(st.sampled_from(["insert", "replace", "delete", "duplicate"]))
        char = draw(st.sampled_from(_MUTATION_CHARS))
        if operation == "insert" or not text:
            text.insert(position, char)
        elif operation == "replace":
            text[min(position, len(text) - 1)] = char
        elif operation == "delete":
            del text[min(position, len(text) - 1)]
        else:
            text[position:position] = text[: draw(st.integers(0, len(text)))]
    return "".join(text)


@_PROPERTY_SETTINGS
@given(st.text())
def test_property_any_text_parses_or_raises_invalid_reference(text: str) -> None:
    _parses_or_refuses(text)


@_PROPERTY_SETTINGS
@given(mutilated_references())
def test_property_mutilated_references_parse_or_raise_invalid_reference(text: str) -> None:
    _parses_or_refuses(text)


PATHOLOGICAL = [
    pytest.param("a" * 1000 + "!", id="long-run-then-bang"),
    pytest.param("a-" * 500, id="dash-separated-run"),
    pytest.param(".".join(["a"] * 500), id="many-dots"),
    pytest.param("a" * 1023 + "!", id="just-under-input-limit"),
    pytest.param("a_" * 511 + "A", id="underscores-then-upper"),
    pytest.param("/".join(["a"] * 511) + "!", id="many-components"),
    pytest.param(("a" * 100 + ".") * 9 + "/x!", id="long-labels"),
    pytest.param("a:" + "b" * 1000, id="huge-tag"),
    pytest.param("a@sha256:" + "a" * 1000, id="huge-digest"),
    pytest.param("x" * 100_000, id="hundred-thousand-chars"),
]


@pytest.mark.parametrize("text", PATHOLOGICAL)
def test_pathological_inputs_are_handled(text: str) -> None:
    _parses_or_refuses(text)

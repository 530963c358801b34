"""Image references exactly as CRI-O parses them (containers/image `docker/reference`).

The grammar, normalization and error wording follow ../shared/spec/mirror-semantics.md §6;
the pod-image flow (short names, implicit `latest`, tag stripping) follows §5. Kubernetes
itself accepts any non-empty image string, so this module is where garbage from a pod
spec becomes either a value or an `InvalidReferenceError` that says what is wrong.

The regular expressions are the upstream ones rewritten so that Python's backtracking
engine stays linear: upstream's separator `[-]*` may be empty, which is harmless for RE2
but exponential for `re` on inputs such as `aaaa…a!`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from webhook.errors import InvalidReferenceError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255
# No valid reference comes near this (name 255 + tag 128 + sha512 digest); refusing
# longer input up front bounds the regex work an attacker can ask for.
INPUT_LENGTH_MAX = 1024
# OpenShift's default `unqualified-search-registries` (spec §3.1).
OPENSHIFT_SEARCH_REGISTRIES: tuple[str, ...] = ("registry.access.redhat.com", "docker.io")

_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
DOMAIN_LABEL_PATTERN = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
DOMAIN_PATTERN = rf"{DOMAIN_LABEL_PATTERN}(?:\.{DOMAIN_LABEL_PATTERN})*(?::[0-9]+)?"
PATH_PATTERN = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{DOMAIN_PATTERN}/)?{PATH_PATTERN}"

_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_ANCHORED_NAME_RE = re.compile(rf"(?:({DOMAIN_PATTERN})/)?({PATH_PATTERN})", re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}", re.ASCII)
_PATH_COMPONENT_RE = re.compile(_PATH_COMPONENT, re.ASCII)
_DOMAIN_RE = re.compile(DOMAIN_PATTERN, re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_DIGEST_SYNTAX_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", re.ASCII)
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+", re.ASCII)

# Upstream error wording (containers/image docker/reference and go-digest).
INVALID_FORMAT = "invalid reference format"
NAME_NOT_LOWERCASE = "repository name must be lowercase"
NAME_EMPTY = "repository name must have at least one component"
NAME_TOO_LONG = f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
NAME_NOT_CANONICAL = "repository name must be canonical"
DIGEST_BAD_FORMAT = "invalid checksum digest format"
DIGEST_UNSUPPORTED = "unsupported digest algorithm"
DIGEST_BAD_LENGTH = "invalid checksum digest length"


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A parsed reference; `str()` prints it back in the form it was parsed from.

    `domain` is empty only for references parsed without normalization whose first
    component is not a registry (what CRI-O calls a short name).
    """

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Repository name without tag or digest: what registries.conf prefixes match."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def by_digest(self) -> bool:
        return self.digest is not None

    def with_default_tag(self) -> ImageReference:
        """`TagNameOnly`: a reference with neither tag nor digest means `:latest`."""
        if self.tag is None and self.digest is None:
            return ImageReference(self.domain, self.path, DEFAULT_TAG, None)
        return self

    def without_tag_when_digested(self) -> ImageReference:
        """CRI-O pulls `name:tag@digest` as `name@digest` (spec §5.3)."""
        if self.tag is not None and self.digest is not None:
            return ImageReference(self.domain, self.path, None, self.digest)
        return self

    def familiar(self) -> str:
        """Docker's short display form: no `docker.io/`, no `library/` for official images."""
        if self.domain != DEFAULT_DOMAIN:
            return str(self)
        path = self.path
        if path.startswith(OFFICIAL_REPO_PREFIX) and path.count("/") == 1:
            path = path[len(OFFICIAL_REPO_PREFIX) :]
        return str(ImageReference("", path, self.tag, self.digest))

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse(text: str) -> ImageReference:
    """Parse without normalization (`reference.Parse`): the domain is kept as written, or empty."""
    _check_length(text)
    match = _REFERENCE_RE.fullmatch(text)
    if match is None:
        if text == "":
            raise InvalidReferenceError(text, NAME_EMPTY)
        if _REFERENCE_RE.fullmatch(text.lower()) is not None:
            raise InvalidReferenceError(text, NAME_NOT_LOWERCASE, _locate_problem(text))
        raise InvalidReferenceError(text, INVALID_FORMAT, _locate_problem(text))
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(text, NAME_TOO_LONG, f"it has {len(name)}")
    if digest is not None:
        _validate_digest(text, digest)
    name_match = _ANCHORED_NAME_RE.fullmatch(name)
    assert name_match is not None  # the name already matched the same sub-grammar
    return ImageReference(name_match.group(1) or "", name_match.group(2), tag, digest)


def parse_normalized(text: str) -> ImageReference:
    """`ParseNormalizedNamed`: add `docker.io` and `library/` where Docker would."""
    _check_length(text)
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReferenceError(text, "cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_docker_domain(text)
    remote_name = remainder.split(":", 1)[0]
    if remote_name.lower() != remote_name:
        raise InvalidReferenceError(
            text, f"{INVALID_FORMAT}: {NAME_NOT_LOWERCASE}", _locate_problem(text)
        )
    try:
        return parse(f"{domain}/{remainder}")
    except InvalidReferenceError as error:
        raise InvalidReferenceError(text, error.reason, error.hint) from None


def parse_canonical(text: str) -> ImageReference:
    """`ParseNamed`: the input must already be fully normalized, as a rewritten mirror must."""
    reference = parse_normalized(text)
    if str(reference) != text:
        raise InvalidReferenceError(text, NAME_NOT_CANONICAL, f"normalized form is {reference}")
    return reference


@dataclass(frozen=True, slots=True)
class RuntimeImage:
    """What the node runtime makes of one pod `image` string (spec §5)."""

    image: str
    short_name: bool
    references: tuple[ImageReference, ...]
    alias: str | None = None
    """The short-name alias that decided the only candidate, when one did."""


NO_ALIASES: Mapping[str, str] = MappingProxyType({})


def runtime_image(
    image: str,
    search_registries: Sequence[str] = OPENSHIFT_SEARCH_REGISTRIES,
    aliases: Mapping[str, str] = NO_ALIASES,
) -> RuntimeImage:
    """The fully-qualified references CRI-O pulls for `image`, in the order it tries them.

    Short names expand over `search_registries` as in short-name mode `disabled` (spec
    §5.2), unless `aliases` (short name → repository, from the node's registries.conf)
    names one: an alias wins over the search list, in every mode. The webhook flags short
    names anyway, since which files a node has is not part of the pod.
    """
    unnormalized = parse(image)
    domain = unnormalized.domain
    alias = None
    if "." in domain or ":" in domain or domain == "localhost":
        qualified = [parse_normalized(image)]
        short_name = False
    else:
        repository = unnormalized.name
        alias = aliases.get(repository)
        targets = [alias] if alias else [f"{r}/{repository}" for r in search_registries]
        qualified = [_attach(parse_normalized(target), unnormalized) for target in targets]
        short_name = True
    references = tuple(ref.with_default_tag().without_tag_when_digested() for ref in qualified)
    return RuntimeImage(image, short_name, references, alias)


def _attach(repository: ImageReference, original: ImageReference) -> ImageReference:
    return ImageReference(repository.domain, repository.path, original.tag, original.digest)


def _split_docker_domain(text: str) -> tuple[str, str]:
    slash = text.find("/")
    first = text[:slash] if slash != -1 else ""
    if slash == -1 or ("." not in first and ":" not in first and first != "localhost"):
        domain, remainder = DEFAULT_DOMAIN, text
    else:
        domain, remainder = first, text[slash + 1 :]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def _validate_digest(text: str, digest: str) -> None:
    """go-digest's `Validate`: sha256, sha384 or sha512 with lower-case hex of that length."""
    algorithm, encoded = digest.split(":", 1)
    expected_length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected_length is None:
        if _DIGEST_SYNTAX_RE.fullmatch(digest) is None:
            raise InvalidReferenceError(text, DIGEST_BAD_FORMAT, f"digest {digest!r}")
        raise InvalidReferenceError(text, DIGEST_UNSUPPORTED, f"{algorithm!r}; use sha256")
    if len(encoded) != expected_length:
        raise InvalidReferenceError(
            text, DIGEST_BAD_LENGTH, f"{algorithm} needs {expected_length} hex digits"
        )
    if _LOWER_HEX_RE.fullmatch(encoded) is None:
        raise InvalidReferenceError(text, DIGEST_BAD_FORMAT, "hex digits must be lower case")


def _check_length(text: str) -> None:
    if len(text) > INPUT_LENGTH_MAX:
        name = text.partition("@")[0]
        reason = NAME_TOO_LONG if len(name) > NAME_TOTAL_LENGTH_MAX else INVALID_FORMAT
        raise InvalidReferenceError(
            text[:64] + "…", reason, f"{len(text)} characters; no valid reference has that many"
        )


def _locate_problem(text: str) -> str:
    """Point at the part of a rejected reference that breaks the grammar."""
    if text != text.strip() or any(c.isspace() for c in text):
        return "contains whitespace"
    if "://" in text:
        return "a scheme such as https:// is not part of an image reference"
    name, at, digest = text.partition("@")
    if at and not digest:
        return "nothing follows '@': a digest looks like sha256:<64 hex digits>"
    if digest and ":" not in digest:
        return f"digest {digest!r} must look like sha256:<64 hex digits>"
    if digest:
        algorithm, _, encoded = digest.partition(":")
        if not re.fullmatch(r"[A-Za-z0-9]+", algorithm) or not re.fullmatch(
            r"[0-9a-fA-F]+", encoded
        ):
            return f"digest {digest!r} must look like sha256:<64 hex digits>"
        if len(encoded) < 32:
            return f"digest {digest!r} is too short"
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            return f"tag {tag!r}: letters, digits, '_', '.', '-' only, at most 128"
    components = name.split("/")
    if len(components) > 1 and ("." in components[0] or ":" in components[0]):
        if not _DOMAIN_RE.fullmatch(components[0]):
            return f"registry {components[0]!r} is not a valid host[:port]"
        components = components[1:]
    for component in components:
        if not _PATH_COMPONENT_RE.fullmatch(component):
            if component.lower() != component:
                return f"path component {component!r} has upper-case letters"
            return (
                f"path component {component!r}: lower-case letters and digits, "
                "joined by '.', '_', '__' or '-'"
            )
    return ""

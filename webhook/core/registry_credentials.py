"""Registry credentials from a dockerconfigjson / containers auth.json, matched by host and
repository path as containers' auth files are: the most specific key wins.

Pure (JSON and base64 only), so the matching rules are tested as a table; reading the file
is the registry adapter's job. Nothing here ever puts a secret into a message or a repr.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence

from webhook.errors import RegistryConfigError

DOCKER_HUB = "docker.io"
DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


class DockerConfig:
    """Credentials from a dockerconfigjson / containers auth.json, matched as CRI-O does.

    Keys may name a host, or a host and a repository prefix (`host/ns/repo`, `host/ns`);
    the most specific key wins. Legacy keys written as URLs (`https://host/v1/`,
    `http://host`) or with an API suffix (`host/v2/`) mean the host. Docker Hub's aliases
    (`https://index.docker.io/v1/`, `registry-1.docker.io`) all mean `docker.io`.
    """

    __slots__ = ("_auths", "_origin")

    def __init__(self, auths: Mapping[str, tuple[str, str]], origin: str = "<inline>") -> None:
        self._auths = dict(auths)
        self._origin = origin

    @classmethod
    def from_json(cls, text: str, origin: str = "<inline>") -> DockerConfig:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            # The message names the position only; the document may hold secrets.
            raise RegistryConfigError(
                f"{origin}: not JSON: {error.msg} at line {error.lineno} column {error.colno}"
            ) from None
        if not isinstance(document, dict):
            raise RegistryConfigError(f"{origin}: expected a JSON object")
        entries = document.get("auths", _legacy_entries(document))
        if not isinstance(entries, dict):
            raise RegistryConfigError(f"{origin}: 'auths' is not an object")
        exact: dict[str, tuple[str, str]] = {}
        legacy: dict[str, tuple[str, str]] = {}
        for key, entry in entries.items():
            credentials = _entry_credentials(key, entry, origin)
            if credentials is not None:
                normalized, is_legacy = _normalize_key(key)
                (legacy if is_legacy else exact)[normalized] = credentials
        # A key written in today's form is what a person meant; a legacy alias of the same
        # host (often left behind by an old `docker login`) must not override it.
        return cls({**legacy, **exact}, origin)

    @classmethod
    def merged(cls, configs: Sequence[DockerConfig]) -> DockerConfig:
        """One config from several; for a key in more than one, the first config wins (the
        pod's own pull secrets go before the webhook's global one)."""
        auths: dict[str, tuple[str, str]] = {}
        for config in reversed(configs):
            auths.update(config._auths)
        return cls(auths, "+".join(config._origin for config in configs))

    @property
    def registries(self) -> tuple[str, ...]:
        """The normalised keys that carry credentials (no secrets)."""
        return tuple(sorted(self._auths))

    def credentials_for(self, pull_spec_name: str) -> tuple[str, str] | None:
        """(user, password) of the most specific key covering `host/path`, if any."""
        name = _repository_name(pull_spec_name)
        host, _, path = name.partition("/")
        parts = [canonical_host(host)] + (path.split("/") if path else [])
        for length in range(len(parts), 0, -1):
            credentials = self._auths.get("/".join(parts[:length]))
            if credentials is not None:
                return credentials
        return None

    def __repr__(self) -> str:
        return f"DockerConfig(origin={self._origin!r}, registries={list(self.registries)!r})"


def _legacy_entries(document: dict[str, object]) -> dict[str, object]:
    # `.dockercfg` (Secret type kubernetes.io/dockercfg) has the registries at the top level.
    modern = {"auths", "credHelpers", "credsStore", "HttpHeaders", "psFormat"}
    return {} if modern & document.keys() else document


def _entry_credentials(key: str, entry: object, origin: str) -> tuple[str, str] | None:
    where = f"{origin}: auths[{key!r}]"
    if not isinstance(entry, dict):
        raise RegistryConfigError(f"{where} is not an object")
    auth = entry.get("auth")
    if auth:
        if not isinstance(auth, str):
            raise RegistryConfigError(f"{where}.auth is not a string")
        try:
            decoded = base64.b64decode(auth.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise RegistryConfigError(f"{where}.auth is not base64 of user:password") from None
        name, colon, secret = decoded.partition(":")
        if not colon or not name:
            raise RegistryConfigError(f"{where}.auth does not decode to user:password")
        return name, secret
    user, password = entry.get("username"), entry.get("password")
    if user is None and password is None:
        return None  # an identity token or an e-mail only: nothing we can send
    if not isinstance(user, str) or not user or not isinstance(password, str):
        raise RegistryConfigError(f"{where} needs both 'username' and 'password' as strings")
    return user, password


def _normalize_key(key: str) -> tuple[str, bool]:
    """(normalised key, whether it was written in a legacy form)."""
    text = key.strip()
    lowered = text.lower()
    for scheme in ("https://", "http://"):
        if lowered.startswith(scheme):
            # containers/image: a URL key means its host, whatever path follows.
            host = text[len(scheme) :].split("/", 1)[0]
            return canonical_host(host), True
    text = text.rstrip("/")
    host, slash, path = text.partition("/")
    if path in ("v1", "v2"):
        return canonical_host(host), True
    return canonical_host(host) + slash + path, False


def canonical_host(host: str) -> str:
    host = host.lower()
    return DOCKER_HUB if host in DOCKER_HUB_NAMES else host


def _repository_name(pull_spec: str) -> str:
    name = pull_spec.split("@", 1)[0]
    host, slash, path = name.partition("/")
    if slash and ":" in path.rsplit("/", 1)[-1]:
        path = path.rsplit(":", 1)[0]
    return host + slash + path

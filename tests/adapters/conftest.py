"""Fixtures for the adapters' tests: real registries (Distribution), a token service and
fault servers, all on 127.0.0.1 with one test CA (tests/support/registry.py).

The registries and the token service are session-scoped: starting Distribution costs
about a tenth of a second each, but tests push to their own repositories, so sharing
them is safe. Fault servers and clients are per test, and closed by their fixtures.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from tests.support.registry import (
    REGISTRY_BINARY,
    ClientFactory,
    FaultFactory,
    FaultServer,
    RegistryServer,
    RegistryTls,
    TokenServer,
    make_registry_tls,
)
from webhook.adapters.registry import DockerConfig, RegistryClient

LOGGERS_WATCHED = ("webhook.adapters.registry", "webhook.adapters.registry_auth", "urllib3")
"""Where a credential could leak into logs: our client, and the library under it."""


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _need_registry_binary() -> None:
    if shutil.which(REGISTRY_BINARY) is None:
        pytest.skip(f"{REGISTRY_BINARY} is not installed (Debian: docker-registry)")


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory: pytest.TempPathFactory) -> RegistryTls:
    """The test CA (`ca_file`, alone in `cert_dir`) and a certificate for 127.0.0.1."""
    return make_registry_tls(tmp_path_factory.mktemp("registry-tls"))


@pytest.fixture(scope="session")
def registry_users() -> dict[str, str]:
    """One user, with a password made fresh per session so a leak scan can find it."""
    return {"mirror-reader": f"pw-{secrets.token_hex(12)}"}


@pytest.fixture(scope="session")
def anonymous_registry(
    tmp_path_factory: pytest.TempPathFactory, registry_tls: RegistryTls
) -> Iterator[RegistryServer]:
    _need_registry_binary()
    with RegistryServer(tmp_path_factory.mktemp("anonymous-registry"), registry_tls) as server:
        yield server


@pytest.fixture(scope="session")
def htpasswd_registry(
    tmp_path_factory: pytest.TempPathFactory,
    registry_tls: RegistryTls,
    registry_users: dict[str, str],
) -> Iterator[RegistryServer]:
    _need_registry_binary()
    workdir = tmp_path_factory.mktemp("htpasswd-registry")
    with RegistryServer(workdir, registry_tls, "htpasswd", users=registry_users) as server:
        yield server


@pytest.fixture(scope="session")
def token_server(
    tmp_path_factory: pytest.TempPathFactory,
    registry_tls: RegistryTls,
    registry_users: dict[str, str],
) -> Iterator[TokenServer]:
    """The realm of `token_registry`; `requests` counts calls, `issued` lists tokens."""
    workdir = tmp_path_factory.mktemp("token-server")
    with TokenServer(registry_tls, registry_users, workdir) as server:
        yield server


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
    registry_tls: RegistryTls,
    token_server: TokenServer,
) -> Iterator[RegistryServer]:
    _need_registry_binary()
    workdir = tmp_path_factory.mktemp("token-registry")
    with RegistryServer(workdir, registry_tls, "token", token_server=token_server) as server:
        yield server


@pytest.fixture
def fault_server(registry_tls: RegistryTls) -> Iterator[FaultFactory]:
    """`fault_server(mode)` starts a broken registry; all are stopped after the test."""
    with ExitStack() as stack:
        yield lambda mode: stack.enter_context(FaultServer(registry_tls, mode))


@pytest.fixture(scope="module")
def registry_log() -> Iterator[list[logging.LogRecord]]:
    """Every DEBUG+ record of the client and urllib3 during the module, for leak scans."""
    collector = _Collector()
    loggers = [logging.getLogger(name) for name in LOGGERS_WATCHED]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(collector)
        logger.setLevel(logging.DEBUG)
    try:
        yield collector.records
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(collector)
            logger.setLevel(level)


@pytest.fixture
def registry_client(
    registry_tls: RegistryTls, registry_log: list[logging.LogRecord]
) -> Iterator[ClientFactory]:
    """`registry_client(credentials, trust_test_ca=True, timeout=2.0, clock=...)` builds a
    client trusting the test CA (or the system CAs); every one is closed after the test."""
    with ExitStack() as stack:

        def make(
            credentials: DockerConfig | None = None,
            *,
            trust_test_ca: bool = True,
            timeout: float = 2.0,
            clock: Callable[[], float] = time.monotonic,
        ) -> RegistryClient:
            bundle = registry_tls.ca_file if trust_test_ca else None
            client = RegistryClient(credentials, bundle, timeout=timeout, clock=clock)
            return stack.enter_context(client)

        yield make

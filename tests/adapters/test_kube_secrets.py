"""Reading a pod's image pull secrets from the API (in-process list/get server)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.delaying_proxy import DelayingProxy
from tests.support.fake_kube import FakeKube
from webhook.adapters.kube_secrets import PullSecretReader
from webhook.adapters.mirror_watcher import load_api_client

DOCUMENT = '{"auths": {"mirror.local": {"auth": "dXNlcjpzM2NyZXQ="}}}'


def secret(name: str, kind: str, key: str, value: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "apps"},
        "type": kind,
        "data": {key: base64.b64encode(value.encode()).decode()},
    }


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[tuple[FakeKube, PullSecretReader]]:
    with FakeKube() as fake:
        client = load_api_client(str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
        try:
            yield fake, PullSecretReader(client)
        finally:
            client.close()


def test_a_dockerconfigjson_secret_is_read(reader: tuple[FakeKube, PullSecretReader]) -> None:
    fake, pull_secrets = reader
    fake.put(secret("mirror", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", DOCUMENT))
    assert pull_secrets.read("apps", ["mirror"]) == [DOCUMENT]


def test_a_legacy_dockercfg_secret_is_read(reader: tuple[FakeKube, PullSecretReader]) -> None:
    fake, pull_secrets = reader
    legacy = '{"mirror.local": {"auth": "dXNlcjpzM2NyZXQ="}}'
    fake.put(secret("old", "kubernetes.io/dockercfg", ".dockercfg", legacy))
    assert pull_secrets.read("apps", ["old"]) == [legacy]


def test_missing_and_other_secrets_are_skipped_without_their_data(
    reader: tuple[FakeKube, PullSecretReader], caplog: pytest.LogCaptureFixture
) -> None:
    fake, pull_secrets = reader
    fake.put(secret("opaque", "Opaque", "password", "hunter2"))
    with caplog.at_level(logging.WARNING, logger="idms_guard.pull_secrets"):
        assert pull_secrets.read("apps", ["absent", "opaque"]) == []
    assert "apps/absent not used: HTTP 404" in caplog.text
    assert "apps/opaque not used: type Opaque" in caplog.text
    assert "hunter2" not in caplog.text


def test_secrets_are_cached_briefly(reader: tuple[FakeKube, PullSecretReader]) -> None:
    fake, pull_secrets = reader
    fake.put(secret("mirror", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", DOCUMENT))
    pull_secrets.read("apps", ["mirror"])
    pull_secrets.read("apps", ["mirror"])
    reads = [r for r in fake.requests if r.path.endswith("/secrets/mirror")]
    assert len(reads) == 1


def test_a_slow_api_server_costs_no_more_than_the_time_given(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeKube() as fake:
        fake.put(secret("mirror", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", DOCUMENT))
        port = int(fake.url.rsplit(":", 1)[1])
        with DelayingProxy(("127.0.0.1", port), delay=5.0) as slow:
            kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
            kubeconfig.write_text(kubeconfig.read_text().replace(fake.url, f"http://{slow.host}"))
            client = load_api_client(str(kubeconfig))
            try:
                with caplog.at_level(logging.WARNING, logger="idms_guard.pull_secrets"):
                    assert PullSecretReader(client).read("apps", ["mirror"], timeout=0.3) == []
            finally:
                client.close()
    # Whichever gives up first, the reader's wait or the request's own timeout, says so.
    assert "pull secret apps/mirror not used:" in caplog.text

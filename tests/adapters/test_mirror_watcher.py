"""The mirror-set watcher against an in-process API server speaking list/watch
(tests/support/fake_kube.py): sync, events, bookmarks, 410, drops, missing CRDs, stop.

Every wait polls with a generous limit; nothing asserts on elapsed time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
from kubernetes.config.incluster_config import SERVICE_TOKEN_FILENAME

from tests.support.fake_kube import FakeKube
from tests.support.mirror_objects import entry, mirror_object
from webhook.adapters.mirror_watcher import (
    MirrorSetWatcher,
    list_mirror_sets,
    load_api_client,
)
from webhook.errors import KubeApiError, KubeConfigError

IDMS, ITMS, ICSP = "imagedigestmirrorsets", "imagetagmirrorsets", "imagecontentsourcepolicies"


def eventually(condition: Callable[[], object], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def idms(name: str, source: str = "quay.io/acme", mirror: str = "mirror.local/acme") -> Any:
    return mirror_object("idms", name, [entry(source, mirror)])


class Recorder:
    """The on_change callback: keeps every snapshot it was given."""

    def __init__(self, fail_first: bool = False) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self._fail_first = fail_first
        self._lock = threading.Lock()

    def __call__(self, objects: list[dict[str, Any]]) -> None:
        with self._lock:
            self.calls.append(objects)
            if self._fail_first and len(self.calls) == 1:
                raise RuntimeError("simulated index build failure")

    @property
    def names(self) -> set[str]:
        with self._lock:
            latest = self.calls[-1] if self.calls else []
        return {f"{obj['kind']}/{obj['metadata']['name']}" for obj in latest}

    def latest(self, kind: str, name: str) -> dict[str, Any]:
        with self._lock:
            return next(
                o for o in self.calls[-1] if (o["kind"], o["metadata"]["name"]) == (kind, name)
            )


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with FakeKube() as server:
        yield server


@pytest.fixture
def client(fake: FakeKube, tmp_path: Path) -> Iterator[kubernetes.client.ApiClient]:
    api_client = load_api_client(str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    yield api_client
    api_client.close()


Start = Callable[..., MirrorSetWatcher]


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mirror-watch-")]


@pytest.fixture
def start(client: kubernetes.client.ApiClient) -> Iterator[Start]:
    started: list[MirrorSetWatcher] = []

    def make(on_change: Recorder, **options: Any) -> MirrorSetWatcher:
        settings = {
            "retry_seconds": 0.02,
            "max_backoff_seconds": 0.1,
            "missing_kind_recheck_seconds": 0.1,
            "watch_timeout_seconds": 5,
            **options,
        }
        watcher = MirrorSetWatcher(client, on_change, **settings)
        started.append(watcher)
        watcher.start()
        return watcher

    yield make
    for watcher in started:
        watcher.stop()
    assert watcher_threads() == []


def synced_and_watching(fake: FakeKube, watcher: MirrorSetWatcher) -> None:
    eventually(lambda: watcher.synced, "the first list")
    for plural in (IDMS, ITMS, ICSP):
        eventually(lambda p=plural: fake.watching(p) == 1, f"a watch on {plural}")


def lists(fake: FakeKube, plural: str) -> int:
    return sum(1 for r in list(fake.requests) if r.path.endswith(plural) and "watch" not in r.query)


def test_the_first_list_syncs_and_announces_every_kind_at_once(
    fake: FakeKube, start: Start
) -> None:
    fake.put(idms("digests"))
    fake.put(mirror_object("itms", "tags", [entry("quay.io/acme", "mirror.local/acme")]))
    fake.put(mirror_object("icsp", "legacy", [entry("registry.io/old", "mirror.local/old")]))
    recorder = Recorder()
    watcher = start(recorder)
    eventually(lambda: recorder.calls, "the first announcement")
    assert watcher.synced
    assert watcher.last_sync is not None
    assert len(recorder.calls) == 1
    assert recorder.names == {
        "ImageDigestMirrorSet/digests",
        "ImageTagMirrorSet/tags",
        "ImageContentSourcePolicy/legacy",
    }
    assert {obj["apiVersion"] for obj in recorder.calls[0]} == {
        "config.openshift.io/v1",
        "operator.openshift.io/v1alpha1",
    }


def test_added_modified_and_deleted_objects_reach_on_change(fake: FakeKube, start: Start) -> None:
    recorder = Recorder()
    watcher = start(recorder)
    synced_and_watching(fake, watcher)
    fake.put(idms("new"))
    eventually(lambda: recorder.names == {"ImageDigestMirrorSet/new"}, "the ADDED object")
    fake.put(idms("new", mirror="other.local/acme"))
    eventually(
        lambda: (
            recorder.latest("ImageDigestMirrorSet", "new")["spec"]["imageDigestMirrors"][0][
                "mirrors"
            ]
            == ["other.local/acme"]
        ),
        "the MODIFIED object",
    )
    fake.delete(IDMS, "new")
    eventually(lambda: recorder.names == set(), "the DELETED object")
    assert lists(fake, IDMS) == 1


def test_a_reconnect_resumes_from_the_last_bookmark(fake: FakeKube, start: Start) -> None:
    watcher = start(Recorder())
    synced_and_watching(fake, watcher)
    bookmarked = fake.bookmark()
    fake.drop_watches()
    eventually(
        lambda: any(
            r.query.get("resourceVersion") == str(bookmarked) for r in fake.watch_requests(IDMS)
        ),
        "a watch resuming from the bookmark",
    )
    assert all(r.query.get("allowWatchBookmarks") == "true" for r in fake.watch_requests(IDMS))
    assert lists(fake, IDMS) == 1


def test_a_dropped_connection_reconnects_and_events_keep_coming(
    fake: FakeKube, start: Start
) -> None:
    recorder = Recorder()
    watcher = start(recorder)
    synced_and_watching(fake, watcher)
    fake.drop_watches()
    eventually(lambda: len(fake.watch_requests(IDMS)) >= 2, "a new watch")
    fake.put(idms("after-the-drop"))
    eventually(lambda: recorder.names == {"ImageDigestMirrorSet/after-the-drop"}, "the event")


@pytest.mark.parametrize("how", ["error-event-on-the-open-watch", "too-old-on-reconnect"])
def test_410_gone_relists_and_ends_in_the_cluster_state(
    fake: FakeKube, start: Start, how: str
) -> None:
    fake.put(idms("kept"))
    fake.put(idms("removed", source="quay.io/gone"))
    recorder = Recorder()
    watcher = start(recorder)
    synced_and_watching(fake, watcher)
    # Changes whose events the watch never sees: only a list can find them.
    fake.put(idms("kept", mirror="changed.local/acme"), silent=True)
    fake.delete(IDMS, "removed", silent=True)
    fake.put(idms("created", source="quay.io/new"), silent=True)
    fake.compact()
    fake.expire_watches() if how.startswith("error") else fake.drop_watches()
    eventually(
        lambda: recorder.names == {"ImageDigestMirrorSet/kept", "ImageDigestMirrorSet/created"},
        "the relisted state",
    )
    kept = recorder.latest("ImageDigestMirrorSet", "kept")
    assert kept["spec"]["imageDigestMirrors"][0]["mirrors"] == ["changed.local/acme"]
    assert lists(fake, IDMS) == 2


def test_a_missing_crd_is_logged_once_treated_as_empty_and_picked_up_later(
    fake: FakeKube, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="idms_guard.watch")
    fake.missing.add(ICSP)
    fake.put(idms("digests"))
    recorder = Recorder()
    watcher = start(recorder)
    eventually(lambda: watcher.synced and recorder.calls, "a sync without the missing kind")
    assert recorder.names == {"ImageDigestMirrorSet/digests"}
    eventually(lambda: lists(fake, ICSP) >= 3, "rechecks of the missing kind")
    fake.put(mirror_object("icsp", "legacy", [entry("registry.io/old", "mirror.local/old")]))
    fake.missing.discard(ICSP)
    eventually(lambda: "ImageContentSourcePolicy/legacy" in recorder.names, "the new kind")
    missing_lines = [r for r in caplog.records if "not served" in r.getMessage()]
    assert len(missing_lines) == 1
    assert "ImageContentSourcePolicy" in missing_lines[0].getMessage()


def test_failures_are_retried_and_nothing_is_announced_before_every_kind_is_listed(
    fake: FakeKube, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    fake.failing.add(ITMS)
    fake.put(idms("digests"))
    recorder = Recorder()
    watcher = start(recorder)
    eventually(lambda: lists(fake, ITMS) >= 3, "retries")
    assert not watcher.synced
    assert recorder.calls == []
    assert any("HTTP 500" in r.getMessage() for r in caplog.records if r.name.endswith("watch"))
    fake.failing.discard(ITMS)
    eventually(lambda: recorder.calls, "the sync once the kind answers")
    assert recorder.names == {"ImageDigestMirrorSet/digests"}


def test_a_failing_callback_does_not_stop_the_watch(
    fake: FakeKube, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(fail_first=True)
    watcher = start(recorder)
    synced_and_watching(fake, watcher)
    fake.put(idms("later"))
    eventually(lambda: recorder.names == {"ImageDigestMirrorSet/later"}, "the next change")
    assert any("keeping the previous index" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("state", ["watching", "backing-off"])
def test_stop_leaves_no_thread(fake: FakeKube, start: Start, state: str) -> None:
    if state == "backing-off":
        fake.failing.update({IDMS, ITMS, ICSP})
    watcher = start(Recorder(), max_backoff_seconds=60)
    if state == "watching":
        synced_and_watching(fake, watcher)
    else:
        eventually(lambda: lists(fake, IDMS) >= 2, "a retry")
    watcher.stop()
    assert watcher_threads() == []


def test_list_mirror_sets_reads_every_page_of_every_served_kind(
    fake: FakeKube, client: kubernetes.client.ApiClient
) -> None:
    for number in range(5):
        fake.put(idms(f"digests-{number}", source=f"quay.io/team{number}"))
    fake.missing.add(ICSP)
    objects = list_mirror_sets(client, page_size=2)
    assert [obj["metadata"]["name"] for obj in objects] == [f"digests-{n}" for n in range(5)]
    assert lists(fake, IDMS) == 3


def test_list_mirror_sets_turns_api_failures_into_one_line(fake: FakeKube, tmp_path: Path) -> None:
    fake.token = "rotated"
    with load_api_client(str(fake.write_kubeconfig(tmp_path / "old"))) as stale:
        fake.token = "current"
        with pytest.raises(KubeApiError, match=r"listing imagedigestmirrorsets: HTTP 401") as info:
            list_mirror_sets(stale)
    assert "\n" not in str(info.value)


def test_an_unreachable_api_server_is_one_line(tmp_path: Path) -> None:
    with FakeKube() as gone:
        kubeconfig = gone.write_kubeconfig(tmp_path / "kubeconfig")
    with load_api_client(str(kubeconfig)) as client:
        client.configuration.retries = 0
        with pytest.raises(KubeApiError, match="listing imagedigestmirrorsets") as info:
            list_mirror_sets(client)
    assert "\n" not in str(info.value)


def test_kubeconfig_comes_from_the_environment(fake: FakeKube, tmp_path: Path) -> None:
    path = fake.write_kubeconfig(tmp_path / "config")
    with load_api_client(None, environ={"KUBECONFIG": str(path)}) as client:
        assert client.configuration.host == fake.url
    (tmp_path / ".kube").mkdir()
    fake.write_kubeconfig(tmp_path / ".kube" / "config")
    with load_api_client(None, environ={"HOME": str(tmp_path)}) as client:
        assert client.configuration.host == fake.url


@pytest.mark.parametrize(
    ("kubeconfig", "environ", "message"),
    [
        pytest.param(None, {}, "no cluster connection", id="nothing-at-all"),
        pytest.param("missing.yaml", {}, "kubeconfig .*missing.yaml", id="named-file-missing"),
        pytest.param("broken.yaml", {}, "kubeconfig .*broken.yaml", id="not-a-kubeconfig"),
        pytest.param(
            None,
            {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"},
            "in-cluster config",
            id="in-cluster-without-token",
            marks=pytest.mark.skipif(
                Path(SERVICE_TOKEN_FILENAME).exists(), reason="running in a pod: a token exists"
            ),
        ),
    ],
)
def test_unusable_connection_settings_are_one_line(
    tmp_path: Path, kubeconfig: str | None, environ: dict[str, str], message: str
) -> None:
    (tmp_path / "broken.yaml").write_text("clusters: [oops\n")
    path = str(tmp_path / kubeconfig) if kubeconfig else None
    with pytest.raises(KubeConfigError, match=message) as info:
        load_api_client(path, environ={"HOME": str(tmp_path), **environ})
    assert "\n" not in str(info.value)

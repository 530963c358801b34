"""Where the current `MirrorIndex` comes from, and how a new one replaces it.

Requests read `holder.current` without a lock: building a new index happens off the
request path and the swap is one attribute assignment, atomic under the GIL, so a
request sees either the old index or the new one, never a mixture. Mirror sets may come
from the cluster, from files, or both; `MirrorSetSources` merges the latest of each.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from webhook.core.mirror_index import IndexState, MirrorIndex
from webhook.core.mirror_sets import MirrorSetConfig, load_mirror_sets
from webhook.errors import IdmsGuardError

log = logging.getLogger("idms_guard.mirror_sets")
Loaded = TypeVar("Loaded")


class IndexHolder:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._state: IndexState | None = None
        self._listeners: list[Callable[[IndexState], None]] = []

    @property
    def ready(self) -> bool:
        """False until the first complete set of mirror sets has been read."""
        return self._state is not None

    @property
    def state(self) -> IndexState:
        state = self._state
        if state is None:
            return IndexState(MirrorIndex(()), 0, 0.0)
        return state

    @property
    def current(self) -> MirrorIndex:
        return self.state.index

    def on_swap(self, listener: Callable[[IndexState], None]) -> None:
        """Called after each swap (the digest cache flushes itself here)."""
        self._listeners.append(listener)

    def swap(self, config: MirrorSetConfig) -> IndexState:
        return self.swap_index(MirrorIndex.from_config(config), len(config.rules))

    def swap_index(self, index: MirrorIndex, rules: int = 0) -> IndexState:
        state = IndexState(index, self.state.generation + 1, self._clock(), rules)
        self._state = state
        for listener in self._listeners:
            listener(state)
        return state


Built = tuple[MirrorSetConfig, MirrorIndex]
Offload = Callable[[Callable[[], Built]], Built]


def _inline(work: Callable[[], Built]) -> Built:
    return work()


def _build(objects: Sequence[object]) -> Built:
    config = load_mirror_sets(objects)
    return config, MirrorIndex.from_config(config)


def _same(objects: Sequence[object], others: Sequence[object]) -> bool:
    return len(objects) == len(others) and all(a is b for a, b in zip(objects, others, strict=True))


@dataclass(frozen=True)
class PreparedFiles:
    """Mirror-set files read once in the gunicorn master (and, with no cluster to merge,
    indexed there too). Workers inherit them by fork and start from them instead of each
    reading, parsing and indexing the same files again; a later change is each worker's."""

    fingerprint: Fingerprint
    objects: tuple[object, ...]
    built: Built | None = None

    @classmethod
    def read(
        cls, paths: Sequence[str], load: Callable[[Sequence[str]], list[object]]
    ) -> PreparedFiles:
        fingerprint = _fingerprint(paths)  # first: a change while reading is seen next poll
        return cls(fingerprint, tuple(load(paths)))

    def indexed(self) -> PreparedFiles:
        return PreparedFiles(self.fingerprint, self.objects, _build(self.objects))


class MirrorSetSources:
    """The latest objects from the cluster and from files, merged into one index.

    With the cluster enabled, nothing is swapped in (and `/readyz` stays false) until the
    watcher has listed every kind once: a partial view would let pods through that the
    nodes cannot pull.
    """

    def __init__(
        self,
        holder: IndexHolder,
        cluster: bool,
        offload: Offload = _inline,
        prepared: PreparedFiles | None = None,
    ) -> None:
        """`offload` runs the build (checking the objects, building the index: seconds for
        10 000 rules) where it does not hold up requests (gunicorn_worker.off_the_loop);
        `prepared.built` is taken instead of a first build of the same file objects."""
        self._holder = holder
        self._offload = offload
        self._prepared = prepared.built if prepared else None
        self._prepared_objects = prepared.objects if prepared else ()
        self._lock = threading.Lock()
        self._cluster: list[object] | None = None if cluster else []
        self._files: list[object] = []

    def cluster_changed(self, objects: Sequence[object]) -> None:
        with self._lock:
            self._cluster = list(objects)
            self._rebuild()

    def files_changed(self, objects: Sequence[object]) -> None:
        with self._lock:
            self._files = list(objects)
            self._rebuild()

    def _rebuild(self) -> None:
        if self._cluster is None:
            return
        objects = [*self._cluster, *self._files]
        prepared, self._prepared = self._prepared, None
        if prepared is None or not _same(objects, self._prepared_objects):
            prepared = self._offload(lambda: _build(objects))
        config, index = prepared
        for problem in config.problems:
            log.warning("mirror set problem: %s", problem)
        if config.mco_rejection:
            log.warning(
                "the machine-config operator would refuse these mirror sets (%s); "
                "judging without: %s",
                config.mco_rejection,
                ", ".join(sorted(config.excluded_objects)),
            )
        state = self._holder.swap_index(index, len(config.rules))
        log.info(
            "mirror sets loaded: generation %d, %d rules, %d tables",
            state.generation,
            state.rules,
            len(state.index),
        )


class MirrorSetFiles(Generic[Loaded]):
    """Re-reads mirror-set files (or a node's registries files) when they change (polling:
    ConfigMap volumes update by an atomic symlink swap, which inotify on the file itself
    would miss)."""

    def __init__(
        self,
        paths: Sequence[str],
        on_change: Callable[[Loaded], None],
        load: Callable[[Sequence[str]], Loaded],
        poll_seconds: float = 5.0,
        prepared: PreparedFiles | None = None,
    ) -> None:
        self._prepared = prepared
        self._paths = tuple(paths)
        self._on_change = on_change
        self._load = load
        self._poll_seconds = poll_seconds
        self._fingerprint: Fingerprint | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Load the files if they changed since the last load; True when they were."""
        fingerprint = _fingerprint(self._paths)
        if fingerprint == self._fingerprint:
            return False
        try:
            objects = self._load(self._paths)
        except IdmsGuardError as error:
            log.warning("mirror-set files not reloaded, keeping the previous ones: %s", error)
            return False
        self._fingerprint = fingerprint
        self._on_change(objects)
        return True

    def start(self) -> None:
        prepared, self._prepared = self._prepared, None
        if prepared is not None:
            self._fingerprint = prepared.fingerprint
            # Prepared files are mirror-set objects, which is what such a watch loads.
            self._on_change(cast(Loaded, list(prepared.objects)))
        self.refresh()  # a stat per file when prepared: only a change since is read
        self._thread = threading.Thread(target=self._run, name="mirror-set-files", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            try:
                self.refresh()
            except Exception:  # the watch must outlive any one bad file
                log.exception("mirror-set files not reloaded, keeping the previous ones")


FileSignature = tuple[int, int, int] | None
"""(mtime in ns, size, inode), or None for a file that is not there. The inode catches a
mounted Secret or ConfigMap swapping its symlink even when size and mtime look the same."""
Fingerprint = tuple[tuple[str, FileSignature], ...]


def file_signature(path: str) -> FileSignature:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size, status.st_ino


def _fingerprint(paths: Sequence[str]) -> Fingerprint:
    entries: list[tuple[str, FileSignature]] = []
    for path in paths:
        candidates = [path]
        if os.path.isdir(path):
            candidates = sorted(
                os.path.join(root, name)
                for root, _, names in os.walk(path)
                for name in names
                if not name.startswith(".")
            )
        entries.extend((candidate, file_signature(candidate)) for candidate in candidates)
    return tuple(entries)

"""Where the current `MirrorIndex` comes from, and how a new one replaces it.

Requests read `holder.current` without a lock: building a new index happens off the
request path and the swap is one attribute assignment, atomic under the GIL, so a
request sees either the old index or the new one, never a mixture.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import MirrorSetConfig
from webhook.errors import IdmsGuardError

log = logging.getLogger("idms_guard.mirror_sets")


@dataclass(frozen=True, slots=True)
class IndexState:
    index: MirrorIndex
    generation: int
    loaded_at: float


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
        index = MirrorIndex.from_config(config)
        state = IndexState(index, self.state.generation + 1, self._clock())
        self._state = state
        for listener in self._listeners:
            listener(state)
        return state


class MirrorSetFiles:
    """Re-reads mirror-set files when they change (polling: ConfigMap volumes update by an
    atomic symlink swap, which inotify on the file itself would miss)."""

    def __init__(
        self,
        paths: Sequence[str],
        holder: IndexHolder,
        load: Callable[[Sequence[str]], MirrorSetConfig],
        poll_seconds: float = 5.0,
    ) -> None:
        self._paths = tuple(paths)
        self._holder = holder
        self._load = load
        self._poll_seconds = poll_seconds
        self._fingerprint: tuple[tuple[str, float, int], ...] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Load the files if they changed since the last load; True when a new index was swapped."""
        fingerprint = _fingerprint(self._paths)
        if fingerprint == self._fingerprint:
            return False
        try:
            config = self._load(self._paths)
        except IdmsGuardError as error:
            log.warning("mirror sets not reloaded, keeping the previous ones: %s", error)
            return False
        self._fingerprint = fingerprint
        for problem in config.problems:
            log.warning("mirror set problem: %s", problem)
        state = self._holder.swap(config)
        log.info("mirror sets loaded: generation %d, %d tables", state.generation, len(state.index))
        return True

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="mirror-set-files", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            self.refresh()


def _fingerprint(paths: Sequence[str]) -> tuple[tuple[str, float, int], ...]:
    entries = []
    for path in paths:
        candidates = [path]
        if os.path.isdir(path):
            candidates = sorted(
                os.path.join(root, name)
                for root, _, names in os.walk(path)
                for name in names
                if not name.startswith(".")
            )
        for candidate in candidates:
            try:
                status = os.stat(candidate)
            except OSError:
                entries.append((candidate, -1.0, -1))
                continue
            entries.append((candidate, status.st_mtime, status.st_size))
    return tuple(entries)

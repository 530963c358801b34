"""A TCP proxy on 127.0.0.1 that holds every new connection for a while before relaying it
to a real server: a registry made slow without changing the registry. With `latency`, it
also delivers every chunk that late, each way: a registry that far away (a round trip
costs twice `latency`; a TLS handshake, two round trips)."""

from __future__ import annotations

import queue
import select
import socket
import threading
import time
from types import TracebackType

_CHUNK = 65536


class DelayingProxy:
    def __init__(self, upstream: tuple[str, int], delay: float, latency: float = 0.0) -> None:
        self.upstream = upstream
        self.delay = delay
        self.latency = latency
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="delaying-proxy")

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> DelayingProxy:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._acceptor.join(timeout=10)
        for thread in self._threads:
            thread.join(timeout=10)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._relay, args=(client,))
            self._threads.append(thread)
            thread.start()

    def _relay(self, client: socket.socket) -> None:
        with client:
            if self._stop.wait(self.delay):
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                return
            with upstream:
                if self.latency > 0:
                    self._pump_late(client, upstream)
                else:
                    self._pump(client, upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        while not self._stop.is_set():
            readable, _, _ = select.select(list(peers), [], [], 0.05)
            for source in readable:
                try:
                    data = source.recv(_CHUNK)
                    if not data:
                        return
                    peers[source].sendall(data)
                except OSError:
                    return

    def _pump_late(self, client: socket.socket, upstream: socket.socket) -> None:
        """Each direction: a reader stamps chunks with when they are due, a writer sends
        them then, in order; either side closing ends both."""
        done = threading.Event()
        threads = []
        for source, target in ((client, upstream), (upstream, client)):
            chunks: queue.Queue[tuple[float, bytes]] = queue.Queue()
            threads.append(threading.Thread(target=self._read, args=(source, chunks, done)))
            threads.append(threading.Thread(target=self._write, args=(target, chunks, done)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _read(
        self, source: socket.socket, chunks: queue.Queue[tuple[float, bytes]], done: threading.Event
    ) -> None:
        while not (done.is_set() or self._stop.is_set()):
            readable, _, _ = select.select([source], [], [], 0.05)
            if not readable:
                continue
            try:
                data = source.recv(_CHUNK)
            except OSError:
                data = b""
            chunks.put((time.monotonic() + self.latency, data))
            if not data:
                return

    def _write(
        self, target: socket.socket, chunks: queue.Queue[tuple[float, bytes]], done: threading.Event
    ) -> None:
        while not (done.is_set() or self._stop.is_set()):
            try:
                due, data = chunks.get(timeout=0.05)
            except queue.Empty:
                continue
            wait = due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                break
            if not data:
                break
            try:
                target.sendall(data)
            except OSError:
                break
        done.set()

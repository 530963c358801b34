"""An HTTPS forward proxy (HTTP CONNECT) on 127.0.0.1 for tests: every tunnel goes to
127.0.0.1 at the requested port, so names no resolver knows work through it alone."""

from __future__ import annotations

import base64
import socket
import threading
from types import TracebackType

from tests.support.delaying_proxy import DelayingProxy


class ConnectProxy(DelayingProxy):
    def __init__(self, credentials: str = "") -> None:
        """`credentials` ("user:password"): answer 407 to a CONNECT without them."""
        super().__init__(("127.0.0.1", 0), delay=0.0)
        self.credentials = credentials
        self.tunnels: list[str] = []
        self._tunnels_lock = threading.Lock()

    def __enter__(self) -> ConnectProxy:
        super().__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        super().__exit__(kind, error, trace)

    def _relay(self, client: socket.socket) -> None:
        with client:
            client.settimeout(5)
            request = b""
            try:
                while b"\r\n\r\n" not in request and len(request) < 8192:
                    chunk = client.recv(1024)
                    if not chunk:
                        return
                    request += chunk
            except OSError:
                return
            head = request.split(b"\r\n\r\n", 1)[0].decode()
            method, target, *_ = head.split("\r\n", 1)[0].split(" ")
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                return
            if self.credentials:
                token = base64.b64encode(self.credentials.encode()).decode()
                if f"proxy-authorization: basic {token}".lower() not in head.lower():
                    client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                    return
            with self._tunnels_lock:
                self.tunnels.append(target)
            port = int(target.rsplit(":", 1)[1])
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
                return
            with upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pump(client, upstream)

"""Small HTTPS servers on 127.0.0.1 that answer JSON, for stand-ins of the API server.

One place for what they share: the TLS listener and its thread (joined on exit), and
answering a JSON body or a Kubernetes Status.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class LocalTLSServer(ThreadingHTTPServer):
    """Serves `handler` over TLS on 127.0.0.1 (a free port) while used as a context."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,))

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def __enter__(self) -> LocalTLSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()  # joins every request thread
        self._thread.join(10)


def send_json(
    handler: BaseHTTPRequestHandler,
    code: int,
    body: Any,
    headers: Sequence[tuple[str, str]] = (),
) -> None:
    data = json.dumps(body).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers:
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    """A Kubernetes Status of a failed request."""
    failure = {"apiVersion": "v1", "kind": "Status", "status": "Failure"}
    return {**failure, "message": message, "reason": reason, "code": code}

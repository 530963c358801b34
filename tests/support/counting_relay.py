"""An HTTPS relay on 127.0.0.1 in front of a real registry that writes down every request
it passes on: how many round trips a client really made, and whether each carried
credentials, without changing the registry or the client.

It ends TLS with the test certificate and forwards each HEAD/GET as it came (headers,
`Authorization` included) to the registry over TLS; the registry's answer goes back
unchanged. Requests are recorded as (method, path, authorization scheme or None): the
scheme only, never the credential. Being its own host:port, the relay is a host of its
own to the client too, so two relays in front of one registry are two hosts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import urllib3

from tests.support.registry import (
    HANDLER_TIMEOUT,
    RegistryTls,
    _QuietHandler,
    _ThreadedServer,
    _TlsThreadingServer,
)

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


@dataclass(frozen=True)
class Relayed:
    """One request as the registry received it; `authorization` is the scheme only."""

    method: str
    path: str
    authorization: str | None


class CountingRelay:
    """A context manager; `requests` lists what was relayed, in order."""

    def __init__(self, tls: RegistryTls, upstream_host: str) -> None:
        self.upstream = f"https://{upstream_host}"
        self.requests: list[Relayed] = []
        self._lock = threading.Lock()
        self._pool = urllib3.PoolManager(ssl_context=tls.client_context(), retries=False)
        self._server = _ThreadedServer(_RelayHandler, tls, self)

    @property
    def host(self) -> str:
        return self._server.host

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.stop()
        self._pool.clear()

    def since(self, count: int) -> list[Relayed]:
        """The requests relayed after the first `count`."""
        with self._lock:
            return self.requests[count:]

    def relay(self, method: str, path: str, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
        scheme = headers.get("Authorization", "").partition(" ")[0].lower() or None
        with self._lock:
            self.requests.append(Relayed(method, path, scheme))
        return self._pool.request(
            method,
            self.upstream + path,
            headers=headers,
            redirect=False,
            decode_content=False,
            timeout=HANDLER_TIMEOUT,
        )


class _RelayHandler(_QuietHandler):
    server: _TlsThreadingServer

    def do_HEAD(self) -> None:  # noqa: N802 (http.server names it)
        self._relay()

    def do_GET(self) -> None:  # noqa: N802 (http.server names it)
        self._relay()

    def _relay(self) -> None:
        relay: CountingRelay = self.server.owner  # type: ignore[assignment]
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        response = relay.relay(self.command, self.path, headers)
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        body = response.data
        length = response.headers.get("Content-Length")
        self.send_header(
            "Content-Length", length if self.command == "HEAD" and length else str(len(body))
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

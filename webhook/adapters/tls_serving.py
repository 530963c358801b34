"""The webhook's serving TLS context (stdlib `ssl`): TLS 1.2+, renewed certificates
picked up on new connections, a bounded time for a client to send its request.

Certificates are renewed on disk (cert-manager, OpenShift's service-ca, kubelet swapping a
Secret volume), but an `ssl.SSLContext` keeps the pair it loaded at start. Rather than
restart gunicorn, `ReloadingServerContext` swaps a freshly loaded context into each new
connection from OpenSSL's SNI callback; connections already open keep theirs.

A pair that cannot be served is a `CertificateError` naming the files, never OpenSSL's
traceback, and never the key material.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webhook.adapters.tls_certificates import load_certificate_pair
from webhook.errors import CertificateError

log = logging.getLogger(__name__)

CLIENT_STALL_SECONDS = 5.0

FileSignature = tuple[tuple[int, int, int] | None, ...]


class ReloadingServerContext:
    """TLS 1.2+ server context that serves a certificate renewed on disk on new connections,
    without a restart.

    OpenSSL calls the SNI callback on every ClientHello, with or without a server name, before
    it picks the certificate; the callback points the connection at the newest context. The
    files are looked at (mtime, size, inode: a Secret volume swaps a symlink, so the inode
    changes even when the size does not) at most every `check_interval` seconds, so a busy
    server does not stat them per connection. One instance serves all threads of a worker:
    the check and the swap hold a lock.
    """

    def __init__(
        self,
        cert_path: Path,
        key_path: Path,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cert_path = cert_path
        self._key_path = key_path
        self._check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._seen = _file_signature(cert_path, key_path)
        # A pair that is broken at start is an error (the pod must not become ready), unlike
        # a broken renewal, which must not take down a server that works.
        self._current = _server_context(cert_path, key_path)
        self._checked_at = clock()
        self._outer = self._current
        self._outer.sni_callback = self._on_client_hello

    def context(self) -> ssl.SSLContext:
        """The context to hand to the server (gunicorn's `ssl_context` hook)."""
        return self._outer

    def _on_client_hello(
        self,
        connection: ssl.SSLObject | ssl.SSLSocket,
        server_name: str | None,
        context: ssl.SSLContext,
    ) -> None:
        # Must not raise: an exception here aborts the handshake (and is "unraisable").
        latest = self._latest()
        if latest is not context:
            connection.context = latest

    def _latest(self) -> ssl.SSLContext:
        with self._lock:
            now = self._clock()
            if now - self._checked_at >= self._check_interval:
                self._checked_at = now
                self._reload_if_changed()
            return self._current

    def _reload_if_changed(self) -> None:
        signature = _file_signature(self._cert_path, self._key_path)
        if signature == self._seen:
            return
        # Remembered even when the load fails: one warning per change, not one per check.
        # A writer that finishes the pair changes the signature again and is retried.
        self._seen = signature
        try:
            self._current = _server_context(self._cert_path, self._key_path)
        except CertificateError as error:
            log.warning("keeping the previous TLS certificate: %s", error)
        except Exception as error:  # this runs inside OpenSSL's callback: nothing may escape
            log.warning("keeping the previous TLS certificate: %s: %r", self._cert_path, error)
        else:
            log.info("serving the renewed TLS certificate from %s", self._cert_path)


def _bounded_context_class(
    context_base: type[ssl.SSLContext], socket_base: type[ssl.SSLSocket]
) -> type[ssl.SSLContext]:
    """A context whose sockets give a client a bounded time to send each request.

    Built from the `ssl` classes in use when a context is made: the standard library's, or
    gevent's once its gunicorn worker has patched them, so a waiting connection yields to
    the others instead of holding the process. Cached per pair of classes.
    """
    known = _CONTEXT_CLASSES.get((context_base, socket_base))
    if known is not None:
        return known

    class RequestBoundedSocket(socket_base):  # type: ignore[valid-type,misc]
        """From its first byte, a request must arrive whole within `CLIENT_STALL_SECONDS`
        (the first one counts from the connection); a client that stalls reads as one that
        went away. Between requests the socket waits as long as the server's keep-alive
        limit allows: the API server keeps idle connections for the next review."""

        _deadline: float | None = None
        _between_requests = False

        def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
            if self._between_requests:
                self.settimeout(None)
            else:
                if self._deadline is None:
                    self._deadline = time.monotonic() + CLIENT_STALL_SECONDS
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    return b""
                self.settimeout(remaining)
            try:
                data: bytes = super().recv(buflen, flags)
            except OSError as error:
                if _timed_out(error):
                    return b""
                raise
            if data and self._between_requests:
                self._between_requests = False
                self._deadline = time.monotonic() + CLIENT_STALL_SECONDS
            return data

        def sendall(self, data: Any, flags: int = 0) -> None:
            super().sendall(data, flags)
            self._between_requests = True
            self._deadline = None

    class RequestBoundedContext(context_base):  # type: ignore[valid-type,misc]
        sslsocket_class = RequestBoundedSocket

        def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
            sock.settimeout(CLIENT_STALL_SECONDS)  # the handshake's limit
            with contextlib.suppress(OSError):  # not TCP (a test's socket pair): no Nagle
                # gunicorn writes the headers and the body of an answer apart; with Nagle's
                # algorithm the body would wait for the client's delayed ACK of the headers.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            wrapped: ssl.SSLSocket = super().wrap_socket(sock, *args, **kwargs)
            return wrapped

    _CONTEXT_CLASSES[(context_base, socket_base)] = RequestBoundedContext
    return RequestBoundedContext


_CONTEXT_CLASSES: dict[tuple[type[ssl.SSLContext], type[ssl.SSLSocket]], type[ssl.SSLContext]] = {}


def _timed_out(error: OSError) -> bool:
    # The standard library raises TimeoutError; gevent's SSL socket an SSLError
    # "The read operation timed out".
    return isinstance(error, TimeoutError) or (
        isinstance(error, ssl.SSLError) and "timed out" in str(error)
    )


def _server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    # Checked first with cryptography to say in words what is wrong; OpenSSL alone would
    # answer "[SSL] PEM lib" or, for an encrypted key, prompt on the terminal.
    load_certificate_pair(cert_path, key_path)
    context = _bounded_context_class(ssl.SSLContext, ssl.SSLSocket)(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= (
        ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    )
    try:
        # The files may have changed since they were checked; OpenSSL checks the pair again.
        context.load_cert_chain(cert_path, key_path, password=b"")
    except OSError as error:
        detail = getattr(error, "reason", None) or error.strerror or str(error)
        raise CertificateError(
            f"{cert_path}, {key_path}: OpenSSL rejected the pair: {detail}"
        ) from None
    return context


def _file_signature(*paths: Path) -> FileSignature:
    def one(path: Path) -> tuple[int, int, int] | None:
        try:
            status = path.stat()
        except OSError:
            return None
        return (status.st_mtime_ns, status.st_size, status.st_ino)

    return tuple(one(path) for path in paths)

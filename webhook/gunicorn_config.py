"""gunicorn settings for the webhook, and the embedded gunicorn application `serve` runs.

Choices, each for the API server on the other end:
- gevent workers: every connection is a greenlet, so a client that connects and stalls
  costs a little memory, not a request thread; one that has not sent its whole request
  within `CLIENT_STALL_SECONDS` is dropped (tls_serving), and a worker holds at most
  `connections` open connections. Registry lookups, the cluster watch and file polling
  yield while they wait on the network, as the worker patches the standard library;
- keep-alive 120 s, above the 90 s the API server's HTTP client keeps idle connections,
  so gunicorn never closes a connection the server is about to reuse;
- TLS 1.2 or newer only, with a context that picks up a renewed certificate on new
  connections (`ReloadingServerContext`);
- the worker heartbeat file in memory (`/dev/shm`): a read-only root filesystem and slow
  disks must not make the arbiter kill healthy workers;
- graceful shutdown: SIGTERM lets in-flight requests finish within `graceful_timeout`;
- logs are JSON lines on stderr, the access log is off (metrics count requests).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.config import Config

from webhook.adapters.tls_serving import ReloadingServerContext

KEEPALIVE_SECONDS = 120
GRACEFUL_TIMEOUT_SECONDS = 20
WORKER_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class ServerOptions:
    cert_path: Path
    key_path: Path
    host: str = "0.0.0.0"
    port: int = 8443
    workers: int = 1
    threads: int = 8
    """Unused by the gevent worker; kept so that `--threads` in a deployment still starts."""
    connections: int = 1000
    """Open connections per worker (gunicorn's worker_connections); more wait to be accepted."""
    log_level: str = "info"


def gunicorn_options(options: ServerOptions) -> dict[str, Any]:
    # Checked here, in the master, so that a broken pair is one error at start ...
    ReloadingServerContext(options.cert_path, options.key_path)

    def ssl_context(_config: Any, _default_factory: Callable[[], Any]) -> Any:
        # ... and made again in each worker, after gevent has patched `ssl`, so that its
        # sockets wait cooperatively.
        return ReloadingServerContext(options.cert_path, options.key_path).context()

    settings: dict[str, Any] = {
        "bind": [f"{_bracketed(options.host)}:{options.port}"],
        "workers": options.workers,
        "worker_class": "webhook.gunicorn_worker.WebhookWorker",
        "worker_connections": options.connections,
        "keepalive": KEEPALIVE_SECONDS,
        "timeout": WORKER_TIMEOUT_SECONDS,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "certfile": str(options.cert_path),
        "keyfile": str(options.key_path),
        "ssl_context": ssl_context,
        "loglevel": options.log_level,
        "accesslog": None,
        "errorlog": "-",
        "proc_name": "idms-guard",
    }
    if "control_socket_disable" in Config().settings:
        # gunicorn >= 24 opens a control socket under $HOME; a read-only root filesystem
        # (the chart's default) has nowhere to put it, and nothing here uses it.
        settings["control_socket_disable"] = True
    if os.path.isdir("/dev/shm"):
        settings["worker_tmp_dir"] = "/dev/shm"
    return settings


class WebhookServer(BaseApplication):  # type: ignore[misc]
    """gunicorn without a config file: `app_factory` runs in each worker after the fork, so
    every worker has its own mirror index and file watcher (DESIGN.md: one process state)."""

    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._app_factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._app_factory()


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host

"""An in-process Kubernetes API server, just enough of it: list (with `limit`/`continue` and
`labelSelector`) and watch (chunked JSON lines, bookmarks, `410 Gone`) for the mirror-set
kinds, namespaces, pods and the workload kinds, plus ways to misbehave on demand: drop open
watch connections, expire resource versions, serve a kind as missing (no CRD).

It follows https://kubernetes.io/docs/reference/using-api/api-concepts/ as the real API
server answers: a watch from a compacted resourceVersion gets HTTP 200 and an ERROR event
with a 410 Status; list items of built-in kinds carry no apiVersion/kind, custom resources
do. Every thread it starts is joined by `stop()`; every wait in it is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from tests.support.json_http import send_json

TOKEN = "fake-kube-token"


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def custom(self) -> bool:
        return self.group.endswith(".openshift.io")


KINDS = {
    kind.plural: kind
    for kind in (
        Kind("config.openshift.io", "v1", "imagedigestmirrorsets", "ImageDigestMirrorSet", False),
        Kind("config.openshift.io", "v1", "imagetagmirrorsets", "ImageTagMirrorSet", False),
        Kind(
            "operator.openshift.io",
            "v1alpha1",
            "imagecontentsourcepolicies",
            "ImageContentSourcePolicy",
            False,
        ),
        Kind("config.openshift.io", "v1", "images", "Image", False),
        Kind("config.openshift.io", "v1", "clusterversions", "ClusterVersion", False),
        Kind("machineconfiguration.openshift.io", "v1", "machineconfigs", "MachineConfig", False),
        Kind(
            "machineconfiguration.openshift.io",
            "v1",
            "machineconfigpools",
            "MachineConfigPool",
            False,
        ),
        Kind("", "v1", "namespaces", "Namespace", False),
        Kind("", "v1", "pods", "Pod", True),
        Kind("", "v1", "replicationcontrollers", "ReplicationController", True),
        Kind("apps", "v1", "deployments", "Deployment", True),
        Kind("apps", "v1", "replicasets", "ReplicaSet", True),
        Kind("apps", "v1", "statefulsets", "StatefulSet", True),
        Kind("apps", "v1", "daemonsets", "DaemonSet", True),
        Kind("batch", "v1", "jobs", "Job", True),
        Kind("batch", "v1", "cronjobs", "CronJob", True),
        Kind("apps.openshift.io", "v1", "deploymentconfigs", "DeploymentConfig", True),
        Kind("", "v1", "secrets", "Secret", True),
    )
}
_BY_KIND = {(kind.api_version, kind.kind): kind for kind in KINDS.values()}
_PATH = re.compile(
    r"/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?"
)
Key = tuple[str, str]  # (namespace, name)
Query = dict[str, str]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Query


class FakeKube:
    """State and behaviour; the HTTP side is `_Handler`. Use as a context manager."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.requests: list[Request] = []
        self.missing: set[str] = set()
        """Plurals answered 404, as when their CRD is not installed."""
        self.failing: set[str] = set()
        """Plurals answered 500."""
        self._objects: dict[str, dict[Key, dict[str, Any]]] = {p: {} for p in KINDS}
        self._events: list[tuple[int, str, dict[str, Any]]] = []  # (rv, plural, event)
        self._revision = 100
        self._compacted = 0
        self._generation = {"drop": 0, "expire": 0, "bookmark": 0}
        self._watching: Counter[str] = Counter()
        self._condition = threading.Condition()
        self._stopping = False
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeKube:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()  # joins every request thread
        self._thread.join(10)

    def write_kubeconfig(self, path: Path) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": self.token}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "tester"}}],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # -- changing the cluster ---------------------------------------------------------
    def put(self, obj: dict[str, Any], *, silent: bool = False) -> dict[str, Any]:
        """Create or replace an object (kind from apiVersion/kind); records ADDED/MODIFIED.

        `silent`: no watch event, as for a change whose history was compacted away.
        """
        kind = _BY_KIND[(obj["apiVersion"], obj["kind"])]
        stored = copy.deepcopy(obj)
        metadata = stored.setdefault("metadata", {})
        key = (metadata.get("namespace", "") if kind.namespaced else "", metadata["name"])
        with self._condition:
            old = self._objects[kind.plural].get(key)
            uid = old["metadata"]["uid"] if old else metadata.get("uid") or str(uuid.uuid4())
            metadata["uid"] = uid
            self._record(kind.plural, "MODIFIED" if old else "ADDED", stored, key, silent)
        return copy.deepcopy(stored)

    def get(self, plural: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        with self._condition:
            found = self._objects[plural].get((namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def delete(self, plural: str, name: str, namespace: str = "", *, silent: bool = False) -> None:
        with self._condition:
            stored = copy.deepcopy(self._objects[plural][(namespace, name)])
            self._record(plural, "DELETED", stored, (namespace, name), silent)

    def bookmark(self) -> int:
        """Move the revision on (as a write elsewhere would) and bookmark open watches there."""
        with self._condition:
            self._revision += 1
            self._generation["bookmark"] += 1
            self._condition.notify_all()
            return self._revision

    def compact(self) -> None:
        """Forget history: watches from any earlier resourceVersion now get 410."""
        with self._condition:
            self._compacted = self._revision

    def expire_watches(self) -> None:
        """Open watches receive an ERROR 410 event (the watch cache fell behind)."""
        self._bump("expire")

    def drop_watches(self) -> None:
        """Open watch connections are cut mid-stream, without the closing chunk."""
        self._bump("drop")

    def watching(self, plural: str) -> int:
        with self._condition:
            return self._watching[plural]

    def watch_requests(self, plural: str) -> list[Request]:
        return [r for r in list(self.requests) if r.path.endswith(f"/{plural}") and _watch(r)]

    @property
    def revision(self) -> int:
        with self._condition:
            return self._revision

    def _bump(self, what: str) -> None:
        with self._condition:
            self._generation[what] += 1
            self._condition.notify_all()

    def _record(self, plural: str, kind: str, obj: dict[str, Any], key: Key, silent: bool) -> None:
        self._revision += 1
        obj["metadata"]["resourceVersion"] = str(self._revision)
        if kind == "DELETED":
            del self._objects[plural][key]
        else:
            self._objects[plural][key] = obj
        if not silent:
            event = {"type": kind, "object": copy.deepcopy(obj)}
            self._events.append((self._revision, plural, event))
        self._condition.notify_all()

    # -- answering --------------------------------------------------------------------
    def list_body(self, kind: Kind, namespace: str | None, query: Query) -> dict[str, Any]:
        with self._condition:
            items = [
                copy.deepcopy(obj)
                for (ns, _), obj in sorted(self._objects[kind.plural].items())
                if (namespace is None or ns == namespace)
                and _selected(obj, query.get("labelSelector", ""))
            ]
            revision = self._revision
        start = 0
        if query.get("continue"):
            token = json.loads(base64.urlsafe_b64decode(query["continue"]))
            start, revision = token["start"], token["rv"]
        limit = int(query.get("limit") or 0) or len(items) or 1
        page = items[start : start + limit]
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if start + limit < len(items):
            token = json.dumps({"start": start + limit, "rv": revision}).encode()
            metadata["continue"] = base64.urlsafe_b64encode(token).decode()
        if not kind.custom:
            for item in page:
                item.pop("apiVersion", None)
                item.pop("kind", None)
        header = {"apiVersion": kind.api_version, "kind": f"{kind.kind}List"}
        return {**header, "metadata": metadata, "items": page}

    def stream(self, handler: _Handler, kind: Kind, namespace: str | None, query: Query) -> None:
        """Write watch events until timeoutSeconds, stop, a drop or an expiry."""
        watch = _Watch(kind, namespace, query.get("allowWatchBookmarks") == "true")
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or 30)
        with self._condition:
            since = query.get("resourceVersion") or ""
            if since not in ("", "0") and int(since) < self._compacted:
                message = f"too old resource version: {since} ({self._compacted})"
                handler.write_chunk({"type": "ERROR", "object": _status(410, "Expired", message)})
                return handler.end_chunks()
            pending = []
            if since in ("", "0"):  # no version: the current objects first, as ADDED
                pending = [
                    {"type": "ADDED", "object": copy.deepcopy(obj)}
                    for (ns, _), obj in sorted(self._objects[kind.plural].items())
                    if namespace is None or ns == namespace
                ]
            position = self._revision if since in ("", "0") else int(since)
            seen = dict(self._generation)
            self._watching[kind.plural] += 1
        try:
            while True:
                for event in pending:
                    handler.write_chunk(event)
                with self._condition:
                    self._condition.wait_for(
                        partial(self._moved, position, seen, deadline), timeout=0.05
                    )
                    pending, ending = self._due(handler, watch, position, seen, deadline)
                    position, seen = self._revision, dict(self._generation)
                if ending is not None:
                    for event in pending:
                        handler.write_chunk(event)
                    return ending()
        except OSError:
            pass  # the client went away
        finally:
            with self._condition:
                self._watching[kind.plural] -= 1

    def _moved(self, position: int, seen: dict[str, int], deadline: float) -> bool:
        return (
            self._stopping
            or self._revision > position
            or self._generation != seen
            or time.monotonic() >= deadline
        )

    def _due(
        self, handler: _Handler, watch: _Watch, position: int, seen: dict[str, int], deadline: float
    ) -> tuple[list[dict[str, Any]], Callable[[], None] | None]:
        """Events since `position`, then how the stream ends, if it does. Events already due
        are written before a drop or an expiry, so `bookmark(); drop_watches()` reliably
        delivers the bookmark first."""
        if self._stopping:
            return [], handler.drop
        pending = [
            copy.deepcopy(event)
            for revision, plural, event in self._events
            if revision > position and plural == watch.kind.plural and watch.sees(event)
        ]
        if watch.bookmarks and self._generation["bookmark"] != seen["bookmark"]:
            metadata = {"resourceVersion": str(self._revision)}
            marker = {"apiVersion": watch.kind.api_version, "kind": watch.kind.kind}
            pending.append({"type": "BOOKMARK", "object": {**marker, "metadata": metadata}})
        if self._generation["drop"] != seen["drop"]:
            return pending, handler.drop
        if self._generation["expire"] != seen["expire"]:
            status = _status(410, "Expired", "too old resource version")
            return [*pending, {"type": "ERROR", "object": status}], handler.end_chunks
        if time.monotonic() >= deadline:
            return pending, handler.end_chunks
        return pending, None


@dataclass(frozen=True)
class _Watch:
    kind: Kind
    namespace: str | None
    bookmarks: bool

    def sees(self, event: dict[str, Any]) -> bool:
        namespace = event["object"]["metadata"].get("namespace")
        return self.namespace is None or namespace == self.namespace


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins them
    block_on_close = True
    fake: FakeKube

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        """Idle keep-alive connections block their threads in a read; unblock them."""
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        fake.requests.append(Request("GET", url.path, query))
        if self.headers.get("Authorization") != f"Bearer {fake.token}":
            return self.send_json(401, _status(401, "Unauthorized", "Unauthorized"))
        match = _PATH.fullmatch(url.path)
        kind = KINDS.get(match["plural"]) if match else None
        if match is None or kind is None or kind.plural in fake.missing:
            message = "the server could not find the requested resource"
            return self.send_json(404, _status(404, "NotFound", message))
        if kind.plural in fake.failing:
            return self.send_json(500, _status(500, "InternalError", "simulated failure"))
        if match["name"]:
            found = fake.get(kind.plural, match["name"], match["namespace"] or "")
            if found is None:
                message = f'{kind.plural} "{match["name"]}" not found'
                return self.send_json(404, _status(404, "NotFound", message))
            return self.send_json(200, found)
        if query.get("watch") in ("true", "1"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            return fake.stream(self, kind, match["namespace"], query)
        self.send_json(200, fake.list_body(kind, match["namespace"], query))

    def send_json(self, code: int, body: Any) -> None:
        send_json(self, code, body)

    def write_chunk(self, event: dict[str, Any]) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _watch(request: Request) -> bool:
    return request.query.get("watch") in ("true", "1")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    status = {"apiVersion": "v1", "kind": "Status", "status": "Failure"}
    return {**status, "message": message, "reason": reason, "code": code}


def _selected(obj: dict[str, Any], selector: str) -> bool:
    """Equality-based label selectors: `key`, `!key`, `key=value`, `key!=value`."""
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            ok = labels.get(key) != value
        elif "=" in term:
            key, value = term.split("=", 1)
            ok = labels.get(key.rstrip("=")) == value
        elif term.startswith("!"):
            ok = term[1:] not in labels
        else:
            ok = term in labels
        if not ok:
            return False
    return True

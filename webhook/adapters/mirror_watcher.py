"""The cluster's IDMS, ITMS, ICSP, Image and ClusterVersion objects, followed with list +
watch (kubernetes client).

The protocol is the reflector's (https://kubernetes.io/docs/reference/using-api/api-concepts/
#efficient-detection-of-changes): list, then watch from the list's resourceVersion with
bookmarks so that a reconnect resumes where the stream stopped; `410 Gone` means that
version is compacted away and only a new list is correct. One thread per kind, because a
watch is a blocking stream. Objects are passed on as plain dicts: validating them is
`load_mirror_sets`' job, and the callback builds and swaps the index off the request path.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException
from kubernetes.config import incluster_config, kube_config
from kubernetes.watch.watch import iter_resp_lines

from webhook.errors import KubeApiError, KubeConfigError

log = logging.getLogger("idms_guard.watch")

CONNECT_TIMEOUT, LIST_READ_TIMEOUT, PAGE_SIZE = 10.0, 60.0, 500
Objects = dict[str, dict[str, Any]]

# The client's untyped helpers, given the types this module relies on.
_lines: Callable[[Any], Iterator[str]] = iter_resp_lines
_load_kube_config: Callable[..., None] = kube_config.load_kube_config
_InClusterLoader: Callable[..., Any] = incluster_config.InClusterConfigLoader


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str


RESOURCES = (
    Resource("config.openshift.io", "v1", "imagedigestmirrorsets", "ImageDigestMirrorSet"),
    Resource("config.openshift.io", "v1", "imagetagmirrorsets", "ImageTagMirrorSet"),
    Resource(
        "operator.openshift.io",
        "v1alpha1",
        "imagecontentsourcepolicies",
        "ImageContentSourcePolicy",
    ),
    # Image/cluster and the release payload shape the same node files (blocked, allowed,
    # insecure and search registries): followed like the mirror sets, read-only.
    Resource("config.openshift.io", "v1", "images", "Image"),
    Resource("config.openshift.io", "v1", "clusterversions", "ClusterVersion"),
)


class _RelistError(Exception):
    """Only a new list is correct now: the resourceVersion expired (410) or the kind went."""


class MirrorSetWatcher:
    """`on_change(every object of every kind)` once all kinds are listed, then after each change.

    Nothing is announced before the first complete list, so readiness (the holder's first
    swap) never rests on a partial view. Errors are logged and retried with bounded backoff.
    """

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        on_change: Callable[[list[dict[str, Any]]], None],
        *,
        retry_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        missing_kind_recheck_seconds: float = 60.0,
        watch_timeout_seconds: int = 300,
    ) -> None:
        self._api = kubernetes.client.CustomObjectsApi(api_client)
        self._on_change = on_change
        self._retry, self._max_backoff = retry_seconds, max_backoff_seconds
        self._recheck, self._watch_timeout = missing_kind_recheck_seconds, watch_timeout_seconds
        self._objects: dict[str, Objects] = {}
        self._lock = threading.Lock()  # guards _objects and serializes on_change
        self._stopping = threading.Event()
        self._responses: dict[str, Any] = {}
        self._responses_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._missing: set[str] = set()
        self._versions: dict[str, str | None] = {}
        self._last_sync: float | None = None

    @property
    def synced(self) -> bool:
        return len(self._objects) == len(RESOURCES)

    @property
    def last_sync(self) -> float | None:
        """When the view was last known current: a list, an applied event or a bookmark."""
        return self._last_sync

    def start(self) -> None:
        """Once per watcher: one daemon thread per kind."""
        for resource in RESOURCES:
            name = f"mirror-watch-{resource.plural}"
            thread = threading.Thread(target=self._run, args=(resource,), name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Unblocks open watch streams by shutting their sockets (as `Watch.stop` does)."""
        self._stopping.set()
        with self._responses_lock:
            for response in self._responses.values():
                _shutdown(response)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, resource: Resource) -> None:
        """`_versions[plural]` is where the next watch starts; None means a list is due. It is
        kept on the instance so that events read before a connection broke still count."""
        failures = 0
        while not self._stopping.is_set():
            delay = 0.0
            try:
                if self._versions.get(resource.plural) is None:
                    self._versions[resource.plural] = self._relist(resource)
                    delay = 0.0 if self._versions[resource.plural] else self._recheck
                else:
                    progressed = self._watch(resource)
                    delay = 0.0 if progressed else self._retry  # never a hot loop
                failures = 0
            except _RelistError as reason:
                log.info("%s: %s, listing again", resource.kind, reason)
                self._versions[resource.plural] = None
            except Exception as error:  # the thread must outlive any failure
                if self._stopping.is_set():
                    break
                failures += 1
                delay = min(self._max_backoff, self._retry * 2 ** (failures - 1))
                delay *= 0.5 + random.random() / 2  # workers must not reconnect in lockstep
                log.warning("%s: %s; retrying in %.2gs", resource.kind, describe(error), delay)
            if delay:
                self._stopping.wait(delay)

    def _relist(self, resource: Resource) -> str | None:
        listing = list_kind(self._api, resource)
        if listing is None:
            if resource.plural not in self._missing:  # one line, not one per recheck
                self._missing.add(resource.plural)
                log.warning(
                    "%s: not served by this cluster (no CRD); treated as empty, "
                    "checked again every %ss",
                    resource.kind,
                    self._recheck,
                )
            self._replace(resource, {})
            return None
        self._missing.discard(resource.plural)
        objects, version = listing
        log.info("%s: listed %d (resourceVersion %s)", resource.kind, len(objects), version)
        self._replace(resource, objects)
        return version or "0"  # "0": any version, for a server that reported none

    def _replace(self, resource: Resource, objects: Objects) -> None:
        with self._lock:
            unchanged = self._objects.get(resource.plural) == objects and self.synced
            self._objects[resource.plural] = objects
            self._last_sync = time.time()
            if not unchanged:
                self._announce()

    def _watch(self, resource: Resource) -> bool:
        """One watch request; True when it delivered at least one event."""
        try:
            response: Any = self._api.list_cluster_custom_object(
                resource.group,
                resource.version,
                resource.plural,
                watch=True,
                allow_watch_bookmarks=True,
                resource_version=self._versions[resource.plural],
                timeout_seconds=self._watch_timeout,
                _preload_content=False,
                _request_timeout=(CONNECT_TIMEOUT, self._watch_timeout + LIST_READ_TIMEOUT),
            )
        except ApiException as error:
            if error.status in (404, 410):
                raise _RelistError(f"watch answered HTTP {error.status}") from None
            raise
        events = 0
        try:
            with self._responses_lock:
                self._responses[resource.plural] = response
                if self._stopping.is_set():
                    return False
            for line in _lines(response):
                if line.strip():
                    self._apply(resource, json.loads(line))
                    events += 1
                if self._stopping.is_set():
                    break
        finally:
            with self._responses_lock:
                self._responses.pop(resource.plural, None)
            response.close()
            response.release_conn()
        return events > 0

    def _apply(self, resource: Resource, event: Mapping[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object")
        if not isinstance(obj, dict):
            obj = {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _RelistError("resourceVersion expired (410)")
            raise RuntimeError(f"watch error {obj.get('code')}: {obj.get('message')}")
        metadata = obj.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
        if metadata.get("resourceVersion"):
            self._versions[resource.plural] = str(metadata["resourceVersion"])
        name = metadata.get("name")
        if kind not in ("ADDED", "MODIFIED", "DELETED") or not isinstance(name, str):
            if kind == "BOOKMARK":  # only the resourceVersion moves; the view is current
                self._last_sync = time.time()
            return
        log.info("%s/%s %s", resource.kind, name, str(kind).lower())
        with self._lock:
            objects = dict(self._objects.get(resource.plural, {}))
            if kind == "DELETED":
                objects.pop(name, None)
            else:
                objects[name] = _with_kind(obj, resource)
            self._objects[resource.plural] = objects
            self._last_sync = time.time()
            self._announce()

    def _announce(self) -> None:
        """Called with the lock held, so swaps happen in the order changes arrived."""
        if not self.synced:
            return
        everything = [
            obj
            for resource in RESOURCES
            for _, obj in sorted(self._objects.get(resource.plural, {}).items())
        ]
        try:
            self._on_change(everything)
        except Exception:
            log.exception("applying mirror sets failed; keeping the previous index")


def list_kind(
    api: Any, resource: Resource, page_size: int = PAGE_SIZE
) -> tuple[Objects, str] | None:
    """Every object of one kind by name, and the list's resourceVersion; None when the
    cluster does not serve the kind (404: its CRD is not installed)."""
    objects: Objects = {}
    token: str | None = None
    while True:
        try:
            response = api.list_cluster_custom_object(
                resource.group,
                resource.version,
                resource.plural,
                limit=page_size,
                _continue=token,
                _preload_content=False,
                _request_timeout=(CONNECT_TIMEOUT, LIST_READ_TIMEOUT),
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        try:
            page = json.loads(response.data)
        finally:
            response.release_conn()
        for item in page.get("items") or []:
            name = (item.get("metadata") or {}).get("name")
            if isinstance(name, str):
                objects[name] = _with_kind(item, resource)
        metadata = page.get("metadata") or {}
        token = metadata.get("continue") or None
        if token is None:
            return objects, str(metadata.get("resourceVersion") or "")


def list_mirror_sets(
    api_client: kubernetes.client.ApiClient, page_size: int = PAGE_SIZE
) -> list[dict[str, Any]]:
    """Every mirror set once (for the report); kinds the cluster lacks count as empty."""
    api = kubernetes.client.CustomObjectsApi(api_client)
    found: list[dict[str, Any]] = []
    for resource in RESOURCES:
        try:
            listing = list_kind(api, resource, page_size)
        except Exception as error:  # one line for the user, whatever broke
            host = api_client.configuration.host
            raise KubeApiError(f"{host}: listing {resource.plural}: {describe(error)}") from None
        if listing is not None:
            found.extend(obj for _, obj in sorted(listing[0].items()))
    return found


def load_api_client(
    kubeconfig: str | None, *, environ: Mapping[str, str] | None = None
) -> kubernetes.client.ApiClient:
    """`kubeconfig` when given, else the pod's service account, else $KUBECONFIG or
    ~/.kube/config. The in-cluster token is re-read as it rotates (bound tokens expire)."""
    env = os.environ if environ is None else environ
    configuration = kubernetes.client.Configuration()
    if kubeconfig:
        _load_file(kubeconfig, configuration)
    elif env.get(incluster_config.SERVICE_HOST_ENV_NAME):
        loader = _InClusterLoader(
            token_filename=incluster_config.SERVICE_TOKEN_FILENAME,
            cert_filename=incluster_config.SERVICE_CERT_FILENAME,
            try_refresh_token=True,
            environ=env,
        )
        try:
            loader.load_and_set(configuration)
        except Exception as error:  # ConfigException, OSError: one line
            raise KubeConfigError(f"in-cluster config: {_one_line(error)}") from None
    else:
        home = env.get("HOME") or os.path.expanduser("~")
        path = env.get("KUBECONFIG") or os.path.join(home, ".kube", "config")
        if not any(os.path.exists(os.path.expanduser(p)) for p in path.split(os.pathsep) if p):
            raise KubeConfigError(
                f"no cluster connection: not in a cluster and no kubeconfig at {path} "
                "(use --kubeconfig FILE or set KUBECONFIG)"
            )
        _load_file(path, configuration)
    return kubernetes.client.ApiClient(configuration)


def _load_file(path: str, configuration: kubernetes.client.Configuration) -> None:
    try:
        _load_kube_config(
            config_file=path, client_configuration=configuration, persist_config=False
        )
    except Exception as error:  # YAML, missing keys, exec plugins
        raise KubeConfigError(f"kubeconfig {path}: {_one_line(error)}") from None


def describe(error: BaseException) -> str:
    """One line for a log or the CLI: status and the API's own message, never a body dump."""
    if isinstance(error, ApiException):
        message = ""
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(error.body or "").get("message", "")
        return _one_line(f"HTTP {error.status} {error.reason or ''} {message}".strip())
    reason = getattr(error, "reason", None)  # urllib3's MaxRetryError wraps the real cause
    return _one_line(f"{type(error).__name__}: {reason or error}")


def _with_kind(obj: dict[str, Any], resource: Resource) -> dict[str, Any]:
    """List items of built-in types omit apiVersion/kind; load_mirror_sets needs them."""
    if obj.get("kind") and obj.get("apiVersion"):
        return obj
    return {"apiVersion": f"{resource.group}/{resource.version}", "kind": resource.kind, **obj}


def _shutdown(response: Any) -> None:
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _one_line(error: object) -> str:
    return " ".join(str(error).split())[:300]

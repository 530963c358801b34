"""A pod's image pull secrets, read from the API (kubernetes client), for pinning lookups.

Off unless `pod_pull_secrets` is set: it needs `get` on Secrets, which the chart grants
only then. Reads run in parallel within the time the admission request can spare, without
the client's retries, and are cached briefly (a Deployment's pods share them). Contents
are never logged; a secret that cannot be read is skipped with one line naming it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait

from cachetools import TTLCache
from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("idms_guard.pull_secrets")

_DATA_KEYS = {
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
    "kubernetes.io/dockercfg": ".dockercfg",
}
NAMES_MAX = 8
"""A pod naming more pull secrets than this gets only the first ones read."""


class PullSecretReader:
    def __init__(self, api_client: ApiClient, ttl: float = 60.0) -> None:
        configuration = copy.copy(api_client.configuration)
        configuration.retries = False  # the request's deadline is the only retry budget
        self._api = CoreV1Api(ApiClient(configuration))
        self._cache: TTLCache[tuple[str, str], str | None] = TTLCache(1024, ttl)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=NAMES_MAX, thread_name_prefix="secrets")

    def read(self, namespace: str, names: Sequence[str], timeout: float = 1.0) -> list[str]:
        """The dockerconfigjson documents of the named secrets that exist, are readable and
        arrive within `timeout` seconds; the rest are left out."""
        wanted = list(names)[:NAMES_MAX]
        found: dict[str, str | None] = {}
        missing = []
        with self._lock:
            for name in wanted:
                cached = self._cache.get((namespace, name), ...)
                if cached is ...:
                    missing.append(name)
                else:
                    found[name] = cached
        futures = {
            name: self._pool.submit(self._fetch, namespace, name, timeout) for name in missing
        }
        done, _ = wait(futures.values(), timeout=timeout)
        for name, future in futures.items():
            if future in done:
                found[name], settled = future.result()
                if settled:  # a passing network fault is asked again next time
                    with self._lock:
                        self._cache[(namespace, name)] = found[name]
            else:
                log.warning(
                    "pull secret %s/%s not used: no answer in %.1fs", namespace, name, timeout
                )
        return [document for name in wanted if (document := found.get(name))]

    def _fetch(self, namespace: str, name: str, timeout: float) -> tuple[str | None, bool]:
        """(the document or None, whether that answer is settled enough to cache)."""
        try:
            secret = self._api.read_namespaced_secret(name, namespace, _request_timeout=timeout)
        except ApiException as error:
            log.warning("pull secret %s/%s not used: HTTP %s", namespace, name, error.status)
            return None, error.status in (403, 404)
        except Exception as error:  # connection errors of every kind: the pin goes on without
            log.warning("pull secret %s/%s not used: %s", namespace, name, type(error).__name__)
            return None, False
        key = _DATA_KEYS.get(secret.type or "")
        encoded = (secret.data or {}).get(key) if key else None
        if not encoded:
            log.warning("pull secret %s/%s not used: type %s", namespace, name, secret.type)
            return None, True
        try:
            return base64.b64decode(encoded, validate=True).decode("utf-8"), True
        except (binascii.Error, UnicodeDecodeError):
            log.warning("pull secret %s/%s not used: data is not base64 text", namespace, name)
            return None, True

"""A pod's image pull secrets, read from the API (kubernetes client), for pinning lookups.

Off unless `pod_pull_secrets` is set: it needs `get` on Secrets, which the chart grants
only then. Contents are cached briefly (a Deployment's pods share them) and never logged;
a secret that cannot be read is skipped with one line naming it, never its data.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Sequence

from cachetools import TTLCache
from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("idms_guard.pull_secrets")

_DATA_KEYS = {
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
    "kubernetes.io/dockercfg": ".dockercfg",
}


class PullSecretReader:
    def __init__(self, api_client: ApiClient, ttl: float = 60.0, timeout: float = 1.0) -> None:
        self._api = CoreV1Api(api_client)
        self._timeout = timeout
        self._cache: TTLCache[tuple[str, str], str | None] = TTLCache(1024, ttl)
        self._lock = threading.Lock()

    def read(self, namespace: str, names: Sequence[str]) -> list[str]:
        """The dockerconfigjson documents of the named secrets that exist and are readable."""
        documents = []
        for name in names:
            key = (namespace, name)
            with self._lock:
                cached = self._cache.get(key, ...)
            if cached is ...:
                cached = self._fetch(namespace, name)
                with self._lock:
                    self._cache[key] = cached
            if cached:
                documents.append(cached)
        return documents

    def _fetch(self, namespace: str, name: str) -> str | None:
        try:
            secret = self._api.read_namespaced_secret(
                name, namespace, _request_timeout=self._timeout
            )
        except ApiException as error:
            log.warning("pull secret %s/%s not used: HTTP %s", namespace, name, error.status)
            return None
        except Exception as error:  # connection errors of every kind: the pin goes on without
            log.warning("pull secret %s/%s not used: %s", namespace, name, type(error).__name__)
            return None
        key = _DATA_KEYS.get(secret.type or "")
        encoded = (secret.data or {}).get(key) if key else None
        if not encoded:
            log.warning("pull secret %s/%s not used: type %s", namespace, name, secret.type)
            return None
        try:
            return base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            log.warning("pull secret %s/%s not used: data is not base64 text", namespace, name)
            return None

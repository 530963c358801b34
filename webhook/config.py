"""Every setting of the service, read in one place.

`Settings.from_env` takes a mapping (normally `os.environ`) so tests pass a dict; the
command line fills the same fields. Environment names are `IDMS_GUARD_<FIELD>`; lists
are comma-separated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from webhook.core.policy import INTERNAL_REGISTRY_IMAGES, PolicySettings
from webhook.errors import UsageError

ENV_PREFIX = "IDMS_GUARD_"


@dataclass(frozen=True)
class Settings:
    mirror_set_paths: tuple[str, ...] = ()
    node_config: str = ""
    """A node's /etc/containers (MicroShift, CRI-O): judge with its files, not mirror sets."""
    exempt_namespaces: tuple[str, ...] = ("kube-*", "openshift-*")
    exempt_images: tuple[str, ...] = INTERNAL_REGISTRY_IMAGES
    max_body_bytes: int = 8 * 1024 * 1024
    """The API server sends objects up to ~3 MiB (object + oldObject); more is refused."""
    mirror_set_poll_seconds: float = 5.0
    fail_closed: bool = False
    """On an internal error, deny in enforce mode instead of allowing (failurePolicy Fail)."""
    registry_auth: str = ""
    """dockerconfigjson for the mirror registries (on OpenShift: the global pull secret)."""
    registry_ca: str = ""
    """PEM bundle the mirror registries' certificates chain to; empty: the system CAs."""
    registry_timeout_seconds: float = 1.5
    pin_timeout_seconds: float = 2.0
    """All registry lookups of one admission request; below the webhook's timeoutSeconds."""
    pin_keep_tag: bool = False
    """Write `name:tag@sha256:…` instead of `name@sha256:…`."""
    resolve_from_source: bool = False
    """Also ask the source registry for a digest (when it is not blocked)."""
    verify_mirror: bool = False
    """Ask the mirrors whether they hold each routed image before admitting it (HEAD of
    the manifest, within `pin_timeout_seconds`); not-in-mirror when none does."""
    pod_pull_secrets: bool = False
    """Also use the pod's own imagePullSecrets for pinning lookups (needs get on Secrets)."""
    kubeconfig: str = ""
    """Explicit kubeconfig; empty: in-cluster, then $KUBECONFIG or ~/.kube/config."""
    watch_cluster: bool = True
    pool_poll_seconds: float = 60.0
    """How often serve re-reads the MachineConfigPools (rollout warnings, per-pool gauge)."""
    """Watch IDMS/ITMS/ICSP in the cluster; without a connection, files alone are used."""

    @property
    def policy(self) -> PolicySettings:
        return PolicySettings(self.exempt_namespaces, self.exempt_images)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        values: dict[str, Any] = {}
        for setting in fields(cls):
            raw = environ.get(ENV_PREFIX + setting.name.upper())
            if raw is None:
                continue
            values[setting.name] = _convert(setting.name, raw, getattr(cls(), setting.name))
        return cls(**values)

    def with_exempt_namespaces(self, patterns: Iterable[str]) -> Settings:
        """More exemptions on top of those already set (`--exempt-namespace` adds: replacing
        the defaults would put kube-system and openshift-* under the policy)."""
        added = tuple(dict.fromkeys((*self.exempt_namespaces, *patterns)))
        return replace(self, exempt_namespaces=added)

    def with_release_namespace(self, namespace: str) -> Settings:
        """The webhook's own namespace is always exempt, or it could block its own pods."""
        return self.with_exempt_namespaces([namespace] if namespace else [])


def _convert(name: str, raw: str, default: Any) -> Any:
    variable = ENV_PREFIX + name.upper()
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return raw.lower() in ("true", "1")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
    except ValueError as error:
        raise UsageError(f"{variable}={raw!r}: {error}") from None
    return raw

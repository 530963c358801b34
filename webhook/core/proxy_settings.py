"""Which proxy registry lookups go through, read from the environment as Go reads it.

Nodes on a proxied restricted network reach the mirror through HTTPS_PROXY except for the
NO_PROXY hosts, domains and CIDRs; the webhook must follow the same path. Pure: the
registry adapter hands in the environment and builds the connection pools.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class ProxySettings:
    """HTTPS_PROXY / NO_PROXY as curl, Go and the kubelet read them: nodes on a proxied
    restricted network reach the mirror through it, so the webhook must too."""

    url: str
    no_proxy: tuple[str, ...]
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Proxy-Authorization from the URL's user info, which urllib3 does not send itself."""

    def __repr__(self) -> str:
        return f"ProxySettings(url={self.url!r}, no_proxy={self.no_proxy!r})"

    def bypasses(self, host: str) -> bool:
        host = host.lower().strip("[]")
        if host == "localhost" or _is_loopback(host):
            return True  # as Go's net/http (CRI-O, the kubelet): loopback is never proxied
        for entry in self.no_proxy:
            if entry == "*" or host == entry or host.endswith("." + entry.lstrip(".")):
                return True
            if _in_network(host, entry):
                return True
        return False


REGISTRY_PROXY_ENV = "IDMS_GUARD_REGISTRY_PROXY"
REGISTRY_NO_PROXY_ENV = "IDMS_GUARD_REGISTRY_NO_PROXY"


def proxy_settings(environ: Mapping[str, str]) -> ProxySettings | None:
    """IDMS_GUARD_REGISTRY_PROXY (registry lookups alone: the kubernetes client honours
    HTTPS_PROXY too, and the API server must not go through a proxy), else HTTPS_PROXY."""
    if environ.get(REGISTRY_PROXY_ENV):
        url, raw = environ[REGISTRY_PROXY_ENV], environ.get(REGISTRY_NO_PROXY_ENV, "")
    else:
        url = environ.get("HTTPS_PROXY") or environ.get("https_proxy") or ""
        raw = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
    if not url:
        return None
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    headers = {}
    if parts.username is not None:
        user_info = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(user_info.encode()).decode()
        headers = {"Proxy-Authorization": f"Basic {token}"}
        url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    entries = tuple(_without_port(e.strip().lower()) for e in raw.split(",") if e.strip())
    return ProxySettings(url, entries, headers)


def _without_port(entry: str) -> str:
    """`host:5000` → `host`, `[fd00::5]:5000` → `fd00::5`; an IPv6 address or CIDR stays."""
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _in_network(host: str, entry: str) -> bool:
    """NO_PROXY entries may be CIDR blocks (10.0.0.0/8), as OpenShift's proxy config writes."""
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False

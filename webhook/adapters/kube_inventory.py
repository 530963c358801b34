"""Namespaces, pods and workloads read from the cluster for `idms-guard report` (kubernetes client).

Objects stay the API's JSON (`_preload_content=False`): the core reads pod specs as plain
dicts, and the client's typed models would drop fields it does not know (image volumes on
older clients). Lists are paged with `limit`/`continue`, so a namespace with thousands of
pods is never one huge response. A kind whose API the cluster does not serve (404:
DeploymentConfig outside OpenShift) is skipped for the rest of the scan.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException

from webhook.core.report import InventoryItem
from webhook.errors import KubeApiError

log = logging.getLogger("idms_guard.inventory")

MODE_LABEL = "idms-guard.io/mode"
TIMEOUT = (10.0, 60.0)  # (connect, read) seconds per page
Progress = Callable[[int, int, str], None]
"""Called after each namespace with (namespaces done, namespaces in all, that namespace)."""


@dataclass(frozen=True, slots=True)
class WorkloadResource:
    group: str
    version: str
    plural: str
    kind: str


# Controllers before what they control, so a reader of the raw scan meets causes first.
WORKLOAD_RESOURCES = (
    WorkloadResource("apps.openshift.io", "v1", "deploymentconfigs", "DeploymentConfig"),
    WorkloadResource("apps", "v1", "deployments", "Deployment"),
    WorkloadResource("apps", "v1", "statefulsets", "StatefulSet"),
    WorkloadResource("apps", "v1", "daemonsets", "DaemonSet"),
    WorkloadResource("batch", "v1", "cronjobs", "CronJob"),
    WorkloadResource("batch", "v1", "jobs", "Job"),
    WorkloadResource("apps", "v1", "replicasets", "ReplicaSet"),
    WorkloadResource("", "v1", "replicationcontrollers", "ReplicationController"),
    WorkloadResource("", "v1", "pods", "Pod"),
)


def list_namespaces(
    api_client: kubernetes.client.ApiClient, *, all_namespaces: bool = False, page_size: int = 500
) -> dict[str, str | None]:
    """Namespace name → its `idms-guard.io/mode` label (None when unlabelled), by name.
    Without `all_namespaces`, only the labelled ones: those the webhook guards."""
    core = kubernetes.client.CoreV1Api(api_client)
    selector = None if all_namespaces else MODE_LABEL
    found: dict[str, str | None] = {}
    for page in _pages(api_client, "namespaces", core.list_namespace, page_size, selector):
        for item in page.get("items") or []:
            metadata = item.get("metadata") or {}
            labels = metadata.get("labels") or {}
            found[str(metadata.get("name"))] = labels.get(MODE_LABEL)
    return dict(sorted(found.items()))


def scan(
    api_client: kubernetes.client.ApiClient,
    namespaces: Sequence[str],
    *,
    progress: Progress | None = None,
    page_size: int = 500,
) -> Iterator[InventoryItem]:
    """Every pod and workload of `namespaces`, namespace by namespace."""
    listers = {resource: _lister(api_client, resource) for resource in WORKLOAD_RESOURCES}
    absent: set[WorkloadResource] = set()
    for done, namespace in enumerate(namespaces, start=1):
        for resource, lister in listers.items():
            if resource in absent:
                continue
            try:
                for page in _pages(api_client, resource.plural, lister(namespace), page_size):
                    for obj in page.get("items") or []:
                        name = str((obj.get("metadata") or {}).get("name", ""))
                        yield InventoryItem(namespace, resource.group, resource.kind, name, obj)
            except _NotServedError:
                log.info("%s: not served by this cluster; skipped", resource.kind)
                absent.add(resource)
        if progress is not None:
            progress(done, len(namespaces), namespace)


class _NotServedError(Exception):
    """404 on a list: the cluster has no such API (not a missing namespace, which lists empty)."""


def _lister(
    api_client: kubernetes.client.ApiClient, resource: WorkloadResource
) -> Callable[[str], Callable[..., Any]]:
    """For a namespace, the list call of this kind; core kinds have their own typed calls,
    the other groups share the generic one (the path is the same shape)."""
    if resource.group == "":
        core = kubernetes.client.CoreV1Api(api_client)
        method: Callable[..., Any] = {
            "pods": core.list_namespaced_pod,
            "replicationcontrollers": core.list_namespaced_replication_controller,
        }[resource.plural]
        return lambda namespace: lambda **options: method(namespace, **options)
    custom = kubernetes.client.CustomObjectsApi(api_client)
    return lambda namespace: (
        lambda **options: custom.list_namespaced_custom_object(
            resource.group, resource.version, namespace, resource.plural, **options
        )
    )


def _pages(
    api_client: kubernetes.client.ApiClient,
    what: str,
    call: Callable[..., Any],
    page_size: int,
    label_selector: str | None = None,
) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        try:
            response = call(
                label_selector=label_selector,
                limit=page_size,
                _continue=token,
                _preload_content=False,
                _request_timeout=TIMEOUT,
            )
            try:
                page: dict[str, Any] = json.loads(response.data)
            finally:
                response.release_conn()
        except ApiException as error:
            if error.status == 404 and what != "namespaces":
                raise _NotServedError from None
            raise KubeApiError(_failure(api_client, what, error)) from None
        except Exception as error:  # connection, timeout, bad JSON: one line for the user
            raise KubeApiError(_failure(api_client, what, error)) from None
        yield page
        token = (page.get("metadata") or {}).get("continue") or None
        if token is None:
            return


def _failure(api_client: kubernetes.client.ApiClient, what: str, error: Exception) -> str:
    if isinstance(error, ApiException):
        message = ""
        with contextlib.suppress(ValueError, AttributeError):
            message = str(json.loads(error.body or "{}").get("message", ""))
        detail = f"HTTP {error.status} {error.reason or ''} {message}"
    else:  # urllib3's MaxRetryError keeps the real cause in `reason`
        detail = f"{type(error).__name__}: {getattr(error, 'reason', None) or error}"
    host = api_client.configuration.host
    return " ".join(f"{host}: listing {what}: {detail}".split())[:300]


MACHINE_CONFIG_GROUP, MACHINE_CONFIG_VERSION = "machineconfiguration.openshift.io", "v1"
POOL_PAGE_SIZE = 100


def list_pools(api_client: kubernetes.client.ApiClient) -> list[dict[str, Any]] | None:
    """Every MachineConfigPool, by name; None when the cluster has none (not OpenShift)."""
    custom = kubernetes.client.CustomObjectsApi(api_client)

    def call(**options: Any) -> Any:
        return custom.list_cluster_custom_object(
            MACHINE_CONFIG_GROUP, MACHINE_CONFIG_VERSION, "machineconfigpools", **options
        )

    try:
        pools = [
            item for page in _pages(api_client, "machineconfigpools", call, POOL_PAGE_SIZE)
            for item in page.get("items") or []
        ]  # fmt: skip
    except _NotServedError:
        return None
    return sorted(pools, key=lambda pool: str((pool.get("metadata") or {}).get("name", "")))


def get_machine_config(api_client: kubernetes.client.ApiClient, name: str) -> dict[str, Any] | None:
    """One (rendered) MachineConfig, or None when it is not there."""
    custom = kubernetes.client.CustomObjectsApi(api_client)
    try:
        response: Any = custom.get_cluster_custom_object(
            MACHINE_CONFIG_GROUP, MACHINE_CONFIG_VERSION, "machineconfigs", name,
            _preload_content=False, _request_timeout=TIMEOUT,
        )  # fmt: skip
        try:
            found: dict[str, Any] = json.loads(response.data)
        finally:
            response.release_conn()
    except ApiException as error:
        if error.status == 404:
            return None
        raise KubeApiError(_failure(api_client, f"machineconfigs/{name}", error)) from None
    except Exception as error:  # connection, timeout, bad JSON: one line for the user
        raise KubeApiError(_failure(api_client, f"machineconfigs/{name}", error)) from None
    return found

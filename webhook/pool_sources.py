"""Wiring for what each MachineConfigPool runs: reads pools and their rendered
MachineConfigs from the cluster (adapters/kube_inventory) and judges them with the core
(core/machine_configs, core/pool_report). Rendered MachineConfigs never change once
written, so one read per name is enough for a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes.client

from webhook.adapters.kube_inventory import get_machine_config, list_pools
from webhook.core.machine_configs import PoolState, RenderedConfig, pool_state, rendered_config
from webhook.core.mirror_index import MirrorIndex
from webhook.core.pool_report import PoolVerdict, judge_pool, pool_index
from webhook.errors import NodeConfigError, UsageError


class RenderedConfigs:
    """Rendered MachineConfigs by name, each read once."""

    def __init__(self, read: Callable[[str], dict[str, Any] | None]) -> None:
        self._read = read
        self._seen: dict[str, RenderedConfig | None] = {}

    def get(self, name: str) -> RenderedConfig | None:
        if name and name not in self._seen:
            found = self._read(name)
            self._seen[name] = rendered_config(found) if found is not None else None
        return self._seen.get(name)


def cluster_pools(api_client: kubernetes.client.ApiClient) -> list[PoolState]:
    pools = list_pools(api_client)
    if pools is None:
        raise UsageError(
            "this cluster has no MachineConfigPools (not OpenShift?); pools exist only where "
            "the machine-config operator renders the nodes' files"
        )
    return [pool_state(pool) for pool in pools]


def pool_verdicts(
    api_client: kubernetes.client.ApiClient, objects: MirrorIndex, rejection: str | None
) -> list[PoolVerdict]:
    configs = RenderedConfigs(lambda name: get_machine_config(api_client, name))
    return [
        judge_pool(pool, objects, configs.get(pool.current), configs.get(pool.target), rejection)
        for pool in cluster_pools(api_client)
    ]


def pool_index_from_cluster(api_client: kubernetes.client.ApiClient, name: str) -> MirrorIndex:
    """The index of the files every node of pool `name` runs (`status.configuration`)."""
    pools = {pool.name: pool for pool in cluster_pools(api_client)}
    pool = pools.get(name)
    if pool is None:
        raise UsageError(f"no MachineConfigPool {name!r}; the cluster has {', '.join(pools)}")
    found = get_machine_config(api_client, pool.current)
    if found is None:
        raise NodeConfigError(
            f"MachineConfigPool/{name}: its rendered config {pool.current!r} is not there"
        )
    return pool_index(rendered_config(found))

"""Wiring for what each MachineConfigPool runs: reads pools and their rendered
MachineConfigs from the cluster (adapters/kube_inventory) and judges them with the core
(core/machine_configs, core/pool_report). Rendered MachineConfigs never change once
written, so one read per name is enough for a run."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import kubernetes.client

from webhook.adapters.kube_inventory import get_machine_config, list_pools
from webhook.core.machine_configs import PoolState, RenderedConfig, pool_state, rendered_config
from webhook.core.mirror_index import MirrorIndex
from webhook.core.pool_report import PoolVerdict, judge_pool, pool_index
from webhook.core.rollout import PoolFiles, differing_pools
from webhook.errors import IdmsGuardError, NodeConfigError, UsageError

log = logging.getLogger("idms_guard.pools")


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
    return [verdict for verdict, _ in _judged(api_client, configs, objects, rejection)]


def _judged(
    api_client: kubernetes.client.ApiClient,
    configs: RenderedConfigs,
    objects: MirrorIndex,
    rejection: str | None,
) -> list[tuple[PoolVerdict, RenderedConfig | None]]:
    judged = []
    for pool in cluster_pools(api_client):
        current = configs.get(pool.current)
        verdict = judge_pool(pool, objects, current, configs.get(pool.target), rejection)
        judged.append((verdict, current))
    return judged


class PoolWatcher:
    """Re-reads the pools every `poll_seconds` (they change at a rollout's pace) and keeps
    the pools whose files differ from the objects, for the webhook's rollout warnings;
    `on_verdicts` gets every pool's verdict (the per-pool gauge). `objects` is None until
    the mirror sets are read (nothing is compared with a partial view); `poke` re-reads at
    once, for a changed mirror set. Rendered configs are kept by name across polls: the
    operator never rewrites one."""

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        objects: Callable[[], MirrorIndex | None],
        on_verdicts: Callable[[list[PoolVerdict]], None] = lambda _: None,
        poll_seconds: float = 60.0,
    ) -> None:
        self._client = api_client
        self._objects = objects
        self._on_verdicts = on_verdicts
        self._poll_seconds = poll_seconds
        self._configs = RenderedConfigs(lambda name: get_machine_config(api_client, name))
        self.differing: tuple[PoolFiles, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""
        self._wake = threading.Event()

    def refresh(self) -> None:
        objects = self._objects()
        if objects is None:
            return
        rejection = objects.config.mco_rejection if objects.config is not None else None
        try:
            judged = _judged(self._client, self._configs, objects, rejection)
        except UsageError:  # no MachineConfigPools: not OpenShift, nothing to warn about
            judged = []
        self.differing = differing_pools(judged, refused=rejection is not None)
        self._on_verdicts([verdict for verdict, _ in judged])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pool-watch", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
                self._last_error = ""
            except IdmsGuardError as error:
                if str(error) != self._last_error:  # once, not every poll
                    log.warning("pools not read, keeping the previous view: %s", error)
                self._last_error = str(error)
            except Exception:  # the watch must outlive any one bad answer
                log.exception("pools not read, keeping the previous view")
            self._wake.wait(self._poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return


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

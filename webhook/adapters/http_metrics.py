"""The app's Prometheus metrics (`prometheus_client`): requests, latency, findings, and
the state of the mirror index in use, read when `/metrics` is scraped."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from webhook.core.decision import Outcome
from webhook.core.mirror_index import IndexState
from webhook.core.pool_report import PoolVerdict

EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """One registry per app, so that tests can build several apps in one process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "idms_guard_admission_requests",
            "Admission requests by endpoint and outcome.",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "idms_guard_admission_duration_seconds",
            "Time to answer an admission request.",
            ["endpoint", "outcome"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.findings = Counter(
            "idms_guard_findings",
            "Images that would not be pulled through a mirror, by reason and mode.",
            ["reason", "mode"],
            registry=self.registry,
        )
        self.mirror_checks = Counter(
            "idms_guard_mirror_presence_checks",
            "Images whose mirrors were asked whether they hold them (--verify-mirror), by "
            "outcome: present, absent, unknown (could not be asked).",
            ["outcome"],
            registry=self.registry,
        )
        self.index_tables = Gauge(
            "idms_guard_mirror_index_tables",
            "registries.conf tables in the mirror index in use.",
            registry=self.registry,
        )
        self.index_rules = Gauge(
            "idms_guard_mirror_index_rules",
            "Mirror-set entries (source → mirrors) the index was built from.",
            registry=self.registry,
        )
        self.index_generation = Gauge(
            "idms_guard_mirror_index_generation",
            "How many times the mirror index has been rebuilt since start.",
            registry=self.registry,
        )
        self.last_change = Gauge(
            "idms_guard_mirror_sets_last_change_timestamp_seconds",
            "When the mirror index in use was built (Unix time).",
            registry=self.registry,
        )
        self.last_sync = Gauge(
            "idms_guard_mirror_sets_last_sync_timestamp_seconds",
            "When the cluster watch last confirmed it is current (Unix time; 0: no watch).",
            registry=self.registry,
        )

        self.pool_files_match = Gauge(
            "idms_guard_pool_files_match",
            "1 when the registries files every node of a MachineConfigPool runs mean what the "
            "current mirror sets render; 0 during a rollout or after the operator refused them.",
            ["pool"],
            registry=self.registry,
        )
        self._pools: set[str] = set()
        # Labelled children by label values: `labels()` validates and locks on every call,
        # and an admission answer makes several (the label sets are few and fixed).
        self._answered: dict[tuple[str, Outcome], tuple[Counter, Histogram]] = {}
        self._found: dict[tuple[str, str], Counter] = {}

    def pools(self, verdicts: Iterable[PoolVerdict]) -> None:
        """One gauge per pool; pools that are gone lose theirs."""
        seen = set()
        for verdict in verdicts:
            self.pool_files_match.labels(verdict.pool.name).set(1 if verdict.matches else 0)
            seen.add(verdict.pool.name)
        for gone in self._pools - seen:
            self.pool_files_match.remove(gone)
        self._pools = seen

    def answered(self, endpoint: str, outcome: Outcome, seconds: float) -> None:
        children = self._answered.get((endpoint, outcome))
        if children is None:
            labels = (endpoint, outcome.value)
            children = self.requests.labels(*labels), self.latency.labels(*labels)
            self._answered[(endpoint, outcome)] = children
        children[0].inc()
        children[1].observe(seconds)

    def found(self, reason: str, mode: str) -> None:
        """One image flagged for `reason` in `mode`."""
        child = self._found.get((reason, mode))
        if child is None:
            child = self._found[(reason, mode)] = self.findings.labels(reason, mode)
        child.inc()

    def follow(
        self, state: Callable[[], IndexState], last_sync: Callable[[], float | None] | None
    ) -> None:
        """Read the index state (and the watch's last sync) at each scrape, not per request."""
        self.index_tables.set_function(lambda: len(state().index))
        self.index_rules.set_function(lambda: state().rules)
        self.index_generation.set_function(lambda: state().generation)
        self.last_change.set_function(lambda: state().loaded_at)
        self.last_sync.set_function(lambda: (last_sync() if last_sync else None) or 0.0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

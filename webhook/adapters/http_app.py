"""Flask routes around the core: `/validate/<mode>`, health, readiness and Prometheus metrics.

The app never answers a webhook call with a 500 or a traceback: a body that is not an
AdmissionReview gets 400 with a JSON error; an internal failure while judging a valid
review becomes an answer chosen by `failure_decision` (allow with a warning, or deny
when the operator asked for fail-closed enforcement).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException

from webhook.core.admission import AdmissionRequest, read_review, review_response, validate
from webhook.core.decision import Decision, Mode, Outcome
from webhook.core.explanation import explanation_json
from webhook.core.lookups import Resolution
from webhook.core.mirror_index import IndexState, MirrorIndex
from webhook.core.mutation import mutation_answer, plan_mutation
from webhook.core.patch import encode_patch
from webhook.core.pinning import PinPlan, pin_plan, resolve_pins
from webhook.core.policy import Finding, PolicySettings
from webhook.core.workloads import pull_secret_names
from webhook.errors import AdmissionReviewError

log = logging.getLogger("idms_guard.admission")
EXPLAIN_IMAGES_MAX = 50


class IndexSource(Protocol):
    @property
    def ready(self) -> bool: ...

    @property
    def current(self) -> MirrorIndex: ...

    @property
    def state(self) -> IndexState: ...


class Resolver(Protocol):
    def resolve(
        self,
        images: Sequence[tuple[str, Sequence[str]]],
        timeout: float,
        pull_secrets: Sequence[str] = (),
    ) -> list[Resolution]: ...


PullSecrets = Callable[[str, Sequence[str], float], list[str]]
"""(namespace, secret names, timeout) → their dockerconfigjson documents."""


@dataclass(frozen=True)
class AppSettings:
    policy: PolicySettings
    max_body_bytes: int = 8 * 1024 * 1024
    fail_closed: bool = False
    pin_timeout: float = 2.0
    """Seconds all registry lookups of one request may take; below timeoutSeconds."""
    keep_tag: bool = False
    resolve_from_source: bool = False


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

    def answered(self, endpoint: str, outcome: Outcome, seconds: float) -> None:
        self.requests.labels(endpoint, outcome.value).inc()
        self.latency.labels(endpoint, outcome.value).observe(seconds)


def create_app(
    settings: AppSettings,
    index_source: IndexSource,
    resolver: Resolver | None = None,
    metrics: Metrics | None = None,
    clock: Callable[[], float] = time.perf_counter,
    last_sync: Callable[[], float | None] | None = None,
    pull_secrets: PullSecrets | None = None,
) -> Flask:
    app = Flask("idms_guard")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    metrics = metrics or Metrics()
    metrics.index_tables.set_function(lambda: len(index_source.state.index))
    metrics.index_rules.set_function(lambda: index_source.state.rules)
    metrics.index_generation.set_function(lambda: index_source.state.generation)
    metrics.last_change.set_function(lambda: index_source.state.loaded_at)
    metrics.last_sync.set_function(lambda: (last_sync() if last_sync else None) or 0.0)

    @app.post("/validate/<mode>")
    def validate_endpoint(mode: str) -> Response:
        try:
            chosen = Mode(mode)
        except ValueError:
            return _error(404, f"unknown mode {mode!r}; use enforce, warn or audit")
        started = clock()
        endpoint = f"validate/{chosen.value}"
        try:
            review = read_review(_json_body())
        except AdmissionReviewError as error:
            metrics.answered(endpoint, Outcome.INVALID_REVIEW, clock() - started)
            return _error(400, str(error))
        answer = _judge(review, chosen, index_source, settings, _Registry(resolver, pull_secrets))
        _record(metrics, review, chosen, answer)
        metrics.answered(endpoint, answer.decision.outcome, clock() - started)
        return _json(200, review_response(review.uid, answer.decision))

    @app.post("/mutate")
    def mutate_endpoint() -> Response:
        started = clock()
        try:
            review = read_review(_json_body())
        except AdmissionReviewError as error:
            metrics.answered("mutate", Outcome.INVALID_REVIEW, clock() - started)
            return _error(400, str(error))
        decision, patch = _pin(review, index_source, settings, _Registry(resolver, pull_secrets))
        metrics.answered("mutate", decision.outcome, clock() - started)
        return _json(200, review_response(review.uid, decision, patch))

    @app.get("/explain")
    def explain_endpoint() -> Response:
        """Where the nodes would pull each `image=` from; computed only, no registry is
        contacted (probing through the webhook would make it a proxy into the mirrors)."""
        images = request.args.getlist("image")
        if not images or len(images) > EXPLAIN_IMAGES_MAX:
            return _error(400, f"give 1 to {EXPLAIN_IMAGES_MAX} image= parameters")
        index = index_source.current
        answers = []
        for image in images:
            plan = index.explain(image)
            answer = explanation_json(plan)
            if plan.parse_error:
                answer["error"] = plan.parse_error
            answers.append(answer)
        return _json(200, answers[0] if len(answers) == 1 else answers)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.get("/readyz")
    def readyz() -> Response:
        if index_source.ready:
            return Response("ok\n", mimetype="text/plain")
        return Response("mirror sets not loaded yet\n", status=503, mimetype="text/plain")

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), mimetype=CONTENT_TYPE_LATEST)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return _error(error.code or 500, error.description or error.name)

    return app


@dataclass(frozen=True)
class _Registry:
    """The resolver and, when enabled, where a pod's pull secrets come from."""

    resolver: Resolver | None
    pull_secrets: PullSecrets | None

    def resolve(
        self, review: AdmissionRequest, lookups: Sequence[tuple[str, Sequence[str]]], timeout: float
    ) -> list[Resolution]:
        if self.resolver is None or not lookups:
            return []
        secrets: list[str] = []
        started = time.monotonic()
        if self.pull_secrets is not None:
            names = pull_secret_names(review.group, review.kind, review.object)
            # Reading the secrets may take at most half the time; the lookups get the rest.
            secrets = self.pull_secrets(review.namespace, names, timeout / 2) if names else []
        remaining = max(0.0, timeout - (time.monotonic() - started))
        return self.resolver.resolve(lookups, remaining, pull_secrets=secrets)

    def pins(
        self,
        review: AdmissionRequest,
        plans: Sequence[PinPlan],
        index: MirrorIndex,
        settings: AppSettings,
    ) -> dict[str, Resolution]:
        """Digests for the plans, checked on the digest mirrors, within the pin deadline."""
        return resolve_pins(
            plans,
            index,
            lambda lookups, timeout: self.resolve(review, lookups, timeout),
            settings.pin_timeout,
            time.monotonic,
        )


@dataclass(frozen=True)
class _Answer:
    decision: Decision
    findings: tuple[Finding, ...]


def _judge(
    review: AdmissionRequest,
    mode: Mode,
    index_source: IndexSource,
    settings: AppSettings,
    registry: _Registry,
) -> _Answer:
    try:
        index = index_source.current
        validation = validate(review, mode, index, settings.policy)
        if mode is Mode.AUDIT and registry.resolver is not None and validation.findings:
            digests = _digests_for(review, validation.findings, index, settings, registry)
            if digests:
                validation = validate(review, mode, index, settings.policy, digests)
    except Exception:  # a bug must not block the API server; logged with its traceback
        log.exception("internal error judging %s in %s", review.described, review.namespace)
        return _Answer(failure_decision(mode, settings.fail_closed), ())
    return _Answer(validation.decision, validation.findings)


def _digests_for(
    review: AdmissionRequest,
    findings: Sequence[Finding],
    index: MirrorIndex,
    settings: AppSettings,
    registry: _Registry,
) -> dict[str, str]:
    """For audit: the digests pinning would write for the tags found unmirrored."""
    plans = [pin_plan(finding.site, index, settings.resolve_from_source) for finding in findings]
    resolutions = registry.pins(review, [plan for plan in plans if plan], index, settings)
    return {image: r.digest for image, r in resolutions.items() if r.digest}


def _pin(
    review: AdmissionRequest,
    index_source: IndexSource,
    settings: AppSettings,
    registry: _Registry,
) -> tuple[Decision, str | None]:
    """Pinning never blocks a request: any failure leaves the object as it is."""
    try:
        index = index_source.current
        plan = plan_mutation(review, index, settings.policy, settings.resolve_from_source)
        resolutions = registry.pins(review, plan.plans, index, settings)
        answer = mutation_answer(plan, resolutions, settings.keep_tag)
    except Exception:
        log.exception("internal error pinning %s in %s", review.described, review.namespace)
        text = "idms-guard could not pin this request's images (internal error)"
        return Decision(True, Outcome.NOT_PINNED, warnings=(text,)), None
    if answer.patch:
        log.info(json.dumps(_pin_event(review, answer.patch)))
    return answer.decision, encode_patch(answer.patch) if answer.patch else None


def _pin_event(review: AdmissionRequest, patch: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "event": "pinned",
        "namespace": review.namespace,
        "object": review.described,
        "dry_run": review.dry_run,
        "images": [op["value"] for op in patch if op["op"] == "replace"],
    }


def failure_decision(mode: Mode, fail_closed: bool) -> Decision:
    """The one place where an internal error becomes allow or deny."""
    text = "idms-guard could not check this request's images (internal error)"
    if mode is Mode.ENFORCE and fail_closed:
        return Decision(False, Outcome.DENIED, message=text)
    return Decision(True, Outcome.ALLOWED, warnings=(text,))


def _record(metrics: Metrics, review: AdmissionRequest, mode: Mode, answer: _Answer) -> None:
    """Log and count findings; dry-run requests leave no trace but the request counter."""
    if review.dry_run or not answer.findings:
        return
    for finding in answer.findings:
        metrics.findings.labels(finding.reason.value, mode.value).inc()
    log.info(
        json.dumps(
            {
                "event": "findings",
                "mode": mode.value,
                "outcome": answer.decision.outcome.value,
                "namespace": review.namespace,
                "object": review.described,
                "operation": review.operation,
                "user": review.username,
                "findings": [
                    {
                        "where": f.site.describe(),
                        "image": f.image,
                        "reason": f.reason.value,
                        "fix": f.fix,
                    }
                    for f in answer.findings
                ],
            }
        )
    )


def _json_body() -> Any:
    raw = request.get_data(cache=False)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise AdmissionReviewError(f"the body is not valid JSON: {error}") from None


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})

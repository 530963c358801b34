"""The app around the core: `/validate/<mode>` and `/mutate` (answered in front of Flask by
`http_admission`), and the Flask routes `/explain`, health, readiness and Prometheus
metrics (counted in `http_metrics`; pinning's registry round trip is `http_pinning`,
`--verify-mirror`'s `http_presence`).

The app never answers a webhook call with a 500 or a traceback: a body that is not an
AdmissionReview gets 400 with a JSON error; an internal failure while judging a valid
review becomes an answer chosen by `failure_decision` (allow with a warning, or deny
when the operator asked for fail-closed enforcement).
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from webhook.adapters.http_admission import AdmissionRoutes, Handler, too_large
from webhook.adapters.http_metrics import EXPOSITION_CONTENT_TYPE, Metrics
from webhook.adapters.http_pinning import PullSecrets, Registry, Resolver, audit_digests, pin
from webhook.adapters.http_presence import PresenceMemo, mirror_presence
from webhook.core.admission import AdmissionRequest, read_review, review_response, validate
from webhook.core.decision import Decision, Mode, Outcome
from webhook.core.explanation import explanation_json
from webhook.core.log_events import LogEvent
from webhook.core.mirror_index import IndexState, MirrorIndex
from webhook.core.policy import Finding, PolicySettings
from webhook.core.presence import PresenceVerdict, all_present
from webhook.core.rollout import PoolFiles, rollout_warnings
from webhook.core.workloads import ImageSite
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


@dataclass(frozen=True)
class AppSettings:
    policy: PolicySettings
    max_body_bytes: int = 8 * 1024 * 1024
    fail_closed: bool = False
    pin_timeout: float = 2.0
    """Seconds all registry lookups of one request may take; below timeoutSeconds."""
    keep_tag: bool = False
    resolve_from_source: bool = False
    verify_mirror: bool = False
    """Ask the mirrors whether they hold each routed image (not-in-mirror when none does)."""


def create_app(
    settings: AppSettings,
    index_source: IndexSource,
    resolver: Resolver | None = None,
    metrics: Metrics | None = None,
    clock: Callable[[], float] = time.perf_counter,
    last_sync: Callable[[], float | None] | None = None,
    pull_secrets: PullSecrets | None = None,
    rollout: Callable[[], Sequence[PoolFiles]] | None = None,
) -> Flask:
    """`rollout`: the pools whose nodes run other registries files than the objects
    render; validating answers in warn and enforce mode then warn about the difference."""
    app = Flask("idms_guard")
    # The admission routes read their bodies in `AdmissionRoutes`, with this same limit;
    # Flask's own routes read none today, and one that will is bounded alike.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    metrics = metrics or Metrics()
    metrics.follow(lambda: index_source.state, last_sync)
    presence_memo = PresenceMemo()

    def validate_review(mode: Mode, body: bytes) -> tuple[int, Any]:
        started = clock()
        endpoint = f"validate/{mode.value}"
        try:
            review = read_review(_parsed(body))
        except AdmissionReviewError as error:
            metrics.answered(endpoint, Outcome.INVALID_REVIEW, clock() - started)
            return 400, {"error": str(error)}
        registry = Registry(resolver, pull_secrets)
        answer = _judge(review, mode, index_source, settings, registry, presence_memo)
        _record(metrics, review, mode, answer)
        metrics.answered(endpoint, answer.decision.outcome, clock() - started)
        told = _rollout(answer, mode, index_source, settings, rollout)
        return 200, review_response(review.uid, answer.decision, warnings=told)

    def mutate_review(body: bytes) -> tuple[int, Any]:
        started = clock()
        try:
            review = read_review(_parsed(body))
        except AdmissionReviewError as error:
            metrics.answered("mutate", Outcome.INVALID_REVIEW, clock() - started)
            return 400, {"error": str(error)}
        decision, patch = pin(review, index_source, settings, Registry(resolver, pull_secrets))
        metrics.answered("mutate", decision.outcome, clock() - started)
        return 200, review_response(review.uid, decision, patch)

    routes: dict[str, Handler] = {
        f"/validate/{mode.value}": functools.partial(validate_review, mode) for mode in Mode
    }
    routes["/mutate"] = mutate_review
    app.wsgi_app = AdmissionRoutes(  # type: ignore[method-assign]
        app.wsgi_app, routes, settings.max_body_bytes
    )

    @app.post("/validate/<mode>")
    def unknown_mode(mode: str) -> Response:
        """Reached only by a mode `AdmissionRoutes` does not serve."""
        return _error(404, f"unknown mode {mode!r}; use enforce, warn or audit")

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
        return Response(metrics.exposition(), mimetype=EXPOSITION_CONTENT_TYPE)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large_body(_exception: RequestEntityTooLarge) -> Response:
        return _error(413, too_large(settings.max_body_bytes))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return _error(error.code or 500, error.description or error.name)

    return app


@dataclass(frozen=True)
class _Answer:
    decision: Decision
    findings: tuple[Finding, ...]
    presence: Mapping[str, PresenceVerdict] = field(default_factory=dict)
    sites: tuple[ImageSite, ...] = ()


def _judge(
    review: AdmissionRequest,
    mode: Mode,
    index_source: IndexSource,
    settings: AppSettings,
    registry: Registry,
    presence_memo: PresenceMemo,
) -> _Answer:
    """Judge the configuration; then, within one registry deadline, ask the mirrors
    (`--verify-mirror`) and, for audit, find the digests pinning would write."""
    try:
        index = index_source.current
        validation = validate(review, mode, index, settings.policy)
        if registry.resolver is None:
            return _Answer(validation.decision, validation.findings, sites=validation.sites)
        deadline = time.monotonic() + settings.pin_timeout
        presence: dict[str, PresenceVerdict] = {}
        if settings.verify_mirror and validation.sites:
            presence = mirror_presence(
                review, validation, index, registry, settings.pin_timeout, presence_memo,
                settings.resolve_from_source,
            )  # fmt: skip
        digests: dict[str, str] = {}
        if mode is Mode.AUDIT and validation.findings:
            left = replace(settings, pin_timeout=max(0.0, deadline - time.monotonic()))
            digests = audit_digests(review, validation.findings, index, left, registry)
        if digests or not all_present(presence):  # else the answer stands as it is
            validation = validate(review, mode, index, settings.policy, digests, presence)
    except Exception:  # a bug must not block the API server; logged with its traceback
        log.exception("internal error judging %s in %s", review.described, review.namespace)
        return _Answer(failure_decision(mode, settings.fail_closed), ())
    return _Answer(validation.decision, validation.findings, presence, validation.sites)


def _rollout(
    answer: _Answer,
    mode: Mode,
    index_source: IndexSource,
    settings: AppSettings,
    rollout: Callable[[], Sequence[PoolFiles]] | None,
) -> tuple[str, ...]:
    """Warnings for images whose verdict a rollout in progress changes; never a denial,
    silent in audit mode, and never the reason a request fails."""
    if rollout is None or mode is Mode.AUDIT or not answer.sites:
        return ()
    try:
        return rollout_warnings(answer.sites, index_source.current, rollout(), settings.policy)
    except Exception:
        log.exception("internal error comparing with the pools' files; no rollout warning")
        return ()


def failure_decision(mode: Mode, fail_closed: bool) -> Decision:
    """The one place where an internal error becomes allow or deny."""
    text = "idms-guard could not check this request's images (internal error)"
    if mode is Mode.ENFORCE and fail_closed:
        return Decision(False, Outcome.DENIED, message=text)
    return Decision(True, Outcome.ALLOWED, warnings=(text,))


def _record(metrics: Metrics, review: AdmissionRequest, mode: Mode, answer: _Answer) -> None:
    """Log and count findings; dry-run requests leave no trace but the request counter."""
    if review.dry_run:
        return
    counts = Counter(verdict.presence.value for verdict in answer.presence.values())
    for outcome, count in counts.items():  # one labelled increment per outcome, not per image
        metrics.mirror_checks.labels(outcome).inc(count)
    if not answer.findings:
        return
    for finding in answer.findings:
        metrics.found(finding.reason.value, mode.value)
    findings = [
        {"where": f.site.describe(), "image": f.image, "reason": f.reason.value, "fix": f.fix}
        for f in answer.findings
    ]
    event = {
        "event": "findings",
        "mode": mode.value,
        "outcome": answer.decision.outcome.value,
        "namespace": review.namespace,
        "object": review.described,
        "operation": review.operation,
        "user": review.username,
        "findings": findings,
    }
    log.info("%s", LogEvent(event))


def _parsed(body: bytes) -> Any:
    try:
        # orjson: a review is parsed on every call, and this is most of its cost in Python.
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:  # also invalid UTF-8 and nesting past 1024
        raise AdmissionReviewError(f"the body is not valid JSON: {error}") from None


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})

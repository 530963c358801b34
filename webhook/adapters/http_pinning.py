"""Pinning as the `/mutate` route (and audit's digests) runs it: read the pod's pull
secrets, resolve tags on the mirrors within the pin deadline, build the patch.

The routes in `http_app` stay about HTTP; this module is about the registry round trip a
request may wait for. Pinning never blocks a request: any failure leaves the object as it
is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from webhook.core.admission import AdmissionRequest
from webhook.core.decision import Decision, Outcome
from webhook.core.log_events import LogEvent
from webhook.core.lookups import Resolution
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mutation import mutation_answer, plan_mutation
from webhook.core.patch import encode_patch
from webhook.core.pinning import PinPlan, pin_plan, resolve_pins
from webhook.core.policy import Finding, PolicySettings
from webhook.core.workloads import pull_secret_names

log = logging.getLogger("idms_guard.admission")


class Resolver(Protocol):
    def resolve(
        self,
        images: Sequence[tuple[str, Sequence[str]]],
        timeout: float,
        pull_secrets: Sequence[str] = (),
    ) -> list[Resolution]: ...


PullSecrets = Callable[[str, Sequence[str], float], list[str]]
"""(namespace, secret names, timeout) → their dockerconfigjson documents."""


class PinSettings(Protocol):
    """The part of the app's settings pinning reads."""

    @property
    def policy(self) -> PolicySettings: ...

    @property
    def pin_timeout(self) -> float: ...

    @property
    def keep_tag(self) -> bool: ...

    @property
    def resolve_from_source(self) -> bool: ...


class CurrentIndex(Protocol):
    @property
    def current(self) -> MirrorIndex: ...


@dataclass(frozen=True)
class Registry:
    """The resolver and, when enabled, where a pod's pull secrets come from."""

    resolver: Resolver | None
    pull_secrets: PullSecrets | None

    def secrets(self, review: AdmissionRequest, timeout: float) -> list[str]:
        """The pod's pull secrets (dockerconfigjson documents) when enabled, else none."""
        if self.resolver is None or self.pull_secrets is None:
            return []
        names = pull_secret_names(review.group, review.kind, review.object)
        return self.pull_secrets(review.namespace, names, timeout) if names else []

    def resolve(
        self,
        review: AdmissionRequest,
        lookups: Sequence[tuple[str, Sequence[str]]],
        timeout: float,
        secrets: Sequence[str] | None = None,
    ) -> list[Resolution]:
        """`secrets`: the pod's pull secrets when the caller read them already."""
        if self.resolver is None or not lookups:
            return []
        started = time.monotonic()
        if secrets is None:
            # Reading the secrets may take at most half the time; the lookups get the rest.
            secrets = self.secrets(review, timeout / 2)
        remaining = max(0.0, timeout - (time.monotonic() - started))
        return self.resolver.resolve(lookups, remaining, pull_secrets=secrets)

    def pins(
        self,
        review: AdmissionRequest,
        plans: Sequence[PinPlan],
        index: MirrorIndex,
        settings: PinSettings,
    ) -> dict[str, Resolution]:
        """Digests for the plans, checked on the digest mirrors, within the pin deadline."""
        return resolve_pins(
            plans,
            index,
            lambda lookups, timeout: self.resolve(review, lookups, timeout),
            settings.pin_timeout,
            time.monotonic,
        )


def audit_digests(
    review: AdmissionRequest,
    findings: Sequence[Finding],
    index: MirrorIndex,
    settings: PinSettings,
    registry: Registry,
) -> dict[str, str]:
    """For audit: the digests pinning would write for the tags found unmirrored."""
    plans = [pin_plan(finding.site, index, settings.resolve_from_source) for finding in findings]
    resolutions = registry.pins(review, [plan for plan in plans if plan], index, settings)
    return {image: r.digest for image, r in resolutions.items() if r.digest}


def pin(
    review: AdmissionRequest,
    index_source: CurrentIndex,
    settings: PinSettings,
    registry: Registry,
) -> tuple[Decision, str | None]:
    """The `/mutate` decision and JSON patch (None: leave the object as it is)."""
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
        log.info("%s", LogEvent(_pin_event(review, answer.patch)))
    return answer.decision, encode_patch(answer.patch) if answer.patch else None


def _pin_event(review: AdmissionRequest, patch: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "event": "pinned",
        "namespace": review.namespace,
        "object": review.described,
        "dry_run": review.dry_run,
        "images": [op["value"] for op in patch if op["op"] == "replace"],
    }

"""The mutating webhook as pure steps: which images to pin, then the answer once digests
are known. The registry lookups in between belong to the resolver adapter.

Never mutated: a ReplicaSet or ReplicationController owned by a controller (its
Deployment/DeploymentConfig is pinned instead; patching the child starts a fight with
the controller), an UPDATE that changed no image (GitOps tools would see drift on every
sync), exempt namespaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.core.admission import AdmissionRequest
from webhook.core.decision import Decision, Outcome, abbreviated, within_budget
from webhook.core.lookups import Resolution
from webhook.core.mirror_index import MirrorIndex
from webhook.core.patch import image_patch
from webhook.core.pinning import PinPlan, pinned_image, unexempt_pin_plan
from webhook.core.policy import PolicySettings, namespace_exempt
from webhook.core.workloads import SUPPORTED_KINDS, changed_sites, image_sites, owned_by_controller

_CONTROLLED_KINDS = {("apps", "ReplicaSet"), ("", "ReplicationController")}


@dataclass(frozen=True, slots=True)
class MutationPlan:
    request: AdmissionRequest
    skipped: Outcome | None
    plans: tuple[PinPlan, ...] = ()


@dataclass(frozen=True, slots=True)
class MutationAnswer:
    decision: Decision
    patch: list[dict[str, Any]]


def plan_mutation(
    request: AdmissionRequest,
    index: MirrorIndex,
    settings: PolicySettings,
    include_source: bool = False,
) -> MutationPlan:
    workload = (request.group, request.kind)
    if workload not in SUPPORTED_KINDS or request.operation not in ("CREATE", "UPDATE"):
        return MutationPlan(request, Outcome.NOT_A_WORKLOAD)
    if namespace_exempt(request.namespace, settings):
        return MutationPlan(request, Outcome.EXEMPT)
    if workload in _CONTROLLED_KINDS and owned_by_controller(request.object):
        return MutationPlan(request, Outcome.CONTROLLER_OWNED)
    if request.operation == "UPDATE":
        sites = changed_sites(request.group, request.kind, request.object, request.old_object)
        if not sites:
            return MutationPlan(request, Outcome.UNCHANGED)
    else:
        sites = image_sites(request.group, request.kind, request.object)
    planned = (unexempt_pin_plan(site, index, settings, include_source) for site in sites)
    plans = tuple(plan for plan in planned if plan)
    if not plans:
        return MutationPlan(request, Outcome.NOTHING_TO_PIN)
    return MutationPlan(request, None, plans)


def mutation_answer(
    plan: MutationPlan, resolutions: Mapping[str, Resolution], keep_tag: bool = False
) -> MutationAnswer:
    if plan.skipped is not None:
        return MutationAnswer(Decision(True, plan.skipped), [])
    replacements: dict[str, tuple[str, str]] = {}
    notes: list[str] = []
    for pin in plan.plans:
        resolution = resolutions.get(pin.image)
        if resolution is not None and resolution.digest:
            replacements[pin.site.pointer] = (
                pin.image,
                pinned_image(pin.image, resolution.digest, keep_tag),
            )
            continue
        reason = pin.unpinnable or (resolution.reason if resolution else "not looked up")
        notes.append(f"{pin.site.describe()}: {abbreviated(pin.image)}: not pinned: {reason}")
    if not replacements:
        outcome = Outcome.NOT_PINNED
    else:
        outcome = Outcome.PARTLY_PINNED if notes else Outcome.PINNED
    decision = Decision(True, outcome, warnings=within_budget(notes, "images not pinned"))
    return MutationAnswer(decision, image_patch(plan.request.object, replacements))

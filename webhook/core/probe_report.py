"""`explain --probe`: what each pull candidate answers, and which one the node ends up using.

The node tries candidates in order and takes the first that has the image, so the first
FOUND candidate is where it pulls from; when none has it, the first problem in that same
order is the one to fix first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.core.explanation import explanation_json, policy_words
from webhook.core.lookups import Lookup, LookupOutcome
from webhook.core.mirror_index import ImagePlan, PullCandidate, PullPlan, Role
from webhook.core.signature_policy import PolicyOutcome

_ADVICE = {
    LookupOutcome.NOT_FOUND: "is not there: mirror it (oc-mirror) or fix the mirror path",
    LookupOutcome.UNAUTHORIZED: "refuses the credentials: check the pull secret for {host}",
    LookupOutcome.UNREACHABLE: "cannot be reached: check DNS, network policy and the CA for {host}",
    LookupOutcome.TIMEOUT: "does not answer in time: check {host}",
    LookupOutcome.BAD_ANSWER: "answers something that is not a registry manifest: check {host}",
}


def pulls_from(plan: ImagePlan, probes: Mapping[str, Lookup]) -> PullCandidate | None:
    """The first candidate that has the image, unless the node's signature policy rejects
    the reference it stands for: then CRI-O moves on to the next short-name expansion."""
    for pull in plan.plans:
        for candidate in _found(pull, probes):
            if not _rejected(pull):
                return candidate
    return None


def _found(pull: PullPlan, probes: Mapping[str, Lookup]) -> list[PullCandidate]:
    candidates = pull.candidates if pull.error is None else ()
    return [
        c
        for c in candidates
        if not c.blocked
        and (probe := probes.get(c.pull_spec)) is not None
        and probe.outcome is LookupOutcome.FOUND
    ][:1]


def _rejected(pull: PullPlan) -> bool:
    return pull.policy is not None and pull.policy.outcome is PolicyOutcome.REJECTED


def first_problem(plan: ImagePlan, probes: Mapping[str, Lookup], policy_advice: str = "") -> str:
    """The sentence to act on; empty when the node finds the image. When no mirror is even
    tried (a tag with digest-only mirrors, say), the policy's advice is the problem to fix,
    not the unreachable source."""
    if plan.parse_error:
        return plan.parse_error
    if pulls_from(plan, probes) is not None:
        return ""
    for pull in plan.plans:
        for candidate in _found(pull, probes):
            assert pull.policy is not None  # only a rejected pull's find is passed over
            return (
                f"the node fetches {candidate.pull_spec}, then refuses it: "
                f"{pull.policy.describe()}" + (f"; {policy_advice}" if policy_advice else "")
            )
    if policy_advice and not any(
        c.role is Role.MIRROR and not c.blocked for c in _candidates(plan)
    ):
        return policy_advice
    for candidate in _candidates(plan):
        probe = probes.get(candidate.pull_spec)
        if candidate.blocked or probe is None:
            continue
        host = candidate.pull_spec.split("/", 1)[0]
        advice = _ADVICE[probe.outcome].format(host=host)
        return f"{candidate.role.value} {candidate.pull_spec} {advice}"
    if any(pull.error for pull in plan.plans):
        return next(pull.error for pull in plan.plans if pull.error) or ""
    return "every candidate is blocked: add a mirror that is not in a blocked scope"


def probe_lines(
    plan: ImagePlan, probes: Mapping[str, Lookup], policy_advice: str = ""
) -> list[str]:
    lines = [plan.image]
    chosen = pulls_from(plan, probes)
    for number, candidate in enumerate(_candidates(plan), start=1):
        state = _state(candidate, probes)
        lines.append(f"  {number}. {candidate.role.value:<6} {candidate.pull_spec}  {state}")
    for pull in plan.plans:
        if pull.policy is not None:
            lines.append(f"  {pull.reference}: {policy_words(pull.policy)}")
    if chosen is not None:
        lines.append(f"  the node pulls from {chosen.pull_spec}")
    else:
        lines.append(f"  the pull fails; fix first: {first_problem(plan, probes, policy_advice)}")
    return lines


def probe_json(
    plan: ImagePlan, probes: Mapping[str, Lookup], policy_advice: str = ""
) -> dict[str, Any]:
    answer = explanation_json(plan)
    for candidate, entry in zip(_candidates(plan), answer["candidates"], strict=True):
        probe = probes.get(candidate.pull_spec)
        entry["probe"] = (
            {"outcome": "blocked"}
            if candidate.blocked or probe is None
            else {"outcome": probe.outcome.value, "digest": probe.digest, "detail": probe.detail}
        )
    chosen = pulls_from(plan, probes)
    answer["pulls_from"] = chosen.pull_spec if chosen else None
    answer["first_problem"] = first_problem(plan, probes, policy_advice) or None
    return answer


def _candidates(plan: ImagePlan) -> list[PullCandidate]:
    return [c for pull in plan.plans if pull.error is None for c in pull.candidates]


def _state(candidate: PullCandidate, probes: Mapping[str, Lookup]) -> str:
    probe = probes.get(candidate.pull_spec)
    if candidate.blocked or probe is None:
        return "blocked (never contacted)"
    if probe.outcome is LookupOutcome.FOUND:
        return f"found {probe.digest}"
    return f"{probe.outcome.value}: {probe.detail}" if probe.detail else probe.outcome.value

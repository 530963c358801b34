"""The words for `registry-not-allowed`: the node's signature policy rejects the image.

containers/image judges the reference the pod names after the manifest came from a
mirror, so a source in `blockedRegistries` (or missing from `allowedRegistries`) fails
even when its mirror serves the image. The message names the setting and the two ways
out: change the setting, or name the mirror directly when the policy accepts that name.
"""

from __future__ import annotations

from webhook.core.image_config_schema import IMAGE_ORIGIN
from webhook.core.image_reference import parse_canonical
from webhook.core.mirror_index import MirrorIndex, PullPlan, Role
from webhook.core.signature_policy import PolicyOutcome


def rejection_finding(plan: PullPlan, index: MirrorIndex) -> tuple[str, str, str] | None:
    """(problem, fix, hint) when the policy rejects the plan's reference, else None."""
    verdict = plan.policy
    if verdict is None or verdict.outcome is not PolicyOutcome.REJECTED:
        return None
    mirror = next((c.pull_spec for c in plan.reachable if c.role is Role.MIRROR), None)
    through = (
        f"the pull through {mirror} fails at the signature policy"
        if mirror
        else "the node refuses it at the signature policy"
    )
    policy = index.signature_policy
    domain = plan.reference.domain
    if policy is not None and policy.origin == IMAGE_ORIGIN:
        if verdict.scope is None:
            problem = f"{domain} is not in allowedRegistries of {IMAGE_ORIGIN}: {through}"
            fix = f"add {domain} (the registry the pod names, not its mirror) to allowedRegistries"
        else:
            problem = f"{verdict.scope} is in blockedRegistries of {IMAGE_ORIGIN}: {through}"
            fix = f"remove {verdict.scope} from blockedRegistries"
    else:
        wanted = ", ".join(
            sorted({t.value for t in verdict.requirements if t.value != "insecureAcceptAnything"})
        )
        problem = (
            f"the node's policy.json rejects it ({verdict.where} requires {wanted}): {through}"
        )
        fix = f"change {verdict.where} in the node's policy.json"
    if mirror is not None and _accepted(index, mirror):
        fix += f", or pull by the mirror's own name: {mirror}"
    return problem, fix, "signature policy rejects this registry"


def _accepted(index: MirrorIndex, pull_spec: str) -> bool:
    verdict = index.policy_verdict(parse_canonical(pull_spec))
    return verdict is None or verdict.outcome is not PolicyOutcome.REJECTED

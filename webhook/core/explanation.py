"""Words for a pull plan: what `idms-guard explain` prints, instead of a node debug session.

The verdict line answers the question people open `oc debug node/…` for: will this pull
reach a mirror, and if not, why not (the usual answer: IDMS mirrors serve digests only).
"""

from __future__ import annotations

from typing import Any

from webhook.core.image_config_schema import IMAGE_ORIGIN
from webhook.core.mirror_index import ImagePlan, MirrorIndex, PullCandidate, PullPlan, Role
from webhook.core.policy import Finding, PolicySettings, image_finding
from webhook.core.registry_tables import RegistryTable
from webhook.core.signature_policy import PolicyOutcome, PolicyVerdict
from webhook.core.workloads import ContainerType, ImageSite


def explanation_json(plan: ImagePlan) -> dict[str, Any]:
    """`explain --json`: one object per image; a short name's expansions are concatenated,
    since the node tries them one after the other. With a signature policy (Image/cluster
    or a node's policy.json) a fully-qualified image gets `policy`, and a short name gets
    `expansions` in search order, each with its own candidates and `policy`."""
    first = plan.plans[0] if plan.plans else None
    answer: dict[str, Any] = {
        "image": plan.image,
        "reference": str(first.reference) if first else None,
        "by_digest": first.reference.by_digest if first else False,
        "candidates": [
            _candidate_json(candidate)
            for pull in plan.plans
            if pull.error is None
            for candidate in pull.candidates
        ],
    }
    if not any(pull.policy is not None for pull in plan.plans):
        return answer
    if plan.short_name:
        answer["expansions"] = [
            {
                "reference": str(pull.reference),
                "candidates": [_candidate_json(c) for c in pull.candidates],
                "policy": pull.policy.describe() if pull.policy else None,
            }
            for pull in plan.plans
        ]
    elif first is not None and first.policy is not None:
        answer["policy"] = first.policy.describe()
    return answer


def _candidate_json(candidate: PullCandidate) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "pull_spec": candidate.pull_spec,
        "role": candidate.role.value,
        "blocked": candidate.blocked,
        "from": list(candidate.origins),
    }
    if candidate.insecure:
        entry["insecure"] = True
    return entry


def explanation_lines(plan: ImagePlan, index: MirrorIndex) -> list[str]:
    if plan.parse_error:
        return [f"{plan.image}", f"  cannot be pulled: {plan.parse_error}"]
    lines = [plan.image]
    if plan.alias:
        lines.append(
            f"  short name: the node's alias makes it {plan.alias} (an alias wins over the "
            "search registries); write the registry to be sure"
        )
    elif plan.short_name:
        registries = ", ".join(index.search_registries) or "none configured: the pull fails"
        lines.append(
            f"  short name: the node tries each search registry in turn ({registries}),"
            f" {index.vocabulary.unaliased}; write the registry to be sure"
        )
    for pull in plan.plans:
        lines.extend(_pull_lines(pull, index, indent="    " if plan.short_name else "  "))
    return lines


def policy_line(finding: Finding | None) -> str:
    """What the webhook would say about the image, the line people look for."""
    if finding is None:
        return "✓ the webhook lets it through: a mirror serves this pull"
    return f"✗ {finding.reason.value}: {finding.problem}; {finding.fix}"


def finding_for_image(image: str, index: MirrorIndex, settings: PolicySettings) -> Finding | None:
    """The webhook's judgement of one image as written in any container."""
    site = ImageSite("", "", ContainerType.CONTAINER, image)
    return image_finding(site, index, settings)


def verdict(pull: PullPlan, index: MirrorIndex) -> str:
    kind = "by digest" if pull.reference.by_digest else "by tag"
    if pull.error:
        return f"{kind}: the pull fails before contacting anything: {pull.error}"
    mirrors = [c for c in pull.candidates if c.role is Role.MIRROR and not c.blocked]
    source = pull.candidates[-1]
    tries = f"tries {_count(len(mirrors), 'mirror')}"
    if mirrors and not source.blocked:
        return f"{kind}: {tries}, then the source"
    if mirrors:
        return f"{kind}: {tries} only; the source is blocked ({_blocked_by(source, index)})"
    why = _why_no_mirror(pull, index)
    if source.blocked:
        return f"{kind}: the pull fails: no mirror applies{why} and the source is blocked"
    return f"{kind}: no mirror applies{why}; pulls straight from the source"


def policy_words(policy: PolicyVerdict) -> str:
    """The signature-policy line: judged on the name the pod wrote, not the mirror's."""
    if policy.outcome is PolicyOutcome.ACCEPTED:
        return f"signature policy: accepted ({policy.where})"
    if policy.outcome is PolicyOutcome.NEEDS_SIGNATURE:
        return f"signature policy: {policy.describe()}; the node pulls it only if signed"
    return (
        f"signature policy: {policy.describe()}; the node fetches the manifest, "
        "then refuses the image, even from a mirror"
    )


def _blocked_by(candidate: PullCandidate, index: MirrorIndex) -> str:
    if IMAGE_ORIGIN in candidate.origins:
        return f"blockedRegistries of {IMAGE_ORIGIN}"
    return index.vocabulary.blocking.format(origin=", ".join(candidate.origins))


def _pull_lines(pull: PullPlan, index: MirrorIndex, indent: str) -> list[str]:
    header = f"{indent[:-2]}→ {pull.reference}"
    if pull.matched_prefix:
        header += f"  (matches {pull.matched_prefix})"
    lines = [header]
    width = max((len(c.pull_spec) for c in pull.candidates), default=0)
    for number, candidate in enumerate(pull.candidates, start=1):
        lines.append(f"{indent}{number}. {_describe(candidate, width)}".rstrip())
    lines.append(f"{indent}{verdict(pull, index)}")
    if pull.policy is not None:
        lines.append(f"{indent}{policy_words(pull.policy)}")
    for shadowed in index.matching_tables(pull.reference.name)[1:]:
        lines.append(
            f"{indent}note: the broader entry for {shadowed.prefix} ({_origins_of(shadowed)}) "
            f"does not apply: only the most specific, {pull.matched_prefix}, counts"
        )
    return lines


def _origins_of(table: RegistryTable) -> str:
    names = {origin for mirror in table.mirrors for origin in mirror.origins}
    return ", ".join(sorted(names | set(table.blocked_by)))


def _describe(candidate: PullCandidate, width: int) -> str:
    origins = ", ".join(candidate.origins)
    if candidate.blocked:
        note = "[blocked, never contacted" + (f": {origins}]" if origins else "]")
    else:
        note = f"(from {origins})" if origins else ""
    if candidate.insecure:
        note = f"{note} [insecure: TLS not verified]".lstrip()
    return f"{candidate.role.value:<6} {candidate.pull_spec:<{width}}  {note}"


def _why_no_mirror(pull: PullPlan, index: MirrorIndex) -> str:
    table = index.find_table(pull.reference.name)
    if table is None or pull.reference.by_digest:
        return ""
    if any(mirror.for_digests for mirror in table.mirrors):
        return f" ({index.vocabulary.digest_only_note})"
    return ""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")

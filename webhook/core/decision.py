"""Findings → the answer for one mode: deny (enforce), warn, or record silently (audit).

Limits come from the API server: it shows each admission warning up to a length and the
whole set within a budget (we keep each <= 120 characters and the set <= 4096), and audit
annotation keys are qualified-name parts (no `/`, <= 63 characters), prefixed by the
server with the webhook's name. Audit annotations are stored with the audit event of every
request, so they get a budget too (keys and values <= 8 KiB all told).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from webhook.core.policy import Finding, Reason
from webhook.core.presence import Presence, PresenceVerdict
from webhook.core.workloads import ImageSite

WARNING_LENGTH_MAX = 120
WARNINGS_TOTAL_MAX = 4096
DENY_LINES_MAX = 30
ANNOTATION_VALUE_MAX = 1024
ANNOTATIONS_TOTAL_MAX = 8192
MORE_FINDINGS_KEY = "more-findings"
ANNOTATION_TAIL_MAX = 80  # the key and "… and N more findings not recorded"
_ROUTING_REASONS = frozenset(Reason) - {Reason.NOT_IN_MIRROR, Reason.REGISTRY_NOT_ALLOWED}


class Mode(Enum):
    ENFORCE = "enforce"
    WARN = "warn"
    AUDIT = "audit"


class Outcome(Enum):
    """How a request ended; the same names appear in responses, logs, metrics and tests."""

    ALLOWED = "allowed"
    WARNED = "warned"
    DENIED = "denied"
    AUDITED = "audited"
    EXEMPT = "exempt"
    UNCHANGED = "unchanged"
    NOT_A_WORKLOAD = "not-a-workload"
    INVALID_REVIEW = "invalid-review"
    PINNED = "pinned"
    PARTLY_PINNED = "partly-pinned"
    NOTHING_TO_PIN = "nothing-to-pin"
    NOT_PINNED = "not-pinned"
    CONTROLLER_OWNED = "controller-owned"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    outcome: Outcome
    message: str = ""
    warnings: tuple[str, ...] = ()
    audit_annotations: Mapping[str, str] = field(default_factory=dict)


def decide(mode: Mode, findings: Sequence[Finding], cautions: Sequence[str] = ()) -> Decision:
    """`cautions` are checks that could not be made (a mirror that could not be asked):
    warned about in enforce and warn mode, never a reason to deny, silent in audit."""
    told = within_budget(cautions, "images not verified") if mode is not Mode.AUDIT else ()
    if not findings:
        return Decision(True, Outcome.ALLOWED, warnings=told)
    if mode is Mode.ENFORCE:
        return Decision(False, Outcome.DENIED, message=deny_message(findings), warnings=told)
    if mode is Mode.WARN:
        return Decision(True, Outcome.WARNED, warnings=warnings_for(findings, cautions))
    return Decision(True, Outcome.AUDITED, audit_annotations=audit_annotations(findings))


def deny_message(findings: Sequence[Finding]) -> str:
    count = len(findings)
    noun = "image" if count == 1 else "images"
    lines = [f"idms-guard: {count} {noun} {_what_goes_wrong(findings)}:"]
    lines += [f"- {line_for(finding)}" for finding in findings[:DENY_LINES_MAX]]
    if count > DENY_LINES_MAX:
        lines.append(f"- … and {count - DENY_LINES_MAX} more")
    return "\n".join(lines)


def _what_goes_wrong(findings: Sequence[Finding]) -> str:
    """The headline fits every line below it: an image routed to a mirror that lacks it, or
    one the node's signature policy rejects, is not an image missing a mirror."""
    if all(finding.reason in _ROUTING_REASONS for finding in findings):
        return "would not be pulled through a mirror"
    return "would fail to pull on the nodes"


def line_for(finding: Finding) -> str:
    return f"{finding.site.describe()}: {finding.image}: {finding.problem}; {finding.fix}"


def warnings_for(findings: Sequence[Finding], cautions: Sequence[str] = ()) -> tuple[str, ...]:
    texts = [
        f"{finding.site.describe()}: {abbreviated(finding.image)}: {finding.hint}"
        for finding in findings
    ]
    what = "images not served by a mirror" + (" or not verified" if cautions else "")
    return within_budget([*texts, *cautions], what)


def cautions_for(sites: Sequence[ImageSite], presence: Mapping[str, PresenceVerdict]) -> list[str]:
    """One warning per site whose mirrors could not be asked whether they hold it."""
    cautions = []
    for site in sites:
        verdict = presence.get(site.image or "")
        if verdict is not None and verdict.presence is Presence.UNKNOWN:
            image = abbreviated(site.image or "")
            cautions.append(f"{site.describe()}: {image}: mirror not checked: {verdict.reason}")
    return cautions


def within_budget(texts: Sequence[str], what: str) -> tuple[str, ...]:
    """Warnings as the API server passes them on: each shortened to 120 characters, and all
    together within 4096, the last one saying how many did not fit."""
    warnings = [shortened(text, WARNING_LENGTH_MAX) for text in texts]
    shown = _fitting([len(text) for text in warnings], WARNINGS_TOTAL_MAX, WARNING_LENGTH_MAX)
    if shown == len(warnings):
        return tuple(warnings)
    return (*warnings[:shown], f"… and {len(warnings) - shown} more {what}")


def audit_annotations(findings: Sequence[Finding]) -> dict[str, str]:
    """The API server stores these in the audit event of every request: each value within
    1024 characters and all within 8 KiB, the last one saying how many were left out."""
    pairs = []
    for number, finding in enumerate(findings):
        value = f"{finding.site.describe()} {finding.image}: {finding.fix}"
        if finding.digest:
            value += f"; pinning would write {finding.digest}"
        pairs.append((f"{finding.reason.value}-{number}", shortened(value, ANNOTATION_VALUE_MAX)))
    sizes = [len(key) + len(value) for key, value in pairs]
    shown = _fitting(sizes, ANNOTATIONS_TOTAL_MAX, ANNOTATION_TAIL_MAX)
    annotations = dict(pairs[:shown])
    if shown < len(pairs):
        annotations[MORE_FINDINGS_KEY] = f"… and {len(pairs) - shown} more findings not recorded"
    return annotations


def _fitting(sizes: Sequence[int], total: int, tail: int) -> int:
    """How many items, from the first, fit within `total`, leaving room for a `tail` that
    says how many more there are whenever some do not fit."""
    used = 0
    for number, size in enumerate(sizes):
        room_for_tail = tail if number < len(sizes) - 1 else 0
        if used + size + room_for_tail > total:
            return number
        used += size
    return len(sizes)


def abbreviated(image: str) -> str:
    """Digests take 71 of a warning's 120 characters; 12 hex digits identify one."""
    name, at, digest = image.partition("@")
    algorithm, colon, encoded = digest.partition(":")
    if at and colon and len(encoded) > 12:
        return f"{name}@{algorithm}:{encoded[:12]}…"
    return image


def shortened(text: str, limit: int = WARNING_LENGTH_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

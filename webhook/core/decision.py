"""Findings → the answer for one mode: deny (enforce), warn, or record silently (audit).

Limits come from the API server: it shows each admission warning up to a length and the
whole set within a budget (we keep each <= 120 characters and the set <= 4096), and audit
annotation keys are qualified-name parts (no `/`, <= 63 characters), prefixed by the
server with the webhook's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from webhook.core.policy import Finding

WARNING_LENGTH_MAX = 120
WARNINGS_TOTAL_MAX = 4096
DENY_LINES_MAX = 30
ANNOTATION_VALUE_MAX = 1024


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


def decide(mode: Mode, findings: Sequence[Finding]) -> Decision:
    if not findings:
        return Decision(True, Outcome.ALLOWED)
    if mode is Mode.ENFORCE:
        return Decision(False, Outcome.DENIED, message=deny_message(findings))
    if mode is Mode.WARN:
        return Decision(True, Outcome.WARNED, warnings=warnings_for(findings))
    return Decision(True, Outcome.AUDITED, audit_annotations=audit_annotations(findings))


def deny_message(findings: Sequence[Finding]) -> str:
    count = len(findings)
    noun = "image" if count == 1 else "images"
    lines = [f"idms-guard: {count} {noun} would not be pulled through a mirror:"]
    lines += [f"- {line_for(finding)}" for finding in findings[:DENY_LINES_MAX]]
    if count > DENY_LINES_MAX:
        lines.append(f"- … and {count - DENY_LINES_MAX} more")
    return "\n".join(lines)


def line_for(finding: Finding) -> str:
    return f"{finding.site.describe()}: {finding.image}: {finding.problem}; {finding.fix}"


def warnings_for(findings: Sequence[Finding]) -> tuple[str, ...]:
    texts = [
        f"{finding.site.describe()}: {abbreviated(finding.image)}: {finding.hint}"
        for finding in findings
    ]
    return within_budget(texts, "images not served by a mirror")


def within_budget(texts: Sequence[str], what: str) -> tuple[str, ...]:
    """Warnings as the API server passes them on: each shortened to 120 characters, and all
    together within 4096, the last one saying how many did not fit."""
    warnings: list[str] = []
    used = 0
    for number, text in enumerate(texts):
        text = shortened(text, WARNING_LENGTH_MAX)
        later = len(texts) - number - 1
        room_for_tail = WARNING_LENGTH_MAX if later else 0
        if used + len(text) + room_for_tail > WARNINGS_TOTAL_MAX:
            warnings.append(f"… and {len(texts) - number} more {what}")
            break
        warnings.append(text)
        used += len(text)
    return tuple(warnings)


def audit_annotations(findings: Sequence[Finding]) -> dict[str, str]:
    annotations = {}
    for number, finding in enumerate(findings):
        key = f"{finding.reason.value}-{number}"
        value = f"{finding.site.describe()} {finding.image}: {finding.fix}"
        if finding.digest:
            value += f"; pinning would write {finding.digest}"
        annotations[key] = shortened(value, ANNOTATION_VALUE_MAX)
    return annotations


def abbreviated(image: str) -> str:
    """Digests take 71 of a warning's 120 characters; 12 hex digits identify one."""
    name, at, digest = image.partition("@")
    algorithm, colon, encoded = digest.partition(":")
    if at and colon and len(encoded) > 12:
        return f"{name}@{algorithm}:{encoded[:12]}…"
    return image


def shortened(text: str, limit: int = WARNING_LENGTH_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""`check --pin`: which image lines of which manifest files become digests, and the edit.

Files are edited as text, line by line, instead of being re-serialized: comments, key
order, quoting and `helm`/`kustomize` formatting survive, so the diff a GitOps reviewer
sees is exactly the pinned images.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from webhook.core.lookups import Resolution
from webhook.core.manifest_check import ManifestObject
from webhook.core.mirror_index import MirrorIndex
from webhook.core.pinning import PinPlan, pinned_image, unexempt_pin_plan
from webhook.core.policy import PolicySettings
from webhook.core.workloads import SUPPORTED_KINDS, image_sites


@dataclass(frozen=True, slots=True)
class PlannedPin:
    path: str
    line: int
    plan: PinPlan


@dataclass(frozen=True, slots=True)
class LineEdit:
    path: str
    line: int
    original: str
    pinned: str


def planned_pins(
    objects: Iterable[ManifestObject],
    index: MirrorIndex,
    settings: PolicySettings,
    include_source: bool = False,
) -> list[PlannedPin]:
    """The images worth pinning: not exempt (the internal registry, say), and not already
    named on a mirror, which the webhook lets through as they are."""
    planned = []
    for obj in objects:
        group, kind = obj.group_kind
        if (group, kind) not in SUPPORTED_KINDS:
            continue
        for site in image_sites(group, kind, obj.body):
            plan = unexempt_pin_plan(site, index, settings, include_source)
            if plan is not None:
                planned.append(PlannedPin(obj.path, obj.line_of(obj.pointer + site.pointer), plan))
    return planned


def line_edits(
    planned: Sequence[PlannedPin], resolutions: Mapping[str, Resolution], keep_tag: bool = False
) -> tuple[list[LineEdit], list[str]]:
    """The edits for images with a digest, and one note per image left as it is."""
    edits, notes = [], []
    for pin in planned:
        resolution = resolutions.get(pin.plan.image)
        if resolution is not None and resolution.digest:
            pinned = pinned_image(pin.plan.image, resolution.digest, keep_tag)
            edits.append(LineEdit(pin.path, pin.line, pin.plan.image, pinned))
            continue
        reason = pin.plan.unpinnable or (resolution.reason if resolution else "not looked up")
        notes.append(f"{pin.path}:{pin.line}: {pin.plan.image}: not pinned: {reason}")
    return edits, notes


def apply_edits(text: str, edits: Iterable[LineEdit]) -> tuple[str, list[LineEdit]]:
    """Replace each original image on its line; returns the new text and the edits that
    found no such image on their line (left for the caller to report)."""
    lines = text.splitlines(keepends=True)
    missed = []
    for edit in edits:
        index = edit.line - 1
        if 0 <= index < len(lines) and edit.original in lines[index]:
            lines[index] = lines[index].replace(edit.original, edit.pinned, 1)
        else:
            missed.append(edit)
    return "".join(lines), missed

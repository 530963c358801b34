"""RFC 6902 JSON patches that pin images, and the annotation that remembers what they were.

The patch replaces only the image strings it was asked to, at their JSON pointers, and
merges into one annotation the original reference of every image pinned so far, so a
re-invocation (`reinvocationPolicy: IfNeeded`) that finds nothing left to pin adds nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

ORIGINAL_IMAGES_ANNOTATION = "idms-guard.io/original-images"


def image_patch(obj: Any, replacements: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """`replacements` maps a JSON pointer to (original image, pinned image)."""
    if not replacements:
        return []
    operations: list[dict[str, Any]] = [
        {"op": "replace", "path": pointer, "value": pinned}
        for pointer, (_, pinned) in replacements.items()
    ]
    originals = {pointer: original for pointer, (original, _) in replacements.items()}
    operations.append(_annotation_operation(obj, originals))
    return operations


def encode_patch(operations: list[dict[str, Any]]) -> str:
    return base64.b64encode(json.dumps(operations).encode()).decode()


def _annotation_operation(obj: Any, originals: dict[str, str]) -> dict[str, Any]:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    if not isinstance(metadata, Mapping):
        value = {"annotations": {ORIGINAL_IMAGES_ANNOTATION: json.dumps(originals)}}
        return {"op": "add", "path": "/metadata", "value": value}
    annotations = metadata.get("annotations")
    if not isinstance(annotations, Mapping):
        fresh = {ORIGINAL_IMAGES_ANNOTATION: json.dumps(originals)}
        return {"op": "add", "path": "/metadata/annotations", "value": fresh}
    merged = {**_recorded(annotations.get(ORIGINAL_IMAGES_ANNOTATION)), **originals}
    key = ORIGINAL_IMAGES_ANNOTATION.replace("~", "~0").replace("/", "~1")
    return {"op": "add", "path": f"/metadata/annotations/{key}", "value": json.dumps(merged)}


def _recorded(value: Any) -> dict[str, str]:
    """What an earlier invocation recorded; anything unreadable is started afresh."""
    try:
        recorded = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {k: v for k, v in recorded.items() if isinstance(k, str) and isinstance(v, str)}

"""JSON patches that pin images, checked by applying them with the jsonpatch library."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonpatch
import pytest

from webhook.core.patch import ORIGINAL_IMAGES_ANNOTATION, encode_patch, image_patch

POINTER = "/spec/containers/0/image"
PINNED = "quay.io/a/b@sha256:" + "d" * 64


def pod(annotations: dict[str, str] | None = None, metadata: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"spec": {"containers": [{"name": "c", "image": "quay.io/a/b:1"}]}}
    if metadata:
        body["metadata"] = {"name": "p"}
        if annotations is not None:
            body["metadata"]["annotations"] = annotations
    return body


def applied(obj: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = jsonpatch.apply_patch(
        obj, image_patch(obj, {POINTER: ("quay.io/a/b:1", PINNED)})
    )
    return result


def recorded(obj: dict[str, Any]) -> Any:
    return json.loads(obj["metadata"]["annotations"][ORIGINAL_IMAGES_ANNOTATION])


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param(pod(), id="no-annotations"),
        pytest.param(pod({"team": "x"}), id="other-annotations"),
        pytest.param(pod(metadata=False), id="no-metadata"),
    ],
)
def test_the_image_is_replaced_and_the_original_recorded(obj: dict[str, Any]) -> None:
    result = applied(obj)
    assert result["spec"]["containers"][0]["image"] == PINNED
    assert recorded(result) == {POINTER: "quay.io/a/b:1"}


def test_other_annotations_are_kept() -> None:
    assert applied(pod({"team": "x"}))["metadata"]["annotations"]["team"] == "x"


def test_originals_recorded_earlier_are_kept() -> None:
    earlier = {"/spec/initContainers/0/image": "quay.io/a/init:1"}
    result = applied(pod({ORIGINAL_IMAGES_ANNOTATION: json.dumps(earlier)}))
    assert recorded(result) == {**earlier, POINTER: "quay.io/a/b:1"}


def test_an_unreadable_earlier_record_is_replaced() -> None:
    result = applied(pod({ORIGINAL_IMAGES_ANNOTATION: "not json"}))
    assert recorded(result) == {POINTER: "quay.io/a/b:1"}


def test_nothing_to_replace_is_an_empty_patch() -> None:
    assert image_patch(pod(), {}) == []


def test_the_patch_is_base64_json() -> None:
    operations = image_patch(pod(), {POINTER: ("quay.io/a/b:1", PINNED)})
    assert json.loads(base64.b64decode(encode_patch(operations))) == operations

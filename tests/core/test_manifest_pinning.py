"""`check --pin`: what is worth pinning, and the line edits that keep files as they were."""

from __future__ import annotations

from typing import Any

from tests.support.mirror_objects import entry, mirror_object
from webhook.core.manifest_check import manifest_objects
from webhook.core.manifest_pinning import LineEdit, apply_edits, planned_pins
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings

INDEX = MirrorIndex.from_config(
    load_mirror_sets(
        [
            mirror_object("idms", "a", [entry("quay.io/acme", "m.local/acme")]),
            mirror_object("itms", "t", [entry("quay.io/tags", "m.local/tags")]),
        ]
    )
)


def pod(*images: str) -> Any:
    containers = [{"name": f"c{n}", "image": image} for n, image in enumerate(images)]
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": containers},
    }
    return manifest_objects("pod.yaml", body, lambda pointer: 1)


def test_exempt_images_are_not_planned() -> None:
    internal = "image-registry.openshift-image-registry.svc:5000/ns/app:1"
    planned = planned_pins(pod(internal, "quay.io/acme/app:1"), INDEX, PolicySettings())
    assert [pin.plan.image for pin in planned] == ["quay.io/acme/app:1"]


def test_an_image_exempt_by_its_normalized_name_is_not_planned() -> None:
    settings = PolicySettings(exempt_images=("docker.io/library/*",))
    planned = planned_pins(pod("docker.io/nginx:1", "quay.io/acme/app:1"), INDEX, settings)
    assert [pin.plan.image for pin in planned] == ["quay.io/acme/app:1"]


def test_a_tag_an_image_tag_mirror_set_serves_is_left_unsaid() -> None:
    planned = planned_pins(
        pod("quay.io/tags/app:1", "docker.io/library/nginx:1"), INDEX, PolicySettings()
    )
    assert [pin.plan.image for pin in planned] == ["docker.io/library/nginx:1"]


def test_an_edit_replaces_the_image_on_its_line_only() -> None:
    text = "image: quay.io/acme/app:1  # pinned later\nother: quay.io/acme/app:1\n"
    edit = LineEdit("f", 1, "quay.io/acme/app:1", "quay.io/acme/app@sha256:" + "a" * 64)
    new, missed = apply_edits(text, [edit])
    assert new.splitlines()[0] == f"image: {edit.pinned}  # pinned later"
    assert new.splitlines()[1] == "other: quay.io/acme/app:1"
    assert missed == []


def test_an_edit_whose_line_lost_the_image_is_reported_not_applied() -> None:
    edit = LineEdit("f", 1, "quay.io/acme/app:1", "x@sha256:" + "a" * 64)
    new, missed = apply_edits("image: something-else\n", [edit])
    assert (new, missed) == ("image: something-else\n", [edit])

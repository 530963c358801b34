"""The mutating webhook's decisions, on real AdmissionReview bodies."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest

from tests.support.mirror_objects import entry, mirror_object
from tests.support.reviews import pod_review, sample, workload_review
from webhook.core.admission import read_review, validate
from webhook.core.decision import Mode, Outcome
from webhook.core.lookups import Lookup, LookupOutcome, Resolution
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.mutation import mutation_answer, plan_mutation
from webhook.core.patch import ORIGINAL_IMAGES_ANNOTATION
from webhook.core.policy import PolicySettings

DIGEST = "sha256:" + "e" * 64
APP = "registry.example.com/team/web:2.1"
INDEX = MirrorIndex.from_config(
    load_mirror_sets(
        [
            mirror_object("idms", "team", [entry("registry.example.com/team", "m.local/team")]),
            mirror_object("itms", "tags", [entry("registry.example.com/tags", "m.local/tags")]),
        ]
    )
)


def plan_for(body: dict[str, Any]) -> Any:
    return plan_mutation(read_review(body), INDEX, PolicySettings())


def found(image: str) -> dict[str, Resolution]:
    lookup = Lookup("m.local/team/web:2.1", LookupOutcome.FOUND, DIGEST)
    return {image: Resolution(image, DIGEST, (lookup,))}


def test_a_tag_with_a_digest_mirror_is_planned_for_lookup() -> None:
    plan = plan_for(pod_review({"web": APP}))
    assert plan.skipped is None
    assert [(p.image, p.lookup_specs) for p in plan.plans] == [(APP, ("m.local/team/web:2.1",))]


def test_the_patch_pins_the_image_and_records_the_original() -> None:
    body = pod_review({"web": APP})
    answer = mutation_answer(plan_for(body), found(APP))
    pod = jsonpatch.apply_patch(body["request"]["object"], answer.patch)
    assert pod["spec"]["containers"][0]["image"] == f"registry.example.com/team/web@{DIGEST}"
    assert ORIGINAL_IMAGES_ANNOTATION in pod["metadata"]["annotations"]
    assert answer.decision.outcome is Outcome.PINNED
    assert answer.decision.allowed


def test_pinning_again_finds_nothing_to_pin() -> None:
    body = pod_review({"web": APP})
    pinned = copy.deepcopy(body)
    pinned["request"]["object"] = jsonpatch.apply_patch(
        body["request"]["object"], mutation_answer(plan_for(body), found(APP)).patch
    )
    assert plan_for(pinned).skipped is Outcome.NOTHING_TO_PIN


def test_an_unresolved_image_is_left_alone_with_a_warning_that_says_why() -> None:
    body = pod_review({"web": APP})
    failure = Resolution(APP, None, (), "unauthorized at m.local")
    answer = mutation_answer(plan_for(body), {APP: failure})
    assert answer.patch == []
    assert answer.decision.outcome is Outcome.NOT_PINNED
    assert answer.decision.warnings == (
        f'container "web": {APP}: not pinned: unauthorized at m.local',
    )


def test_one_image_pinned_and_one_not_is_partly_pinned() -> None:
    other = "registry.example.com/team/api:1"
    body = pod_review({"web": APP, "api": other})
    resolutions = {**found(APP), other: Resolution(other, None, (), "tag not found in the mirrors")}
    answer = mutation_answer(plan_for(body), resolutions)
    assert answer.decision.outcome is Outcome.PARTLY_PINNED
    replaced = [op["path"] for op in answer.patch if op["op"] == "replace"]
    assert replaced == ["/spec/containers/0/image"]


def test_a_replicaset_owned_by_a_deployment_is_never_mutated() -> None:
    body = workload_review("apps", "v1", "ReplicaSet", ["spec", "template", "spec"], {"w": APP})
    body["request"]["object"]["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": "u",
            "controller": True,
        }
    ]
    assert plan_for(body).skipped is Outcome.CONTROLLER_OWNED


def test_a_deployment_is_pinned_in_its_template() -> None:
    body = workload_review("apps", "v1", "Deployment", ["spec", "template", "spec"], {"w": APP})
    answer = mutation_answer(plan_for(body), found(APP))
    assert answer.patch[0]["path"] == "/spec/template/spec/containers/0/image"


def test_an_update_that_changed_no_image_is_not_mutated() -> None:
    assert plan_for(pod_review({"web": APP}, operation="UPDATE")).skipped is Outcome.UNCHANGED


def test_an_update_inserting_a_container_pins_only_the_new_one() -> None:
    side = "registry.example.com/team/side:1"
    body = pod_review({"side": side, "web": APP}, operation="UPDATE", old_containers={"web": APP})
    plan = plan_for(body)
    assert [(p.site.pointer, p.image) for p in plan.plans] == [("/spec/containers/0/image", side)]


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        pytest.param(
            pod_review({"web": APP}, namespace="kube-system"), Outcome.EXEMPT, id="exempt"
        ),
        pytest.param(pod_review({"web": "nginx:1"}), Outcome.NOTHING_TO_PIN, id="short-name"),
        pytest.param(
            pod_review({"web": f"registry.example.com/team/web@{DIGEST}"}),
            Outcome.NOTHING_TO_PIN,
            id="digest",
        ),
        pytest.param(
            sample("mutate-pod-create-replicaset-controller"),
            Outcome.NOTHING_TO_PIN,
            id="controller-made-pod-already-by-digest",
        ),
    ],
)
def test_requests_left_untouched(body: dict[str, Any], outcome: Outcome) -> None:
    plan = plan_for(body)
    assert plan.skipped is outcome
    assert mutation_answer(plan, {}).patch == []


def test_a_tag_an_image_tag_mirror_set_serves_is_not_warned_about() -> None:
    plan = plan_for(pod_review({"web": "registry.example.com/tags/web:1"}))
    assert plan.skipped is Outcome.NOTHING_TO_PIN
    assert mutation_answer(plan, {}).decision.warnings == ()


def test_an_exempt_image_is_not_pinned_nor_warned_about() -> None:
    internal = "image-registry.openshift-image-registry.svc:5000/apps/web:latest"
    assert plan_for(pod_review({"web": internal})).skipped is Outcome.NOTHING_TO_PIN


def test_an_image_exempt_by_its_normalized_name_is_not_pinned_as_validate_exempts_it() -> None:
    """`docker.io/nginx` is `docker.io/library/nginx` to the node: a pattern on that name
    exempts it from validation, so pinning must leave it alone too."""
    mirrored = [mirror_object("idms", "hub", [entry("docker.io/library", "m.local/hub")])]
    index = MirrorIndex.from_config(load_mirror_sets(mirrored))
    settings = PolicySettings(exempt_images=("docker.io/library/*",))
    review = read_review(pod_review({"web": "docker.io/nginx:1.27"}))
    assert validate(review, Mode.ENFORCE, index, settings).findings == ()
    assert plan_mutation(review, index, settings).skipped is Outcome.NOTHING_TO_PIN


def test_many_unpinned_images_stay_within_the_warning_budget() -> None:
    images = {f"c{n}": f"registry.example.com/team/app{n}:1" for n in range(200)}
    plan = plan_for(pod_review(images))
    failures = {
        image: Resolution(image, None, (), "tag not found in the mirrors")
        for image in images.values()
    }
    warnings = mutation_answer(plan, failures).decision.warnings
    assert sum(len(w) for w in warnings) <= 4096
    assert warnings[-1].endswith("more images not pinned")

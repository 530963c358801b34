"""Every image of a Pod or workload template, with a pointer that leads back to it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.core.workloads import (
    SUPPORTED_KINDS,
    ContainerType,
    ImageSite,
    changed_sites,
    image_sites,
    owned_by_controller,
    pod_spec_pointer,
    pointer,
    pull_secret_names,
)

SAMPLES = Path(__file__).parents[1] / "data" / "admission-samples"
KIND_POD_SPECS = [
    ("", "Pod", "/spec"),
    ("", "ReplicationController", "/spec/template/spec"),
    ("apps", "Deployment", "/spec/template/spec"),
    ("apps", "ReplicaSet", "/spec/template/spec"),
    ("apps", "StatefulSet", "/spec/template/spec"),
    ("apps", "DaemonSet", "/spec/template/spec"),
    ("batch", "Job", "/spec/template/spec"),
    ("batch", "CronJob", "/spec/jobTemplate/spec/template/spec"),
    ("apps.openshift.io", "DeploymentConfig", "/spec/template/spec"),
]
KINDS = [pytest.param(g, k, p, id=f"{g or 'core'}/{k}") for g, k, p in KIND_POD_SPECS]
MISSING = object()


def resolve(document: Any, json_pointer: str) -> Any:
    """RFC 6901 evaluation, written apart from the module so it checks its escaping."""
    for escaped in json_pointer.split("/")[1:]:
        token = escaped.replace("~1", "/").replace("~0", "~")
        if isinstance(document, dict) and token in document:
            document = document[token]
        elif isinstance(document, list) and token.isdigit() and int(token) < len(document):
            document = document[int(token)]
        else:
            return MISSING
    return document


def workload(group: str, kind: str, spec: Any) -> dict[str, Any]:
    """An object of `kind` with `spec` where that kind keeps its pod spec."""
    path = pod_spec_pointer(group, kind)
    assert path is not None
    value: Any = spec
    for key in reversed(path.split("/")[1:]):
        value = {key: value}
    return {"kind": kind, **value}


def pod(**spec: Any) -> dict[str, Any]:
    return workload("", "Pod", spec)


def found(sites: tuple[ImageSite, ...]) -> list[tuple[str, str | None]]:
    return [(site.pointer, site.image) for site in sites]


def assert_pointers_lead_to_images(obj: Any, sites: tuple[ImageSite, ...]) -> None:
    """`image` is None exactly when the pointer does not reach a string."""
    for site in sites:
        target = resolve(obj, site.pointer)
        assert site.image == (target if isinstance(target, str) else None)


# --- kinds ----------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "kind", "expected"), KINDS)
def test_pod_spec_pointer_of_each_kind(group: str, kind: str, expected: str) -> None:
    assert pod_spec_pointer(group, kind) == expected


@pytest.mark.parametrize(
    ("group", "kind"),
    [
        pytest.param("", "Service", id="other-kind"),
        pytest.param("", "PodTemplate", id="pod-template-is-not-run"),
        pytest.param("apps", "Pod", id="pod-in-wrong-group"),
        pytest.param("", "pod", id="kind-is-case-sensitive"),
        pytest.param("extensions", "Deployment", id="removed-group"),
        pytest.param("apps.openshift.io", "Deployment", id="openshift-group-other-kind"),
    ],
)
def test_unsupported_kinds_have_no_pod_spec_and_no_sites(group: str, kind: str) -> None:
    assert pod_spec_pointer(group, kind) is None
    assert image_sites(group, kind, {"spec": {"containers": [{"image": "x"}]}}) == ()


def test_supported_kinds_are_the_kinds_with_a_pod_spec() -> None:
    assert {(group, kind) for group, kind, _ in KIND_POD_SPECS} == SUPPORTED_KINDS


@pytest.mark.parametrize(("group", "kind", "spec_pointer"), KINDS)
def test_each_kind_points_into_its_pod_spec(group: str, kind: str, spec_pointer: str) -> None:
    spec = {"containers": [{"name": "app", "image": "a"}], "volumes": [{"image": {}}]}
    obj = workload(group, kind, spec)
    assert found(image_sites(group, kind, obj)) == [
        (f"{spec_pointer}/containers/0/image", "a"),
        (f"{spec_pointer}/volumes/0/image/reference", None),
    ]


@pytest.mark.parametrize(
    "kind",
    [pytest.param(kind, id=kind) for kind in ("Deployment", "StatefulSet", "DaemonSet")],
)
def test_a_template_does_not_see_images_outside_its_pod_spec(kind: str) -> None:
    obj = {"spec": {"containers": [{"image": "not-a-template"}], "template": None}}
    assert image_sites("apps", kind, obj) == ()


# --- order and fields -----------------------------------------------------------------


def test_sites_come_init_then_regular_then_ephemeral_then_volumes_each_in_list_order() -> None:
    obj = pod(
        volumes=[{"name": "v0", "image": {"reference": "v0"}}, {"name": "v1", "image": {}}],
        ephemeralContainers=[{"name": "e0", "image": "e0"}],
        containers=[{"name": "c0", "image": "c0"}, {"name": "c1", "image": "c1"}],
        initContainers=[{"name": "i0", "image": "i0"}, {"name": "i1", "image": "i1"}],
    )
    assert [(s.container_type, s.container) for s in image_sites("", "Pod", obj)] == [
        (ContainerType.INIT_CONTAINER, "i0"),
        (ContainerType.INIT_CONTAINER, "i1"),
        (ContainerType.CONTAINER, "c0"),
        (ContainerType.CONTAINER, "c1"),
        (ContainerType.EPHEMERAL_CONTAINER, "e0"),
        (ContainerType.IMAGE_VOLUME, "v0"),
        (ContainerType.IMAGE_VOLUME, "v1"),
    ]


@pytest.mark.parametrize(
    ("container", "name", "image"),
    [
        pytest.param({"name": "app", "image": "a:1"}, "app", "a:1", id="complete"),
        pytest.param({"name": "app"}, "app", None, id="image-missing"),
        pytest.param({"name": "app", "image": None}, "app", None, id="image-null"),
        pytest.param({"name": "app", "image": ["a"]}, "app", None, id="image-not-a-string"),
        pytest.param({"name": "app", "image": ""}, "app", "", id="image-empty-is-kept"),
        pytest.param({"image": "a"}, "", "a", id="name-missing"),
        pytest.param({"name": 7, "image": "a"}, "", "a", id="name-not-a-string"),
        pytest.param("a:1", "", None, id="entry-is-a-string"),
        pytest.param(None, "", None, id="entry-is-null"),
    ],
)
def test_container_fields_of_the_wrong_shape_read_as_missing(
    container: Any, name: str, image: str | None
) -> None:
    assert image_sites("", "Pod", pod(containers=[container])) == (
        ImageSite("/spec/containers/0/image", name, ContainerType.CONTAINER, image),
    )


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        pytest.param(
            {"name": "data", "image": {"reference": "r:1", "pullPolicy": "Always"}},
            [("data", "r:1")],
            id="image-volume",
        ),
        pytest.param({"name": "data", "image": {}}, [("data", None)], id="reference-missing"),
        pytest.param({"name": "data", "image": "r:1"}, [("data", None)], id="source-not-an-object"),
        pytest.param({"image": {"reference": "r"}}, [("", "r")], id="name-missing"),
        pytest.param({"name": "data", "image": None}, [], id="source-null-is-no-image-volume"),
        pytest.param({"name": "tok", "projected": {"sources": []}}, [], id="projected-volume"),
        pytest.param({"name": "c", "configMap": {"name": "image"}}, [], id="config-map-volume"),
        pytest.param("data", [], id="volume-is-a-string"),
    ],
)
def test_image_volumes_are_sites_and_other_volumes_are_not(
    volume: Any, expected: list[tuple[str, str | None]]
) -> None:
    sites = image_sites("", "Pod", pod(volumes=[{"name": "first", "emptyDir": {}}, volume]))
    assert [(s.container, s.image) for s in sites] == expected
    assert {s.pointer for s in sites} <= {"/spec/volumes/1/image/reference"}
    assert {s.container_type for s in sites} <= {ContainerType.IMAGE_VOLUME}


# --- untrusted shapes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(None, [], id="null"),
        pytest.param([], [], id="list"),
        pytest.param("Pod", [], id="string"),
        pytest.param(7, [], id="int"),
        pytest.param({}, [], id="empty"),
        pytest.param({"spec": None}, [], id="spec-null"),
        pytest.param({"spec": [{"containers": []}]}, [], id="spec-a-list"),
        pytest.param({"spec": "containers"}, [], id="spec-a-string"),
        pytest.param({"spec": {"containers": None}}, [], id="containers-null"),
        pytest.param({"spec": {"containers": "image"}}, [], id="containers-a-string"),
        pytest.param({"spec": {"containers": {"0": {"image": "a"}}}}, [], id="containers-a-map"),
        pytest.param({"spec": {"volumes": {"image": {}}}}, [], id="volumes-a-map"),
        pytest.param(
            {"spec": {"containers": [7, [], {"image": "b"}]}},
            [
                ("/spec/containers/0/image", None),
                ("/spec/containers/1/image", None),
                ("/spec/containers/2/image", "b"),
            ],
            id="containers-with-garbage-entries",
        ),
    ],
)
def test_garbage_shapes_yield_what_can_be_found(
    obj: Any, expected: list[tuple[str, str | None]]
) -> None:
    assert found(image_sites("", "Pod", obj)) == expected


@pytest.mark.parametrize(
    ("group", "kind"),
    [pytest.param(["apps"], "Deployment", id="group-a-list"), pytest.param("", {}, id="kind-map")],
)
def test_unhashable_group_or_kind_is_unsupported_not_an_error(group: Any, kind: Any) -> None:
    assert pod_spec_pointer(group, kind) is None
    assert image_sites(group, kind, pod(containers=[{"image": "a"}])) == ()


def test_a_huge_container_list_is_read_to_the_end() -> None:
    obj = pod(containers=[{"name": f"c{i}", "image": f"i{i}"} for i in range(20_000)])
    sites = image_sites("", "Pod", obj)
    assert len(sites) == 20_000
    assert found(sites[-1:]) == [("/spec/containers/19999/image", "i19999")]


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    deep: Any = {"image": "x"}
    for _ in range(100_000):
        deep = [deep]
    assert len(image_sites("", "Pod", pod(containers=deep, volumes=deep))) == 1


FIELDS = [
    "spec", "template", "jobTemplate", "metadata", "ownerReferences", "controller",
    "initContainers", "containers", "ephemeralContainers", "volumes", "image", "reference",
    "name",
]  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=4), children, max_size=5)
    ),
    max_leaves=20,
)
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
FIELD = st.text(max_size=12) | JSON
CONTAINER = st.fixed_dictionaries({}, optional={"name": FIELD, "image": FIELD})
SOURCE = st.fixed_dictionaries({}, optional={"reference": FIELD})
VOLUME = st.fixed_dictionaries({}, optional={"name": FIELD, "image": SOURCE | JSON})
SPECS = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(CONTAINER_LISTS, st.lists(CONTAINER | JSON, max_size=4) | JSON),
        "volumes": st.lists(VOLUME | JSON, max_size=4) | JSON,
    },
)
KIND_KEYS = st.sampled_from(sorted(SUPPORTED_KINDS))


@settings(derandomize=True, max_examples=200, deadline=None)
@given(kind=KIND_KEYS, obj=JSON, old=JSON)
def test_any_json_as_the_object_never_raises(kind: tuple[str, str], obj: Any, old: Any) -> None:
    sites = image_sites(*kind, obj)
    assert_pointers_lead_to_images(obj, sites)
    assert set(changed_sites(*kind, obj, old)) <= set(sites)
    assert isinstance(owned_by_controller(obj), bool)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(kind=KIND_KEYS, spec=SPECS)
def test_any_json_in_the_spec_fields_yields_a_site_per_container(
    kind: tuple[str, str], spec: dict[str, Any]
) -> None:
    obj = workload(*kind, spec)
    sites = image_sites(*kind, obj)
    lists = {k: v for k, v in spec.items() if isinstance(v, list)}
    containers = sum(len(v) for k, v in lists.items() if k in CONTAINER_LISTS)
    volumes = sum(
        isinstance(v, dict) and v.get("image") is not None for v in lists.get("volumes", [])
    )
    types = [s.container_type is ContainerType.IMAGE_VOLUME for s in sites]
    assert (types.count(False), types.count(True)) == (containers, volumes)
    assert_pointers_lead_to_images(obj, sites)
    assert changed_sites(*kind, obj, copy.deepcopy(obj)) == ()


# --- changes on UPDATE ----------------------------------------------------------------

OLD = pod(containers=[{"name": "app", "image": "a:1"}], volumes=[{"name": "v", "image": {}}])


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        pytest.param({**OLD, "metadata": {"labels": {"l": "v"}}}, [], id="label-edit"),
        pytest.param(
            pod(containers=[{"name": "app", "image": "a:2"}], volumes=[{"name": "v", "image": {}}]),
            [("/spec/containers/0/image", "a:2")],
            id="changed-image",
        ),
        pytest.param(
            pod(containers=[{"name": "app", "image": "a:1"}, {"name": "side", "image": "s"}]),
            [("/spec/containers/1/image", "s")],
            id="added-container",
        ),
        pytest.param(
            pod(containers=[{"name": "app", "image": "a:1"}, {"name": "bad"}]),
            [("/spec/containers/1/image", None)],
            id="added-container-without-image",
        ),
        pytest.param(
            pod(containers=[{"name": "app"}], volumes=[{"name": "v", "image": {}}]),
            [("/spec/containers/0/image", None)],
            id="image-removed",
        ),
        pytest.param(
            pod(
                containers=[{"name": "app", "image": "a:1"}],
                volumes=[{"image": {"reference": "r"}}],
            ),
            [("/spec/volumes/0/image/reference", "r")],
            id="image-volume-reference-set",
        ),
        pytest.param(pod(containers=[]), [], id="container-removed"),
        pytest.param(
            pod(containers=[{"name": "side", "image": "s"}, {"name": "app", "image": "a:1"}]),
            [("/spec/containers/0/image", "s")],
            id="container-inserted-before-an-unchanged-one",
        ),
        pytest.param(
            pod(
                containers=[{"name": "app", "image": "a:1"}],
                volumes=[
                    {"name": "new", "image": {"reference": "r"}},
                    {"name": "v", "image": {}},
                ],
            ),
            [("/spec/volumes/0/image/reference", "r")],
            id="image-volume-inserted-before-an-unchanged-one",
        ),
        pytest.param(
            pod(containers=[{"name": "renamed", "image": "a:1"}]),
            [("/spec/containers/0/image", "a:1")],
            id="renamed-container",
        ),
        pytest.param(
            pod(
                initContainers=[{"name": "app", "image": "a:1"}],
                containers=[{"name": "app", "image": "a:1"}],
            ),
            [("/spec/initContainers/0/image", "a:1")],
            id="same-name-in-another-list",
        ),
    ],
)
def test_changed_sites_are_those_whose_image_differs_from_the_old_object(
    new: Any, expected: list[tuple[str, str | None]]
) -> None:
    assert found(changed_sites("", "Pod", new, OLD)) == expected


@pytest.mark.parametrize(
    "old",
    [pytest.param(None, id="null"), pytest.param([OLD], id="list"), pytest.param("x", id="string")],
)
def test_without_an_old_object_every_site_is_changed(old: Any) -> None:
    assert changed_sites("", "Pod", OLD, old) == image_sites("", "Pod", OLD)


def test_ephemeral_containers_subresource_yields_only_the_added_container() -> None:
    before = pod(containers=[{"name": "app", "image": "a:latest"}], ephemeralContainers=[])
    after = copy.deepcopy(before)
    after["spec"]["ephemeralContainers"].append({"name": "debugger", "image": "busybox"})
    assert changed_sites("", "Pod", after, before) == (
        ImageSite(
            "/spec/ephemeralContainers/0/image",
            "debugger",
            ContainerType.EPHEMERAL_CONTAINER,
            "busybox",
        ),
    )


# --- owners, labels, pointers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("references", "owned"),
    [
        pytest.param([{"kind": "Deployment", "controller": True}], True, id="controller"),
        pytest.param([{"kind": "X"}, {"controller": True}], True, id="controller-second"),
        pytest.param([{"kind": "Deployment", "controller": False}], False, id="controller-false"),
        pytest.param([{"kind": "Deployment"}], False, id="owner-not-controller"),
        pytest.param([{"controller": "true"}], False, id="controller-a-string"),
        pytest.param([{"controller": 1}], False, id="controller-one"),
        pytest.param([], False, id="no-owners"),
        pytest.param(None, False, id="owners-null"),
        pytest.param({"controller": True}, False, id="owners-a-map"),
        pytest.param(["controller"], False, id="owner-a-string"),
    ],
)
def test_owned_by_controller_needs_an_owner_reference_with_controller_true(
    references: Any, owned: bool
) -> None:
    assert owned_by_controller({"metadata": {"ownerReferences": references}}) is owned


@pytest.mark.parametrize(
    "obj",
    [pytest.param(None, id="null"), pytest.param({"metadata": []}, id="metadata-a-list")],
)
def test_objects_without_metadata_are_not_owned(obj: Any) -> None:
    assert owned_by_controller(obj) is False


@pytest.mark.parametrize(
    ("container_type", "name", "label"),
    [
        pytest.param(ContainerType.CONTAINER, "app", 'container "app"', id="container"),
        pytest.param(
            ContainerType.INIT_CONTAINER, "setup", 'init container "setup"', id="init-container"
        ),
        pytest.param(
            ContainerType.EPHEMERAL_CONTAINER,
            "debugger",
            'ephemeral container "debugger"',
            id="ephemeral-container",
        ),
        pytest.param(ContainerType.IMAGE_VOLUME, "data", 'image volume "data"', id="image-volume"),
        pytest.param(ContainerType.CONTAINER, "", 'container ""', id="no-name"),
        pytest.param(ContainerType.CONTAINER, 'a"\nb', 'container "a\\"\\nb"', id="name-escaped"),
    ],
)
def test_describe_names_the_place_for_a_human(
    container_type: ContainerType, name: str, label: str
) -> None:
    assert ImageSite("/p", name, container_type, "i").describe() == label


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        pytest.param((), "", id="whole-document"),
        pytest.param(("spec", "containers", 0, "image"), "/spec/containers/0/image", id="plain"),
        pytest.param(("a/b",), "/a~1b", id="slash"),
        pytest.param(("a~b",), "/a~0b", id="tilde"),
        pytest.param(("~1",), "/~01", id="tilde-one-is-not-a-slash"),
        pytest.param(("",), "/", id="empty-key"),
    ],
)
def test_pointer_escapes_tokens_per_rfc_6901(tokens: tuple[str | int, ...], expected: str) -> None:
    assert pointer(*tokens) == expected


@pytest.mark.parametrize("key", ["a/b", "a~b", "~1", "~01/", ""])
def test_pointer_leads_back_to_its_key(key: str) -> None:
    assert resolve({key: [{"image": "i"}]}, pointer(key, 0, "image")) == "i"


# --- real AdmissionReview bodies ------------------------------------------------------

SAMPLE_SITES = {
    "mutate-pod-create-kubectl-run.json": ("mutated-pod", "registry.example.com/app:1.0"),
    "mutate-pod-create-replicaset-controller.json": (
        "app",
        "registry.example.com/app@sha256:" + "0123456789abcdef" * 4,
    ),
    "validate-pod-create-dryrun.json": ("dry-pod", "registry.example.com/app:1.0"),
    "validate-pod-create-kubectl-run.json": ("denied-pod", "registry.example.com/app:1.0"),
    "validate-pod-create-replicaset-controller.json": ("app", "registry.example.com/app:2.0"),
    "validate-pod-update-set-image.json": ("upd-pod", "registry.example.com/app:9.9"),
}
CONTROLLER_MADE = {name for name in SAMPLE_SITES if "replicaset-controller" in name}


def review(name: str) -> dict[str, Any]:
    request: dict[str, Any] = json.loads((SAMPLES / name).read_text())["request"]
    return request


def test_every_admission_sample_is_covered() -> None:
    bodies = {p.name for p in SAMPLES.glob("*.json") if not p.name.endswith(".http-headers.json")}
    assert bodies == set(SAMPLE_SITES)


@pytest.mark.parametrize(("name", "expected"), SAMPLE_SITES.items(), ids=list(SAMPLE_SITES))
def test_sample_pods_have_one_container_and_no_image_volume(
    name: str, expected: tuple[str, str]
) -> None:
    request = review(name)
    kind = request["kind"]
    sites = image_sites(kind["group"], kind["kind"], request["object"])
    container, image = expected
    assert sites == (
        ImageSite("/spec/containers/0/image", container, ContainerType.CONTAINER, image),
    )
    assert_pointers_lead_to_images(request["object"], sites)


@pytest.mark.parametrize("name", sorted(SAMPLE_SITES))
def test_sample_pods_made_by_the_replicaset_controller_are_owned(name: str) -> None:
    assert owned_by_controller(review(name)["object"]) is (name in CONTROLLER_MADE)


def test_sample_set_image_update_changes_the_one_container() -> None:
    request = review("validate-pod-update-set-image.json")
    changed = changed_sites("", "Pod", request["object"], request["oldObject"])
    assert found(changed) == [("/spec/containers/0/image", "registry.example.com/app:9.9")]


def test_sample_label_edit_on_the_old_pod_changes_nothing() -> None:
    old = review("validate-pod-update-set-image.json")["oldObject"]
    new = copy.deepcopy(old)
    new["metadata"]["labels"]["team"] = "blue"
    assert changed_sites("", "Pod", new, old) == ()


@pytest.mark.parametrize(
    ("kind", "obj", "names"),
    [
        pytest.param(
            ("", "Pod"),
            {"spec": {"imagePullSecrets": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}},
            ("a", "b"),
            id="pod-deduplicated",
        ),
        pytest.param(
            ("apps", "Deployment"),
            {"spec": {"template": {"spec": {"imagePullSecrets": [{"name": "t"}]}}}},
            ("t",),
            id="template",
        ),
        pytest.param(("", "Pod"), {"spec": {"imagePullSecrets": "x"}}, (), id="garbage"),
        pytest.param(("", "Pod"), {"spec": {"imagePullSecrets": [{}, 3]}}, (), id="no-names"),
        pytest.param(("", "ConfigMap"), {}, (), id="not-a-workload"),
    ],
)
def test_pull_secret_names_come_from_the_pod_spec(
    kind: tuple[str, str], obj: dict[str, Any], names: tuple[str, ...]
) -> None:
    assert pull_secret_names(*kind, obj) == names

"""The rendered matchConditions, evaluated with CEL on AdmissionReviews an API server sent.

With enforce on Fail, every request the API server sends to a down webhook is refused, so
an UPDATE that changes no image (a label, an annotation, a finalizer removed from a
Terminating pod) must not be sent at all. The expressions are taken from `helm template`
and evaluated with cel-python on the captured samples (tests/data/admission-samples) and
on UPDATEs derived from them; a CEL error would reject the request under Fail, so every
case must evaluate without one.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.chart.kube_schemas import schema_errors
from tests.support.cel import evaluate
from tests.support.helm import Helm, HelmError, Rendered
from tests.support.reviews import sample

WEBHOOK_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
CREATE_SAMPLES = (
    "validate-pod-create-kubectl-run",
    "validate-pod-create-replicaset-controller",
    "validate-pod-create-dryrun",
    "mutate-pod-create-kubectl-run",
    "mutate-pod-create-replicaset-controller",
)
WORKLOADS = {  # resource -> (group, kind, path of the pod spec in the object)
    "deployments": ("apps", "Deployment", ("spec", "template", "spec")),
    "statefulsets": ("apps", "StatefulSet", ("spec", "template", "spec")),
    "daemonsets": ("apps", "DaemonSet", ("spec", "template", "spec")),
    "replicasets": ("apps", "ReplicaSet", ("spec", "template", "spec")),
    "replicationcontrollers": ("", "ReplicationController", ("spec", "template", "spec")),
    "jobs": ("batch", "Job", ("spec", "template", "spec")),
    "cronjobs": ("batch", "CronJob", ("spec", "jobTemplate", "spec", "template", "spec")),
    "deploymentconfigs": ("apps.openshift.io", "DeploymentConfig", ("spec", "template", "spec")),
}


def conditions(rendered: Rendered) -> list[list[dict[str, str]]]:
    """The matchConditions of every entry of both webhook configurations."""
    return [
        webhook.get("matchConditions", [])
        for kind in WEBHOOK_KINDS
        for configuration in rendered.of_kind(kind)
        for webhook in configuration["webhooks"]
    ]


def calls_webhook(rendered: Rendered, review: dict[str, Any]) -> bool:
    """Whether the API server would call the webhook: every condition of every entry
    (they are the same on all entries) evaluates to true, and none fails."""
    per_entry = {
        all(evaluate(condition["expression"], review) for condition in entry)
        for entry in conditions(rendered)
    }
    (answer,) = per_entry
    return answer


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> Rendered:
    return helm.template(kube_version="1.28.0")


def pod_update(
    change: Any, *, subresource: str | None = None, namespace: str = "upd-ns"
) -> dict[str, Any]:
    """The captured `kubectl set image` UPDATE, its new pod replaced by `change(old pod)`."""
    review = sample("validate-pod-update-set-image")
    request = review["request"]
    request["namespace"] = namespace
    new = copy.deepcopy(request["oldObject"])
    change(new)
    request["object"] = new
    if subresource:
        request["subResource"] = subresource
    return review


def workload_update(resource: str, change: Any) -> dict[str, Any]:
    """An UPDATE of a workload whose pod template is the captured pod's spec."""
    group, kind, path = WORKLOADS[resource]
    review = sample("validate-pod-update-set-image")
    request = review["request"]
    pod_spec = request["oldObject"]["spec"]
    old: dict[str, Any] = {
        "apiVersion": f"{group}/v1" if group else "v1",
        "kind": kind,
        "metadata": {"name": "app", "namespace": "upd-ns", "generation": 3},
    }
    node = old
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = copy.deepcopy(pod_spec)
    old["spec"]["replicas"] = 2
    new = copy.deepcopy(old)
    change(new)
    for field in ("kind", "requestKind"):
        request[field] = {"group": group, "version": "v1", "kind": kind}
    for field in ("resource", "requestResource"):
        request[field] = {"group": group, "version": "v1", "resource": resource}
    request.update(name="app", object=new, oldObject=old)
    return review


def set_label(obj: dict[str, Any]) -> None:
    obj["metadata"].setdefault("labels", {})["team"] = "payments"


def set_annotation(obj: dict[str, Any]) -> None:
    obj["metadata"].setdefault("annotations", {})["owner"] = "payments"


def set_image(pod_spec: dict[str, Any]) -> None:
    pod_spec["containers"][0]["image"] = "registry.example.com/app:2.0"


def pod_spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    group_kind = obj["kind"]
    resource = next(r for r, (_, kind, _) in WORKLOADS.items() if kind == group_kind)
    node = obj
    for key in WORKLOADS[resource][2]:
        node = node[key]
    return node


def test_every_entry_carries_the_same_conditions(rendered: Rendered) -> None:
    found = conditions(rendered)
    assert len(found) == 4  # enforce, warn, audit, pin
    assert all(entry == found[0] for entry in found)
    assert [c["name"] for c in found[0]] == ["exclude-namespace-prefixes", "pod-spec-may-change"]


@pytest.mark.parametrize("name", CREATE_SAMPLES)
def test_creates_are_sent(rendered: Rendered, name: str) -> None:
    assert calls_webhook(rendered, sample(name)) is True


def test_the_captured_set_image_update_is_sent(rendered: Rendered) -> None:
    assert calls_webhook(rendered, sample("validate-pod-update-set-image")) is True


@pytest.mark.parametrize("change", [set_label, set_annotation], ids=["label", "annotation"])
def test_a_pod_update_of_metadata_alone_is_not_sent(rendered: Rendered, change: Any) -> None:
    assert calls_webhook(rendered, pod_update(change)) is False


def test_removing_the_finalizer_of_a_terminating_pod_is_not_sent(rendered: Rendered) -> None:
    def terminating(pod: dict[str, Any]) -> None:
        pod["metadata"]["deletionTimestamp"] = "2026-11-21T23:50:00Z"
        pod["metadata"]["deletionGracePeriodSeconds"] = 0

    review = pod_update(terminating)
    request = review["request"]
    request["oldObject"]["metadata"].update(
        finalizers=["example.com/cleanup"], deletionTimestamp="2026-11-21T23:50:00Z"
    )
    assert calls_webhook(rendered, review) is False


def test_an_ephemeral_container_is_always_sent(rendered: Rendered) -> None:
    debug = {"name": "debugger", "image": "busybox:1.36", "targetContainerName": "upd-pod"}
    added = pod_update(
        lambda pod: pod["spec"].setdefault("ephemeralContainers", []).append(debug),
        subresource="ephemeralcontainers",
    )
    assert calls_webhook(rendered, added) is True
    # even a request on the subresource that leaves the spec equal: it is never skipped
    assert calls_webhook(rendered, pod_update(set_label, subresource="ephemeralcontainers"))


def test_a_pod_image_change_is_sent(rendered: Rendered) -> None:
    assert calls_webhook(rendered, pod_update(lambda pod: set_image(pod["spec"]))) is True


@pytest.mark.parametrize("resource", sorted(WORKLOADS))
def test_a_workload_image_change_is_sent(rendered: Rendered, resource: str) -> None:
    review = workload_update(resource, lambda obj: set_image(pod_spec_of(obj)))
    assert calls_webhook(rendered, review) is True


@pytest.mark.parametrize("resource", sorted(WORKLOADS))
def test_a_workload_init_container_change_is_sent(rendered: Rendered, resource: str) -> None:
    init = {"name": "init", "image": "registry.example.com/init:1"}
    review = workload_update(
        resource, lambda obj: pod_spec_of(obj).setdefault("initContainers", []).append(init)
    )
    assert calls_webhook(rendered, review) is True


@pytest.mark.parametrize("resource", sorted(WORKLOADS))
def test_a_workload_update_outside_its_pod_spec_is_not_sent(
    rendered: Rendered, resource: str
) -> None:
    def scale_and_annotate(obj: dict[str, Any]) -> None:
        set_annotation(obj)
        obj["spec"]["replicas"] = 5

    assert calls_webhook(rendered, workload_update(resource, scale_and_annotate)) is False


@pytest.mark.parametrize(
    "strip",
    [
        lambda obj: obj.pop("spec"),
        lambda obj: obj["spec"].pop("template", None) or obj["spec"].pop("jobTemplate"),
    ],
    ids=["no spec", "no template"],
)
@pytest.mark.parametrize("side", ["object", "oldObject", "both"])
@pytest.mark.parametrize("resource", ["deployments", "cronjobs"])
def test_absent_fields_send_the_request_instead_of_failing(
    rendered: Rendered, resource: str, side: str, strip: Any
) -> None:
    """A missing field is "may have changed", never a CEL error (which Fail would reject)."""
    review = workload_update(resource, set_annotation)
    for name in ("object", "oldObject") if side == "both" else (side,):
        strip(review["request"][name])
    assert calls_webhook(rendered, review) is True


def test_a_pod_without_spec_is_sent(rendered: Rendered) -> None:
    review = pod_update(lambda pod: pod.pop("spec"))
    assert calls_webhook(rendered, review) is True


@pytest.mark.parametrize(
    ("namespace", "sent"),
    [("kube-system", False), ("openshift-monitoring", False), ("team-kube-a", True)],
)
def test_namespace_prefixes_are_never_sent(rendered: Rendered, namespace: str, sent: bool) -> None:
    review = pod_update(lambda pod: set_image(pod["spec"]), namespace=namespace)
    assert calls_webhook(rendered, review) is sent


@pytest.mark.parametrize(
    ("kube_version", "rendered_conditions"),
    [("1.27.9", False), ("1.28.0", True), ("v1.28.7+6e2789b", True), ("1.30.0", True)],
)
def test_match_conditions_are_rendered_from_kubernetes_1_28(
    helm: Helm, kube_version: str, rendered_conditions: bool
) -> None:
    rendered = helm.template(kube_version=kube_version)
    assert all(bool(entry) is rendered_conditions for entry in conditions(rendered))
    minor = ".".join(kube_version.lstrip("v").split("+")[0].split(".")[:2])
    for kind in WEBHOOK_KINDS:
        assert schema_errors(rendered.one(kind), minor) is None


def test_extra_match_conditions_follow_the_charts_own(helm: Helm) -> None:
    extra = {"name": "not-ci", "expression": "request.userInfo.username != 'ci'"}
    rendered = helm.template({"webhooks": {"extraMatchConditions": [extra]}})
    for entry in conditions(rendered):
        assert entry[-1] == extra
        assert len(entry) == 3
    review = sample("validate-pod-create-kubectl-run")
    assert calls_webhook(rendered, review) is True
    review["request"]["userInfo"]["username"] = "ci"
    assert calls_webhook(rendered, review) is False


def test_extra_match_conditions_need_match_conditions(helm: Helm) -> None:
    extra = {"name": "x", "expression": "true"}
    with pytest.raises(HelmError, match=r"extraMatchConditions needs matchConditions.*1\.28"):
        helm.template({"webhooks": {"extraMatchConditions": [extra]}}, kube_version="1.27.0")
    with pytest.raises(HelmError, match="extraMatchConditions needs matchConditions"):
        helm.template({"webhooks": {"matchConditions": False, "extraMatchConditions": [extra]}})


def test_extra_match_conditions_may_not_reuse_a_name(helm: Helm) -> None:
    extra = {"name": "pod-spec-may-change", "expression": "true"}
    with pytest.raises(HelmError, match='the name "pod-spec-may-change" is taken'):
        helm.template({"webhooks": {"extraMatchConditions": [extra]}})


@pytest.mark.parametrize(
    "extra",
    [{"name": "x"}, {"expression": "true"}, {"name": "bad name", "expression": "true"}],
    ids=["no expression", "no name", "bad name"],
)
def test_extra_match_conditions_are_checked_by_the_schema(
    helm: Helm, extra: dict[str, str]
) -> None:
    with pytest.raises(HelmError, match="schema"):
        helm.template({"webhooks": {"extraMatchConditions": [extra]}})


def test_an_object_selector_is_set_on_every_entry(helm: Helm) -> None:
    selector = {"matchExpressions": [{"key": "idms-guard.io/skip", "operator": "DoesNotExist"}]}
    rendered = helm.template({"webhooks": {"objectSelector": selector}})
    for kind in WEBHOOK_KINDS:
        configuration = rendered.one(kind)
        for webhook in configuration["webhooks"]:
            assert webhook["objectSelector"] == selector
        assert schema_errors(configuration, "1.28") is None
    for kind in WEBHOOK_KINDS:
        assert all("objectSelector" not in w for w in helm.template().one(kind)["webhooks"])


def test_an_object_selector_with_a_misspelt_key_is_rejected(helm: Helm) -> None:
    with pytest.raises(HelmError, match="schema"):
        helm.template({"webhooks": {"objectSelector": {"matchLabel": {"a": "b"}}}})

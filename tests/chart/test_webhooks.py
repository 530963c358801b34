"""The webhook configurations ask for what the app serves and select what DESIGN.md says.

Paths and modes are checked against the app's own routes (the admission routes in front
of Flask, Flask's for the rest) and `Mode`, the resources
against the kinds `webhook.core.workloads` reads images from, the label keys against the
constant the report uses; so a rename on either side fails here, not in a cluster.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import MapAdapter

from tests.chart.cases import CASES_BY_NAME, CERTIFICATE_MODE_CASES, OPENSHIFT_APIS
from tests.support.helm import NAMESPACE, Helm, HelmError, Rendered
from tests.support.reviews import pod_review
from webhook.adapters.http_admission import AdmissionRoutes
from webhook.adapters.http_app import AppSettings, create_app
from webhook.core.decision import Mode
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings
from webhook.core.workloads import SUPPORTED_KINDS
from webhook.index_sources import IndexHolder

MODE_LABEL = "idms-guard.io/mode"
PIN_LABEL = "idms-guard.io/pin-digests"
EXCLUDED = "kubernetes.io/metadata.name"


@pytest.fixture(scope="module")
def app() -> Flask:
    """The app as a worker builds it, its mirror sets read (none: every tag is a finding)."""
    source = IndexHolder()
    source.swap(load_mirror_sets([]))
    assert source.ready
    return create_app(AppSettings(PolicySettings()), source)


@pytest.fixture(scope="module")
def routes(app: Flask) -> MapAdapter:
    return app.url_map.bind("guard-idms-guard.idms-guard.svc")


def served(routes: MapAdapter, path: str, method: str) -> tuple[str, dict[str, Any]]:
    endpoint, arguments = routes.match(path, method=method)
    return str(endpoint), arguments


def admission_paths(app: Flask) -> frozenset[str]:
    """The POST paths answered in front of Flask (`AdmissionRoutes`)."""
    router = app.wsgi_app
    assert isinstance(router, AdmissionRoutes)
    return router.paths


def entries(rendered: Rendered, kind: str) -> dict[str, dict[str, Any]]:
    configurations = rendered.of_kind(kind)
    if not configurations:
        return {}
    (configuration,) = configurations
    return {webhook["name"]: webhook for webhook in configuration["webhooks"]}


def expression(webhook: dict[str, Any], key: str) -> dict[str, Any]:
    found = [e for e in webhook["namespaceSelector"]["matchExpressions"] if e["key"] == key]
    assert len(found) == 1, (webhook["name"], key)
    return found[0]


def test_the_label_key_is_the_one_the_app_reads() -> None:
    """The report (issue 5) reads namespaces by this label; the chart selects by it."""
    if importlib.util.find_spec("webhook.adapters.kube_inventory") is None:
        pytest.skip("webhook.adapters.kube_inventory does not exist yet")
    module = importlib.import_module("webhook.adapters.kube_inventory")
    assert module.MODE_LABEL == MODE_LABEL


def test_one_validating_entry_per_mode_calling_that_modes_path(
    default_render: Rendered, app: Flask
) -> None:
    webhooks = entries(default_render, "ValidatingWebhookConfiguration")
    assert set(webhooks) == {f"{mode.value}.idms-guard.io" for mode in Mode}
    for mode in Mode:
        webhook = webhooks[f"{mode.value}.idms-guard.io"]
        path = webhook["clientConfig"]["service"]["path"]
        assert path == f"/validate/{mode.value}"
        assert path in admission_paths(app)
        assert expression(webhook, MODE_LABEL) == {
            "key": MODE_LABEL,
            "operator": "In",
            "values": [mode.value],
        }
        reply = app.test_client().post(path, json=pod_review({"app": "quay.io/acme/app:1"}))
        assert reply.status_code == 200, (path, reply.get_data(as_text=True))
        assert reply.get_json()["response"]["allowed"] is (mode is not Mode.ENFORCE)


def test_the_mutating_entry_calls_mutate_in_namespaces_that_asked(
    default_render: Rendered, app: Flask
) -> None:
    webhooks = entries(default_render, "MutatingWebhookConfiguration")
    assert set(webhooks) == {"pin.idms-guard.io"}
    webhook = webhooks["pin.idms-guard.io"]
    path = webhook["clientConfig"]["service"]["path"]
    assert path == "/mutate"
    assert path in admission_paths(app)
    assert app.test_client().post(path, json=pod_review({"a": "nginx"})).status_code == 200
    assert expression(webhook, PIN_LABEL) == {
        "key": PIN_LABEL,
        "operator": "In",
        "values": ["true"],
    }
    assert webhook["failurePolicy"] == "Ignore"
    assert webhook["reinvocationPolicy"] == "IfNeeded"


def test_pinning_can_cover_every_guarded_namespace_that_did_not_opt_out(helm: Helm) -> None:
    rendered = CASES_BY_NAME["pinning-all-guarded-namespaces"].render(helm)
    webhooks = entries(rendered, "MutatingWebhookConfiguration")
    assert set(webhooks) == {"pin.idms-guard.io", "pin-guarded.idms-guard.io"}
    guarded = webhooks["pin-guarded.idms-guard.io"]
    assert expression(guarded, MODE_LABEL) == {"key": MODE_LABEL, "operator": "Exists"}
    # pin-digests=true is the other entry's (never called twice); =false opts out.
    assert expression(guarded, PIN_LABEL) == {
        "key": PIN_LABEL,
        "operator": "NotIn",
        "values": ["true", "false"],
    }


def test_pinning_off_renders_no_mutating_webhook(helm: Helm) -> None:
    rendered = CASES_BY_NAME["pinning-off"].render(helm)
    assert rendered.of_kind("MutatingWebhookConfiguration") == []
    assert len(entries(rendered, "ValidatingWebhookConfiguration")) == len(Mode)


def test_a_disabled_mode_has_no_entry(helm: Helm) -> None:
    rendered = helm.template(
        {"webhooks": {"warn": {"enabled": False}}, "tests": {"enabled": False}}
    )
    assert set(entries(rendered, "ValidatingWebhookConfiguration")) == {
        "enforce.idms-guard.io",
        "audit.idms-guard.io",
    }


def test_probe_and_metrics_paths_are_served(helm: Helm, routes: MapAdapter, app: Flask) -> None:
    rendered = CASES_BY_NAME["network-policy-service-monitor-static-mirror-sets"].render(helm)
    (container,) = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    monitor = rendered.one("ServiceMonitor")
    paths = {
        "liveness": container["livenessProbe"]["httpGet"]["path"],
        "readiness": container["readinessProbe"]["httpGet"]["path"],
        "metrics": monitor["spec"]["endpoints"][0]["path"],
    }
    assert paths == {"liveness": "/healthz", "readiness": "/readyz", "metrics": "/metrics"}
    for path in paths.values():
        served(routes, path, "GET")
        assert app.test_client().get(path).status_code == 200, path
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["scheme"] == "HTTPS"
        assert container[probe]["httpGet"]["port"] == "https"


def test_the_webhooks_reach_the_port_the_server_listens_on(default_render: Rendered) -> None:
    (container,) = default_render.one("Deployment")["spec"]["template"]["spec"]["containers"]
    arguments = container["args"]
    port = int(arguments[arguments.index("--port") + 1])
    assert port == 8443
    assert container["ports"] == [{"name": "https", "containerPort": port, "protocol": "TCP"}]
    service_port = default_render.one("Service")["spec"]["ports"][0]
    assert service_port["targetPort"] == "https"
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for webhook in entries(default_render, kind).values():
            assert webhook["clientConfig"]["service"]["port"] == service_port["port"]


def rule_resources(webhook: dict[str, Any]) -> set[tuple[str, str, tuple[str, ...]]]:
    return {
        (group, resource, tuple(rule["operations"]))
        for rule in webhook["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }


@pytest.mark.parametrize(
    ("case_name", "deployment_configs"),
    [
        ("defaults", False),
        ("openshift-apis-detected", True),
        ("openshift-apis-ignored", False),
        ("certificates-openshift", True),
    ],
)
def test_rules_cover_every_kind_the_app_reads_images_from(
    helm: Helm, case_name: str, deployment_configs: bool
) -> None:
    rendered = CASES_BY_NAME[case_name].render(helm)
    expected = {
        (group, kind.lower() + "s", ("CREATE", "UPDATE"))
        for group, kind in SUPPORTED_KINDS
        if deployment_configs or group != "apps.openshift.io"
    }
    expected.add(("", "pods/ephemeralcontainers", ("UPDATE",)))  # kubectl debug
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for webhook in entries(rendered, kind).values():
            assert rule_resources(webhook) == expected, webhook["name"]
            assert all(rule["scope"] == "Namespaced" for rule in webhook["rules"])


def test_deployment_configs_can_be_forced_without_the_api_present(helm: Helm) -> None:
    rendered = helm.template({"openshift": {"deploymentConfigs": True}})
    webhook = entries(rendered, "ValidatingWebhookConfiguration")["audit.idms-guard.io"]
    assert ("apps.openshift.io", "deploymentconfigs", ("CREATE", "UPDATE")) in rule_resources(
        webhook
    )


def test_every_entry_has_the_admission_settings_of_design_md(default_render: Rendered) -> None:
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for webhook in entries(default_render, kind).values():
            assert webhook["admissionReviewVersions"] == ["v1"]
            assert webhook["sideEffects"] == "None"
            assert webhook["matchPolicy"] == "Equivalent"
            assert webhook["timeoutSeconds"] == 5
            assert webhook["failurePolicy"] == "Ignore"


@pytest.mark.parametrize(
    ("values", "enforce_policy", "fail_closed"),
    [
        ({}, "Ignore", "false"),
        ({"webhooks": {"enforce": {"failurePolicy": "Fail"}}}, "Fail", "true"),
        (
            {"webhooks": {"enforce": {"failurePolicy": "Fail"}}, "policy": {"failClosed": False}},
            "Fail",
            "false",
        ),
        ({"policy": {"failClosed": True}}, "Ignore", "true"),
    ],
)
def test_failure_policy_per_mode_and_the_apps_fail_closed_setting(
    helm: Helm, values: dict[str, Any], enforce_policy: str, fail_closed: str
) -> None:
    rendered = helm.template(values)
    webhooks = entries(rendered, "ValidatingWebhookConfiguration")
    assert webhooks["enforce.idms-guard.io"]["failurePolicy"] == enforce_policy
    assert webhooks["warn.idms-guard.io"]["failurePolicy"] == "Ignore"
    assert webhooks["audit.idms-guard.io"]["failurePolicy"] == "Ignore"
    (container,) = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["IDMS_GUARD_FAIL_CLOSED"] == fail_closed


@pytest.mark.parametrize("mode", ["warn", "audit"])
def test_only_enforce_may_fail_closed(helm: Helm, mode: str) -> None:
    with pytest.raises(HelmError, match="failurePolicy"):
        helm.template({"webhooks": {mode: {"failurePolicy": "Fail"}}})


def test_system_and_release_namespaces_are_never_sent(default_render: Rendered) -> None:
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for webhook in entries(default_render, kind).values():
            excluded = expression(webhook, EXCLUDED)
            assert excluded["operator"] == "NotIn"
            assert {NAMESPACE, "kube-system", "kube-public", "kube-node-lease"} <= set(
                excluded["values"]
            )
            condition = webhook["matchConditions"][0]
            assert condition["name"] == "exclude-namespace-prefixes"
            assert condition["expression"] == (
                "!(request.namespace.startsWith('kube-') || "
                "request.namespace.startsWith('openshift-'))"
            )


@pytest.mark.parametrize(
    ("kube_version", "setting", "expected"),
    [
        ("1.27.0", "auto", False),
        ("1.28.0", "auto", True),
        ("v1.31.4+2a3b4c5", "auto", True),  # OpenShift's version strings
        ("1.27.0", True, True),
        ("1.33.0", False, False),
    ],
)
def test_match_conditions_follow_the_cluster_version(
    helm: Helm, kube_version: str, setting: Any, expected: bool
) -> None:
    rendered = helm.template({"webhooks": {"matchConditions": setting}}, kube_version=kube_version)
    for webhook in entries(rendered, "ValidatingWebhookConfiguration").values():
        assert ("matchConditions" in webhook) is expected


def test_timeouts_leave_room_for_registry_lookups(helm: Helm) -> None:
    rendered = helm.template({"webhooks": {"timeoutSeconds": 10}, "pinning": {"timeoutSeconds": 8}})
    validating = entries(rendered, "ValidatingWebhookConfiguration").values()
    assert {webhook["timeoutSeconds"] for webhook in validating} == {10}
    mutating = entries(rendered, "MutatingWebhookConfiguration").values()
    assert {webhook["timeoutSeconds"] for webhook in mutating} == {8}
    with pytest.raises(HelmError, match="lookupTimeoutSeconds"):
        helm.template({"pinning": {"lookupTimeoutSeconds": 5}})
    with pytest.raises(HelmError, match="lookupTimeoutSeconds"):
        helm.template({"pinning": {"timeoutSeconds": 2}})


@pytest.mark.parametrize("mode", sorted(CERTIFICATE_MODE_CASES))
def test_each_certificate_mode_gives_the_api_server_its_ca(helm: Helm, mode: str) -> None:
    rendered = CERTIFICATE_MODE_CASES[mode].render(helm)
    configurations = [
        *rendered.of_kind("ValidatingWebhookConfiguration"),
        *rendered.of_kind("MutatingWebhookConfiguration"),
    ]
    for configuration in configurations:
        annotations = configuration["metadata"].get("annotations", {})
        bundles = {w["clientConfig"].get("caBundle") for w in configuration["webhooks"]}
        if mode in ("helm", "secret"):
            (bundle,) = bundles
            assert bundle is not None
            assert base64.b64decode(bundle).startswith(b"-----BEGIN CERTIFICATE-----")
            assert not annotations
        else:  # filled in by an injector; a caBundle here would fight it
            assert bundles == {None}
        if mode == "cert-manager":
            assert annotations["cert-manager.io/inject-ca-from"].startswith(f"{NAMESPACE}/")
        if mode == "openshift":
            assert annotations == {"service.beta.openshift.io/inject-cabundle": "true"}
    service_annotations = rendered.one("Service")["metadata"].get("annotations", {})
    tls_volume = next(
        volume
        for volume in rendered.one("Deployment")["spec"]["template"]["spec"]["volumes"]
        if volume["name"] == "tls"
    )
    if mode == "openshift":
        assert service_annotations == {
            "service.beta.openshift.io/serving-cert-secret-name": tls_volume["secret"]["secretName"]
        }
    else:
        assert service_annotations == {}
    if mode == "secret":
        assert tls_volume["secret"]["secretName"] == "idms-guard-webhook-tls"


def test_secret_mode_needs_a_secret_name_and_a_ca(helm: Helm) -> None:
    with pytest.raises(HelmError, match=r"certificates\.secret\.name is required"):
        helm.template({"certificates": {"mode": "secret"}})
    with pytest.raises(HelmError, match=r"certificates\.secret\.caBundle is required"):
        helm.template({"certificates": {"mode": "secret", "secret": {"name": "tls"}}})


def test_openshift_capabilities_alone_do_not_change_the_certificate_mode(helm: Helm) -> None:
    rendered = helm.template(api_versions=OPENSHIFT_APIS)
    assert rendered.one("Secret")["type"] == "kubernetes.io/tls"


@pytest.mark.parametrize(
    "values",
    [
        {"certificates": {"mode": "openshift"}},
        {"registry": {"ca": {"openshiftTrustedBundle": True}}},
    ],
    ids=["openshift certificates", "openshift trusted CA bundle"],
)
def test_deployment_configs_stay_in_a_gitops_render_that_chose_openshift(
    helm: Helm, values: dict[str, Any]
) -> None:
    """No --api-versions (helm template for GitOps): OpenShift in the values is enough."""
    rendered = helm.template(values)
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for webhook in entries(rendered, kind).values():
            assert ("apps.openshift.io", "deploymentconfigs", ("CREATE", "UPDATE")) in (
                rule_resources(webhook)
            ), webhook["name"]


def test_deployment_configs_can_be_left_out_on_openshift(helm: Helm) -> None:
    rendered = helm.template(
        {"certificates": {"mode": "openshift"}, "openshift": {"deploymentConfigs": False}},
        api_versions=OPENSHIFT_APIS,
    )
    webhook = entries(rendered, "ValidatingWebhookConfiguration")["audit.idms-guard.io"]
    assert not {r for r in rule_resources(webhook) if r[0] == "apps.openshift.io"}

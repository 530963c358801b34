"""Every render of the matrix is valid Kubernetes, and its objects point at each other.

The API schemas come from kubernetes-validate (tests/chart/kube_schemas.py) for several
Kubernetes versions; objects of CRD kinds (cert-manager, prometheus-operator) are checked
field by field here instead, and so are the cross-references a schema cannot see: the
Service selects the pods, the webhooks call the Service, volumes name existing objects.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from tests.chart.cases import CASES, Case, case_ids
from tests.chart.kube_schemas import CRD_KINDS, VERSIONS, schema_errors
from tests.support.crd_schema import crd_schema_errors
from tests.support.helm import NAMESPACE, Helm, Rendered

CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
WEBHOOK_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


@pytest.fixture(params=CASES, ids=case_ids())
def case(request: pytest.FixtureRequest) -> Case:
    case: Case = request.param
    return case


@pytest.fixture
def rendered(helm: Helm, case: Case) -> Rendered:
    return case.render(helm)


def test_every_document_is_valid_for_each_kubernetes_version(rendered: Rendered) -> None:
    problems = [
        f"{document['kind']}/{document['metadata']['name']} on {version}: {error}"
        for document in rendered.documents
        if (document["apiVersion"], document["kind"]) not in CRD_KINDS
        for version in VERSIONS
        if (error := schema_errors(document, version))
    ]
    assert problems == []


def test_names_fit_and_namespaced_objects_are_in_the_release_namespace(rendered: Rendered) -> None:
    for document in rendered.documents:
        metadata = document["metadata"]
        assert len(metadata["name"]) <= 63, metadata["name"]
        if document["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in metadata
        elif "helm.sh/hook" in metadata.get("annotations", {}):  # `helm test`'s namespace
            assert metadata["namespace"] == rendered.one("Namespace")["metadata"]["name"]
        else:
            assert metadata["namespace"] == NAMESPACE, document["kind"]


def test_every_object_carries_the_release_labels(rendered: Rendered) -> None:
    for document in rendered.documents:
        labels = document["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/instance") == "guard", document["kind"]
        assert labels.get("app.kubernetes.io/name") == "idms-guard", document["kind"]


def test_the_service_the_pdb_and_the_pods_agree(rendered: Rendered) -> None:
    deployment = rendered.one("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    service = rendered.one("Service")
    assert service["spec"]["selector"] == selector
    (port,) = service["spec"]["ports"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    for budget in rendered.of_kind("PodDisruptionBudget"):
        assert budget["spec"]["selector"]["matchLabels"] == selector
    for policy in rendered.of_kind("NetworkPolicy"):
        assert policy["spec"]["podSelector"]["matchLabels"] == selector
    for pod in rendered.of_kind("Pod"):  # the helm test pod must not join the Service
        assert not selector.items() <= pod["metadata"]["labels"].items()


def test_webhooks_call_the_service(rendered: Rendered) -> None:
    service = rendered.one("Service")
    for kind in WEBHOOK_KINDS:
        for configuration in rendered.of_kind(kind):
            for webhook in configuration["webhooks"]:
                target = webhook["clientConfig"]["service"]
                assert target["name"] == service["metadata"]["name"]
                assert target["namespace"] == NAMESPACE
                assert target["port"] == service["spec"]["ports"][0]["port"]


def test_volumes_name_objects_that_exist(rendered: Rendered, case: Case) -> None:
    """Every Secret and ConfigMap a pod mounts is rendered by the chart, or is one the
    values name (made by the user, cert-manager or OpenShift)."""
    provided = _externally_provided(rendered, case)
    rendered_names = {
        (document["kind"], document["metadata"]["name"]) for document in rendered.documents
    }
    pods = [rendered.one("Deployment")["spec"]["template"]["spec"], *_test_pod_specs(rendered)]
    for spec in pods:
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                reference = ("Secret", volume["secret"]["secretName"])
            elif "configMap" in volume:
                reference = ("ConfigMap", volume["configMap"]["name"])
            else:
                continue
            assert reference in rendered_names | provided, reference


def test_chart_mirror_sets_are_accepted_by_the_crds(rendered: Rendered) -> None:
    for config_map in rendered.of_kind("ConfigMap"):
        text = config_map.get("data", {}).get("mirror-sets.yaml")
        if text is None:
            continue
        objects = [document for document in yaml.safe_load_all(text) if document]
        assert objects
        for document in objects:
            assert crd_schema_errors(document) == [], document["metadata"]["name"]


def test_cert_manager_objects_are_consistent(rendered: Rendered) -> None:
    certificates = rendered.of_kind("Certificate")
    issuers = {issuer["metadata"]["name"]: issuer for issuer in rendered.of_kind("Issuer")}
    if not certificates:
        assert not issuers
        return
    deployment = rendered.one("Deployment")
    tls_secret = _volume(deployment, "tls")["secret"]["secretName"]
    serving = [c for c in certificates if not c["spec"].get("isCA")]
    (certificate,) = serving
    spec = certificate["spec"]
    assert spec["secretName"] == tls_secret
    assert spec["dnsNames"] == [_service_dns(rendered), _service_dns(rendered) + ".cluster.local"]
    assert "server auth" in spec["usages"]
    assert spec["privateKey"]["rotationPolicy"] == "Always"
    _assert_issuer_exists(spec["issuerRef"], issuers)
    for ca in [c for c in certificates if c["spec"].get("isCA")]:
        _assert_issuer_exists(ca["spec"]["issuerRef"], issuers)
        assert any(i["spec"].get("ca", {}).get("secretName") == ca["spec"]["secretName"]
                   for i in issuers.values())  # fmt: skip
    for issuer in issuers.values():
        assert len(issuer["spec"].keys() & {"selfSigned", "ca"}) == 1
    injected = f"{NAMESPACE}/{certificate['metadata']['name']}"
    for kind in WEBHOOK_KINDS:
        for configuration in rendered.of_kind(kind):
            annotations = configuration["metadata"]["annotations"]
            assert annotations["cert-manager.io/inject-ca-from"] == injected


def test_service_monitor_scrapes_the_metrics_port_over_verified_tls(rendered: Rendered) -> None:
    for monitor in rendered.of_kind("ServiceMonitor"):
        service = rendered.one("Service")
        spec = monitor["spec"]
        assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        (endpoint,) = spec["endpoints"]
        assert endpoint["port"] == service["spec"]["ports"][0]["name"]
        assert endpoint["scheme"] == "https"
        assert endpoint["path"] == "/metrics"
        tls = endpoint["tlsConfig"]
        assert tls["serverName"] == _service_dns(rendered)
        assert "insecureSkipVerify" not in tls
        ((source, reference),) = tls["ca"].items()
        kind = {"secret": "Secret", "configMap": "ConfigMap"}[source]
        assert (kind, reference["name"]) in _ca_objects(rendered), reference


def test_generated_certificate_verifies_for_the_service_name(helm: Helm) -> None:
    from cryptography import x509

    rendered = helm.template()
    secret = rendered.one("Secret")
    assert secret["type"] == "kubernetes.io/tls"
    data = {key: base64.b64decode(value) for key, value in secret["data"].items()}
    ca = x509.load_pem_x509_certificate(data["ca.crt"])
    serving = x509.load_pem_x509_certificate(data["tls.crt"])
    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = _service_dns(rendered)
    assert names.get_values_for_type(x509.DNSName) == [dns, dns + ".cluster.local"]
    for kind in WEBHOOK_KINDS:
        for webhook in rendered.one(kind)["webhooks"]:
            # the CA, then the next one, ready for a rotation (test_certificate_rotation)
            bundle = base64.b64decode(webhook["clientConfig"]["caBundle"])
            assert bundle == data["ca.crt"] + data["next-ca.crt"]


def _service_dns(rendered: Rendered) -> str:
    return f"{rendered.one('Service')['metadata']['name']}.{NAMESPACE}.svc"


def _volume(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    (volume,) = [volume for volume in volumes if volume["name"] == name]
    return volume


def _test_pod_specs(rendered: Rendered) -> list[dict[str, Any]]:
    return [pod["spec"] for pod in rendered.of_kind("Pod")]


def _assert_issuer_exists(reference: dict[str, str], issuers: dict[str, Any]) -> None:
    if reference.get("kind", "Issuer") == "Issuer":
        assert reference["name"] in issuers, reference
    else:  # a ClusterIssuer of the user's
        assert reference["kind"] == "ClusterIssuer"


def _ca_objects(rendered: Rendered) -> set[tuple[str, str]]:
    names = {(d["kind"], d["metadata"]["name"]) for d in rendered.documents}
    deployment = rendered.one("Deployment")
    names.add(("Secret", _volume(deployment, "tls")["secret"]["secretName"]))
    return names


def _externally_provided(rendered: Rendered, case: Case) -> set[tuple[str, str]]:
    """Objects the chart does not render but that exist by the time the pods start."""
    values: dict[str, Any] = {}
    for file in case.files:
        values.update(yaml.safe_load(file.read_text()))
    values.update(case.values)
    provided = set()
    certificates = values.get("certificates", {})
    mode = certificates.get("mode", "helm")
    tls_secret = _volume(rendered.one("Deployment"), "tls")["secret"]["secretName"]
    if mode == "secret":
        provided.add(("Secret", certificates["secret"]["name"]))
    if mode in ("cert-manager", "openshift"):  # written by cert-manager / service-ca
        provided.add(("Secret", tls_secret))
    registry = values.get("registry", {})
    if name := registry.get("auth", {}).get("secretName"):
        provided.add(("Secret", name))
    if name := registry.get("ca", {}).get("configMapName"):
        provided.add(("ConfigMap", name))
    if name := values.get("mirrorSets", {}).get("existingConfigMap"):
        provided.add(("ConfigMap", name))
    return provided

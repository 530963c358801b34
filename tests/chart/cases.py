"""Named value sets for `helm template`: the matrix the chart tests render.

Each case is the values and the cluster facts (Kubernetes version, API groups) of one
render. The value files under charts/idms-guard/ci/ are the chart-testing sets; the other
cases vary one thing each from the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.helm import CHART, KUBE_VERSION, Helm, Rendered

CI_VALUES = CHART / "ci"
OPENSHIFT_APIS = ("apps.openshift.io/v1", "config.openshift.io/v1", "route.openshift.io/v1")


@dataclass(frozen=True)
class Case:
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    value_file: str | None = None
    kube_version: str = KUBE_VERSION
    api_versions: tuple[str, ...] = ()

    def render(self, helm: Helm) -> Rendered:
        return helm.template(
            self.values,
            value_files=self.files,
            kube_version=self.kube_version,
            api_versions=self.api_versions,
        )

    @property
    def files(self) -> list[Path]:
        return [CI_VALUES / self.value_file] if self.value_file else []


CASES = (
    Case("defaults"),
    Case("certificates-secret", value_file="secret-values.yaml"),
    Case("certificates-cert-manager", value_file="cert-manager-values.yaml"),
    Case(
        "certificates-cert-manager-cluster-issuer",
        {
            "certificates": {
                "mode": "cert-manager",
                "certManager": {"issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}},
            }
        },
    ),
    Case("certificates-openshift", value_file="openshift-values.yaml", api_versions=OPENSHIFT_APIS),
    Case("enforce-fails-closed", {"webhooks": {"enforce": {"failurePolicy": "Fail"}}}),
    Case("pinning-off", {"pinning": {"enabled": False}}),
    Case("pinning-all-guarded-namespaces", {"pinning": {"allGuardedNamespaces": True}}),
    Case("openshift-apis-detected", api_versions=OPENSHIFT_APIS),
    Case(
        "openshift-apis-ignored",
        {"openshift": {"deploymentConfigs": False}},
        api_versions=OPENSHIFT_APIS,
    ),
    Case("kubernetes-1.27-no-match-conditions", kube_version="1.27.0"),
    Case("network-policy-service-monitor-static-mirror-sets", value_file="hardened-values.yaml"),
    Case("minimal", value_file="minimal-values.yaml"),
)

CASES_BY_NAME = {case.name: case for case in CASES}
CERTIFICATE_MODE_CASES = {
    "helm": CASES_BY_NAME["defaults"],
    "secret": CASES_BY_NAME["certificates-secret"],
    "cert-manager": CASES_BY_NAME["certificates-cert-manager"],
    "openshift": CASES_BY_NAME["certificates-openshift"],
}


def case_ids(cases: tuple[Case, ...] = CASES) -> list[str]:
    return [case.name for case in cases]

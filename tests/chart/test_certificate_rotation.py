"""helm certificate mode across upgrades, rotations and rollbacks, with the real `lookup`.

Each render is `helm template --dry-run=server` against a stand-in API server
(tests/support/helm_cluster.py) that holds the TLS Secret the previous render made, as
`helm upgrade` finds it. "Installing" a render puts its Secret there, with the ownership
metadata helm would add. Trust is checked with `cryptography`: a serving certificate is
trusted when a CA of the webhooks' caBundle issued it.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from tests.support.helm import CHART, NAMESPACE, RELEASE, Helm, HelmError
from tests.support.helm_cluster import HelmCluster

TOKEN = "certificates.helm.rotationToken"


class Release:
    """Renders against the stand-in cluster; `install` stores a render's Secret."""

    def __init__(self, helm: Helm, cluster: HelmCluster) -> None:
        self.helm = helm
        self.cluster = cluster

    def render(self, *settings: str) -> Render:
        arguments = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
        arguments += ["--dry-run=server", "--disable-openapi-validation"]
        arguments += ["--kubeconfig", str(self.cluster.kubeconfig)]
        for setting in settings:
            arguments += ["--set", setting]
        documents = [d for d in yaml.safe_load_all(self.helm.run(*arguments)) if d]
        return Render(documents)

    def install(self, render: Render) -> None:
        secret = copy.deepcopy(render.secret)
        secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "Helm"
        secret["metadata"].setdefault("annotations", {}).update(
            {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": NAMESPACE}
        )
        self.cluster.put(secret)

    def upgrade(self, *settings: str) -> Render:
        render = self.render(*settings)
        self.install(render)
        return render


class Render:
    def __init__(self, documents: list[dict[str, Any]]) -> None:
        (self.secret,) = [d for d in documents if d["kind"] == "Secret"]
        self.bundles = {
            entry["clientConfig"]["caBundle"]
            for d in documents
            if d["kind"].endswith("WebhookConfiguration")
            for entry in d["webhooks"]
        }

    @property
    def data(self) -> dict[str, str]:
        data: dict[str, str] = self.secret["data"]
        return data

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(base64.b64decode(self.data["tls.crt"]))

    @property
    def bundle(self) -> list[x509.Certificate]:
        (bundle,) = self.bundles  # every entry of both configurations carries the same
        return x509.load_pem_x509_certificates(base64.b64decode(bundle))

    def ca(self, key: str = "ca.crt") -> x509.Certificate:
        return x509.load_pem_x509_certificate(base64.b64decode(self.data[key]))

    def trusts(self, certificate: x509.Certificate) -> bool:
        for ca in self.bundle:
            try:
                certificate.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
        return False


@pytest.fixture
def release(helm: Helm, tmp_path: Path) -> Iterator[Release]:
    with HelmCluster(tmp_path) as cluster:
        yield Release(helm, cluster)


def test_an_install_serves_a_certificate_its_bundle_trusts(release: Release) -> None:
    first = release.upgrade()
    assert first.trusts(first.certificate)
    assert first.certificate.verify_directly_issued_by(first.ca()) is None
    assert "previous-ca.crt" not in first.data
    assert [ca.subject for ca in first.bundle] == [
        first.ca().subject,
        first.ca("next-ca.crt").subject,
    ]


def test_an_upgrade_keeps_the_installed_certificate(release: Release) -> None:
    first = release.upgrade()
    again = release.upgrade()
    assert again.data == first.data
    assert again.bundles == first.bundles


def test_a_new_rotation_token_rotates_once(release: Release) -> None:
    first = release.upgrade()
    rotated = release.upgrade(f"{TOKEN}=2026-12-02")
    assert rotated.data["tls.crt"] != first.data["tls.crt"]
    annotations = rotated.secret["metadata"]["annotations"]
    assert annotations["idms-guard.io/rotation-token"] == "2026-12-02"
    reused = release.upgrade(f"{TOKEN}=2026-12-02")  # helm upgrade --reuse-values
    assert reused.data == rotated.data
    dropped = release.upgrade()  # the value unset later: nothing to rotate for either
    assert dropped.data == rotated.data
    again = release.upgrade(f"{TOKEN}=2027-06-01")
    assert again.data["tls.crt"] != rotated.data["tls.crt"]


def test_a_rotation_and_a_rollback_across_it_keep_every_served_certificate_trusted(
    release: Release,
) -> None:
    """After the upgrade, pods serve the old certificate until kubelet refreshes the
    Secret; after `helm rollback`, the new one: each bundle must trust both."""
    before = release.upgrade()
    after = release.upgrade(f"{TOKEN}=2026-12-02")
    assert after.trusts(after.certificate)
    assert after.trusts(before.certificate)  # the upgrade's window
    assert before.trusts(after.certificate)  # the rollback's window: the next CA was there
    assert after.ca() == before.ca("next-ca.crt")
    assert after.ca("previous-ca.crt") == before.ca()


def test_the_previous_ca_stays_until_the_next_rotation(release: Release) -> None:
    first = release.upgrade()
    second = release.upgrade(f"{TOKEN}=one")
    kept = release.upgrade(f"{TOKEN}=one")
    assert kept.trusts(first.certificate)
    third = release.upgrade(f"{TOKEN}=two")
    assert third.trusts(second.certificate)
    assert not third.trusts(first.certificate)
    assert first.ca() not in third.bundle


def test_a_numeric_rotation_token_from_set_works(release: Release) -> None:
    first = release.upgrade()
    rotated = release.upgrade(f"{TOKEN}=20261202")  # --set passes an integer
    assert rotated.data["tls.crt"] != first.data["tls.crt"]
    assert rotated.secret["metadata"]["annotations"]["idms-guard.io/rotation-token"] == "20261202"


def test_a_secret_from_an_older_chart_keeps_its_certificate_and_gains_a_next_ca(
    release: Release,
) -> None:
    first = release.render()
    for key in ("next-ca.crt", "next-ca.key"):
        del first.secret["data"][key]
    release.install(first)
    upgraded = release.upgrade()
    assert upgraded.data["tls.crt"] == first.data["tls.crt"]
    assert upgraded.trusts(first.certificate)
    assert upgraded.ca("next-ca.crt") in upgraded.bundle


def test_rotate_true_is_refused_with_a_pointer(helm: Helm) -> None:
    with pytest.raises(HelmError, match=r"replaced by certificates\.helm\.rotationToken"):
        helm.template({"certificates": {"helm": {"rotate": True}}})

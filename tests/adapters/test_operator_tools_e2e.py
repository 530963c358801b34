"""`explain --probe` and `check --pin --write` against real Distribution registries."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.mirror_objects import entry, mirror_object
from tests.support.registry import FaultMode, RegistryServer, RegistryTls, push_image
from tests.test_cli import run

MANIFEST = """\
# the shop, as kept in git
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
        - name: shop
          image: "quay.io/acme/shop:1.4"   # bumped by CI
        - name: absent
          image: quay.io/acme/absent:1
"""


@pytest.fixture(scope="module")
def shop_digest(htpasswd_registry: RegistryServer) -> str:
    return push_image(htpasswd_registry, "mirror/acme/shop", "1.4", layer_bytes=b"shop 1.4")


def write_auth(directory: Path, registry: RegistryServer, password: str | None = None) -> Path:
    user, real = next(iter(registry.users.items()))
    token = base64.b64encode(f"{user}:{password or real}".encode()).decode()
    path = directory / "auth.json"
    path.write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    return path


def write_sets(directory: Path, *objects: dict[str, Any]) -> Path:
    path = directory / "mirror-sets.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    return path


def acme_sets(directory: Path, host: str, never: bool = False) -> Path:
    mirrors = [entry("quay.io/acme", f"{host}/mirror/acme", never=never)]
    return write_sets(directory, mirror_object("idms", "acme", mirrors))


def probe(tmp_path: Path, tls: RegistryTls, sets: Path, auth: Path, *images: str) -> Any:
    code, out, err = run(
        "explain", *images, "--mirror-sets", str(sets), "--probe", "--json",
        "--registry-auth", str(auth), "--registry-ca", str(tls.ca_file),
    )  # fmt: skip
    return code, [json.loads(line) for line in out.splitlines()], err


def test_probe_finds_the_image_in_the_mirror_and_names_it_as_the_pull_source(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, shop_digest: str
) -> None:
    sets = acme_sets(tmp_path, htpasswd_registry.host, never=True)
    image = f"quay.io/acme/shop@{shop_digest}"
    code, (answer,), _ = probe(
        tmp_path, registry_tls, sets, write_auth(tmp_path, htpasswd_registry), image
    )
    mirror, source = answer["candidates"]
    assert mirror["probe"] == {
        "outcome": "found",
        "digest": shop_digest,
        "detail": mirror["probe"]["detail"],
    }
    assert source["probe"] == {"outcome": "blocked"}
    assert answer["pulls_from"] == f"{htpasswd_registry.host}/mirror/acme/shop@{shop_digest}"
    assert (code, answer["first_problem"]) == (0, None)


def test_probe_reports_a_missing_image_as_the_first_problem(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    sets = acme_sets(tmp_path, htpasswd_registry.host, never=True)
    image = "quay.io/acme/absent@sha256:" + "1" * 64
    code, (answer,), _ = probe(
        tmp_path, registry_tls, sets, write_auth(tmp_path, htpasswd_registry), image
    )
    assert answer["candidates"][0]["probe"]["outcome"] == "not-found"
    assert answer["pulls_from"] is None
    assert "is not there: mirror it" in answer["first_problem"]
    assert code == 1


def test_probe_reports_refused_credentials(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, shop_digest: str
) -> None:
    sets = acme_sets(tmp_path, htpasswd_registry.host, never=True)
    auth = write_auth(tmp_path, htpasswd_registry, password="wrong")
    _, (answer,), _ = probe(tmp_path, registry_tls, sets, auth, f"quay.io/acme/shop@{shop_digest}")
    assert answer["candidates"][0]["probe"]["outcome"] == "unauthorized"
    assert "check the pull secret" in answer["first_problem"]
    assert "wrong" not in json.dumps(answer)


def test_probe_reports_an_unreachable_mirror(
    tmp_path: Path, fault_server: Any, htpasswd_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    down = fault_server(FaultMode.REFUSED)
    sets = acme_sets(tmp_path, down.host, never=True)
    auth = write_auth(tmp_path, htpasswd_registry)
    image = "quay.io/acme/shop@sha256:" + "2" * 64
    _, (answer,), _ = probe(tmp_path, registry_tls, sets, auth, image)
    assert answer["candidates"][0]["probe"]["outcome"] == "unreachable"
    assert "cannot be reached" in answer["first_problem"]


def test_probe_text_ends_with_a_summary_naming_the_first_problem(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, shop_digest: str
) -> None:
    sets = acme_sets(tmp_path, htpasswd_registry.host, never=True)
    code, out, _ = run(
        "explain", f"quay.io/acme/shop@{shop_digest}", "quay.io/acme/absent:2",
        "--mirror-sets", str(sets), "--probe",
        "--registry-auth", str(write_auth(tmp_path, htpasswd_registry)),
        "--registry-ca", str(registry_tls.ca_file),
    )  # fmt: skip
    assert code == 1
    assert "the node pulls from" in out
    assert out.splitlines()[-1].startswith("summary: 1 of 2 images can be pulled; fix first: ")


def test_check_pin_write_rewrites_only_the_image_and_keeps_the_file_as_it_was(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, shop_digest: str
) -> None:
    manifest = tmp_path / "deploy" / "shop.yaml"
    manifest.parent.mkdir()
    manifest.write_text(MANIFEST)
    sets = acme_sets(tmp_path, htpasswd_registry.host)
    code, _, err = run(
        "check", str(manifest.parent), "--mirror-sets", str(sets), "--pin", "--write",
        "--registry-auth", str(write_auth(tmp_path, htpasswd_registry)),
        "--registry-ca", str(registry_tls.ca_file),
    )  # fmt: skip
    expected = MANIFEST.replace("quay.io/acme/shop:1.4", f"quay.io/acme/shop@{shop_digest}")
    assert manifest.read_text() == expected
    assert f"{manifest}:11: pinned quay.io/acme/shop:1.4 → quay.io/acme/shop@{shop_digest}" in err
    assert "quay.io/acme/absent:1: not pinned: tag not found in the mirrors" in err
    assert code == 1  # the absent tag is still a finding


def test_check_pin_without_write_leaves_the_files_alone(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, shop_digest: str
) -> None:
    manifest = tmp_path / "shop.yaml"
    manifest.write_text(MANIFEST)
    _, _, err = run(
        "check", str(manifest), "--mirror-sets", str(acme_sets(tmp_path, htpasswd_registry.host)),
        "--pin", "--registry-auth", str(write_auth(tmp_path, htpasswd_registry)),
        "--registry-ca", str(registry_tls.ca_file),
    )  # fmt: skip
    assert manifest.read_text() == MANIFEST
    assert "would pin quay.io/acme/shop:1.4" in err


def test_write_without_pin_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("check", str(tmp_path), "--example", "--write")
    assert code == 2
    assert "--write goes with --pin" in err

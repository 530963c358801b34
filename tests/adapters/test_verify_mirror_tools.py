"""`check --verify-mirror` and `report --verify-mirror` against real Distribution registries:
the mirror is asked whether it holds each image the configuration routes to it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import webhook.cli
from tests.adapters.test_operator_tools_e2e import write_auth, write_sets
from tests.support.cluster_objects import namespace, workload
from tests.support.fake_kube import FakeKube
from tests.support.mirror_objects import entry, mirror_object
from tests.support.registry import OCI_INDEX, FaultMode, RegistryServer, RegistryTls, push_image
from tests.support.registry import push_index as push_index_to
from tests.test_cli import run

ABSENT_DIGEST = "sha256:" + "1" * 64


def child_digests(registry: RegistryServer, repository: str, tag: str) -> list[str]:
    """The platform manifests an index names, read back from the registry."""
    response = registry.pool.request(
        "GET",
        f"{registry.url}/v2/{repository}/manifests/{tag}",
        headers={**registry.push_authorization(repository), "Accept": OCI_INDEX},
    )
    assert response.status == 200, response.data
    return [manifest["digest"] for manifest in json.loads(response.data)["manifests"]]


@pytest.fixture(scope="module")
def pushed(htpasswd_registry: RegistryServer) -> dict[str, str]:
    registry = htpasswd_registry
    index = push_index_to(registry, "mirror/verify/multi", "v2")
    return {
        "app": push_image(registry, "mirror/verify/app", "v1", layer_bytes=b"verify app v1"),
        "multi": index,
        "child": child_digests(registry, "mirror/verify/multi", "v2")[0],
    }


def verify_sets(directory: Path, host: str) -> Path:
    """quay.io/verify → <host>/mirror/verify, by digest (IDMS) and by tag (ITMS)."""
    mirrors = [entry("quay.io/verify", f"{host}/mirror/verify", never=True)]
    return write_sets(
        directory,
        mirror_object("idms", "verify", mirrors),
        mirror_object("itms", "verify", mirrors),
    )


def pod(*images: str) -> dict[str, Any]:
    containers = [{"name": f"c{n}", "image": image} for n, image in enumerate(images)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": containers},
    }


def check(
    directory: Path, registry: RegistryServer, tls: RegistryTls, *images: str, host: str = ""
) -> tuple[int, list[dict[str, Any]], str]:
    manifest = directory / "pod.json"
    manifest.write_text(json.dumps(pod(*images)))
    code, out, err = run(
        "check", str(manifest), "--output", "json", "--verify-mirror",
        "--mirror-sets", str(verify_sets(directory, host or registry.host)),
        "--registry-auth", str(write_auth(directory, registry)),
        "--registry-ca", str(tls.ca_file),
    )  # fmt: skip
    return code, json.loads(out), err


def test_a_digest_the_mirror_holds_passes(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: Any
) -> None:
    image = f"quay.io/verify/app@{pushed['app']}"
    assert check(tmp_path, htpasswd_registry, registry_tls, image) == (0, [], "")


def test_a_digest_the_mirror_lacks_is_not_in_mirror(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: Any
) -> None:
    image = f"quay.io/verify/app@{ABSENT_DIGEST}"
    code, (finding,), _ = check(tmp_path, htpasswd_registry, registry_tls, image)
    assert code == 1
    assert finding["reason"] == "not-in-mirror"
    assert finding["problem"] == (
        f"in none of its mirrors ({htpasswd_registry.host}/mirror/verify/app: not found)"
    )
    assert finding["fix"] == "mirror it (oc-mirror, or skopeo copy --all) before deploying"


def test_a_repository_the_mirror_lacks_is_not_in_mirror(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    image = f"quay.io/verify/never-mirrored@{ABSENT_DIGEST}"
    code, (finding,), _ = check(tmp_path, htpasswd_registry, registry_tls, image)
    assert (code, finding["reason"]) == (1, "not-in-mirror")


def test_an_index_and_a_platform_manifest_of_it_are_both_present_by_digest(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: Any
) -> None:
    images = [f"quay.io/verify/multi@{pushed['multi']}", f"quay.io/verify/multi@{pushed['child']}"]
    assert check(tmp_path, htpasswd_registry, registry_tls, *images) == (0, [], "")


def test_a_tag_on_the_tag_mirror_passes_and_a_missing_tag_does_not(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, pushed: Any
) -> None:
    images = ["quay.io/verify/app:v1", "quay.io/verify/app:v9"]
    code, findings, _ = check(tmp_path, htpasswd_registry, registry_tls, *images)
    assert code == 1
    assert [(f["image"], f["reason"]) for f in findings] == [
        ("quay.io/verify/app:v9", "not-in-mirror")
    ]
    assert findings[0]["problem"].startswith("in none of its tag mirrors (")


def test_refused_credentials_are_unknown_not_absent(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(pod(f"quay.io/verify/app@{ABSENT_DIGEST}")))
    code, out, err = run(
        "check", str(manifest), "--output", "json", "--verify-mirror",
        "--mirror-sets", str(verify_sets(tmp_path, htpasswd_registry.host)),
        "--registry-auth", str(write_auth(tmp_path, htpasswd_registry, password="wrong")),
        "--registry-ca", str(registry_tls.ca_file),
    )  # fmt: skip
    assert (code, json.loads(out)) == (0, [])
    assert "mirror not checked: unauthorized: HTTP 401" in err
    assert "wrong" not in err


def test_a_mirror_that_is_down_is_unknown_not_absent(
    tmp_path: Path,
    htpasswd_registry: RegistryServer,
    registry_tls: RegistryTls,
    fault_server: Any,
) -> None:
    down = fault_server(FaultMode.REFUSED)
    image = f"quay.io/verify/app@{ABSENT_DIGEST}"
    code, findings, err = check(tmp_path, htpasswd_registry, registry_tls, image, host=down.host)
    assert (code, findings) == (0, [])
    assert f"mirror not checked: unreachable: cannot connect to {down.host}" in err


def test_a_token_registry_is_asked_with_its_bearer_token(
    tmp_path: Path, token_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    digest = push_image(token_registry, "mirror/verify/web", "2.0", layer_bytes=b"verify web")
    images = [f"quay.io/verify/web@{digest}", f"quay.io/verify/web@{ABSENT_DIGEST}"]
    code, findings, err = check(tmp_path, token_registry, registry_tls, *images)
    assert (code, err) == (1, "")
    assert [(f["image"], f["reason"]) for f in findings] == [(images[1], "not-in-mirror")]


def test_without_verify_mirror_no_registry_is_asked(
    tmp_path: Path, registry_tls: RegistryTls, fault_server: Any
) -> None:
    never = fault_server(FaultMode.NOT_FOUND)
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(pod(f"quay.io/verify/app@{ABSENT_DIGEST}")))
    sets = verify_sets(tmp_path, never.host)
    assert run("check", str(manifest), "--mirror-sets", str(sets))[0] == 0
    assert never.requests == []


# --- report -------------------------------------------------------------------------------


@pytest.fixture
def cluster(
    htpasswd_registry: RegistryServer, pushed: dict[str, str], tmp_path: Path
) -> Iterator[str]:
    """A cluster whose mirror sets send quay.io/verify to the test registry, with one
    workload it holds and one it lacks; yields the kubeconfig path."""
    mirrors = [entry("quay.io/verify", f"{htpasswd_registry.host}/mirror/verify", never=True)]
    with FakeKube() as fake:
        fake.put(namespace("shop", "warn"))
        fake.put(mirror_object("idms", "verify", mirrors))
        fake.put(mirror_object("itms", "verify", mirrors))
        fake.put(workload("Deployment", "shop", "held", f"quay.io/verify/app@{pushed['app']}"))
        fake.put(workload("Deployment", "shop", "lacking", "quay.io/verify/app:v9"))
        fake.put(workload("Deployment", "shop", "unrouted", "docker.io/library/nginx:1"))
        yield str(fake.write_kubeconfig(tmp_path / "kubeconfig"))


def report(
    tmp_path: Path, registry: RegistryServer, tls: RegistryTls, kubeconfig: str, *argv: str
) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    arguments = [
        "report", "--kubeconfig", kubeconfig, "--verify-mirror",
        "--registry-auth", str(write_auth(tmp_path, registry)),
        "--registry-ca", str(tls.ca_file), *argv,
    ]  # fmt: skip
    return webhook.cli.main(arguments, stdout, stderr), stdout.getvalue(), stderr.getvalue()


def test_report_adds_a_row_for_an_image_its_mirror_lacks(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, cluster: str
) -> None:
    code, out, err = report(tmp_path, htpasswd_registry, registry_tls, cluster, "-o", "json")
    rows = [(f["name"], f["reason"]) for f in json.loads(out)["findings"]]
    assert (code, err) == (1, "")
    assert rows == [("lacking", "not-in-mirror"), ("unrouted", "tag-not-mirrored")]


def test_report_oc_mirror_lists_the_images_configured_but_absent(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls, cluster: str
) -> None:
    _, out, _ = report(tmp_path, htpasswd_registry, registry_tls, cluster, "--oc-mirror")
    images = [image["name"] for image in yaml.safe_load(out)["mirror"]["additionalImages"]]
    assert images == ["docker.io/library/nginx:1", "quay.io/verify/app:v9"]


def test_report_resolve_from_source_also_asks_a_source_that_is_not_blocked(
    tmp_path: Path, htpasswd_registry: RegistryServer, registry_tls: RegistryTls
) -> None:
    """The mirror lacks the digest and the source (the same registry, another path) has it:
    the node would fall back to the source, so only with the flag is it not a finding."""
    host = htpasswd_registry.host
    digest = push_image(htpasswd_registry, "src/verify/app", "v1", layer_bytes=b"at source")
    with FakeKube() as fake:
        fake.put(namespace("shop", "warn"))
        fake.put(mirror_object("idms", "src", [entry(f"{host}/src", f"{host}/mirror/src")]))
        fake.put(workload("Deployment", "shop", "sourced", f"{host}/src/verify/app@{digest}"))
        kubeconfig = str(fake.write_kubeconfig(tmp_path / "kubeconfig"))
        asked = [
            report(tmp_path, htpasswd_registry, registry_tls, kubeconfig, "-o", "json", *flag)
            for flag in ([], ["--resolve-from-source"])
        ]
    (without_code, without, _), (with_code, with_flag, _) = asked
    assert [f["reason"] for f in json.loads(without)["findings"]] == ["not-in-mirror"]
    assert (without_code, with_code) == (1, 0)
    assert json.loads(with_flag)["findings"] == []

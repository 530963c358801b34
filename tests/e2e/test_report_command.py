"""`idms-guard report` against a seeded in-process API server: rows, JSON, the oc-mirror
snippet, exit codes and the progress bar."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import webhook.cli
from tests.support.cluster_objects import namespace, workload
from tests.support.fake_kube import FakeKube
from tests.support.mirror_objects import entry, mirror_object

NGINX = "docker.io/library/nginx:1.27"
POSTGRES = "docker.io/library/postgres@sha256:" + "b" * 64
TOOLS = "quay.io/acme/tools:1"
AGENT = "registry.example.com/tagged/agent:2"
SHOP = "quay.io/acme/shop@sha256:" + "c" * 64


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def report(*argv: str, stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    stdout, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    return webhook.cli.main(["report", *argv], stdout, err), stdout.getvalue(), err.getvalue()


def seed(fake: FakeKube) -> None:
    for name, mode in [
        ("shop", "enforce"),
        ("billing", "warn"),
        ("clean", "audit"),
        ("openshift-monitoring", "enforce"),
        ("unlabelled", None),
    ]:
        fake.put(namespace(name, mode))
    fake.put(mirror_object("idms", "digests", [entry("quay.io/acme", "mirror.local/acme")]))
    tagged = [entry("registry.example.com/tagged", "mirror.local/tagged")]
    fake.put(mirror_object("itms", "tags", tagged))
    web = fake.put(workload("Deployment", "shop", "web", NGINX))
    replica_set = fake.put(workload("ReplicaSet", "shop", "web-1", NGINX, owner=web))
    for number in range(2):
        fake.put(workload("Pod", "shop", f"web-1-{number}", NGINX, owner=replica_set))
    fake.put(workload("CronJob", "shop", "nightly", TOOLS))
    fake.put(workload("Pod", "shop", "debug", "busybox"))
    fake.put(workload("StatefulSet", "billing", "db", POSTGRES))
    fake.put(workload("DaemonSet", "billing", "agent", AGENT))
    fake.put(workload("DeploymentConfig", "billing", "legacy", NGINX))
    fake.put(workload("Deployment", "clean", "shop", SHOP, init=(AGENT,)))
    fake.put(workload("Pod", "unlabelled", "stray", NGINX))
    fake.put(workload("Pod", "openshift-monitoring", "exempt", NGINX))


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with FakeKube() as server:
        seed(server)
        yield server


@pytest.fixture
def kubeconfig(fake: FakeKube, tmp_path: Path) -> str:
    return str(fake.write_kubeconfig(tmp_path / "kubeconfig"))


def found(stdout: str) -> list[tuple[str, str, str, str]]:
    return [
        (f["namespace"], f"{f['kind']}/{f['name']}", f["image"], f["reason"])
        for f in json.loads(stdout)["findings"]
    ]


EXPECTED = [
    ("billing", "DeploymentConfig/legacy", NGINX, "tag-not-mirrored"),
    ("billing", "StatefulSet/db", POSTGRES, "source-not-mirrored"),
    ("shop", "CronJob/nightly", TOOLS, "tag-not-mirrored"),
    ("shop", "Deployment/web", NGINX, "tag-not-mirrored"),
    ("shop", "Pod/debug", "busybox", "short-name"),
]


def test_json_lists_one_row_per_problem_in_the_guarded_namespaces(kubeconfig: str) -> None:
    code, stdout, stderr = report("--kubeconfig", kubeconfig, "--output", "json")
    assert (code, stderr) == (1, "")
    assert found(stdout) == EXPECTED


def test_the_table_shows_each_namespace_with_its_mode_and_a_summary(kubeconfig: str) -> None:
    code, stdout, _ = report("--kubeconfig", kubeconfig)
    assert code == 1
    lines = stdout.splitlines()
    assert "namespace billing (mode warn): 2 images would be denied in enforce mode" in lines
    assert "namespace shop (mode enforce): 3 images would be denied in enforce mode" in lines
    web = next(line for line in lines if "Deployment/web" in line).split()
    assert web[:5] == ["Deployment/web", "container", '"c0"', NGINX, "tag-not-mirrored"]
    assert lines[-1] == (
        "5 images would be denied in enforce mode, in 2 namespaces "
        "(10 objects in 3 namespaces scanned)"
    )


def test_all_namespaces_adds_the_unlabelled_ones_but_never_the_exempt(kubeconfig: str) -> None:
    code, stdout, _ = report("--kubeconfig", kubeconfig, "-A", "-o", "json")
    assert code == 1
    assert found(stdout) == [
        *EXPECTED,
        ("unlabelled", "Pod/stray", NGINX, "tag-not-mirrored"),
    ]
    assert json.loads(stdout)["findings"][-1]["mode"] is None


def test_the_oc_mirror_snippet_lists_what_no_mirror_serves(kubeconfig: str) -> None:
    code, stdout, _ = report("--kubeconfig", kubeconfig, "--oc-mirror")
    assert code == 1
    document: dict[str, Any] = yaml.safe_load(stdout)
    assert document["kind"] == "ImageSetConfiguration"
    assert document["apiVersion"] == "mirror.openshift.io/v2alpha1"
    assert document["mirror"]["additionalImages"] == [
        {"name": NGINX},
        {"name": POSTGRES},
        {"name": TOOLS},
    ]


def test_mirror_set_files_replace_the_clusters(kubeconfig: str, tmp_path: Path) -> None:
    files = tmp_path / "mirror-sets.yaml"
    library = [entry("docker.io/library", "mirror.local/library")]
    objects = [mirror_object("itms", "library", library), mirror_object("idms", "lib", library)]
    files.write_text(yaml.safe_dump_all(objects))
    code, stdout, _ = report("--kubeconfig", kubeconfig, "-o", "json", "--mirror-sets", str(files))
    assert code == 1
    assert found(stdout) == [  # the cluster's own IDMS and ITMS play no part
        ("billing", "DaemonSet/agent", AGENT, "tag-not-mirrored"),
        ("clean", "Deployment/shop", AGENT, "tag-not-mirrored"),
        ("clean", "Deployment/shop", SHOP, "source-not-mirrored"),
        ("shop", "CronJob/nightly", TOOLS, "tag-not-mirrored"),
        ("shop", "Pod/debug", "busybox", "short-name"),
    ]


def test_a_clean_cluster_exits_zero(fake: FakeKube, kubeconfig: str) -> None:
    for name in ("shop", "billing"):
        fake.delete("namespaces", name)
    code, stdout, _ = report("--kubeconfig", kubeconfig)
    assert code == 0
    assert stdout == "nothing would be denied in enforce mode (1 objects in 1 namespaces scanned)\n"


def test_no_guarded_namespace_says_how_to_scan_them_all(fake: FakeKube, kubeconfig: str) -> None:
    for name in ("shop", "billing", "clean", "openshift-monitoring"):
        fake.delete("namespaces", name)
    code, _, stderr = report("--kubeconfig", kubeconfig)
    assert code == 0
    assert "try --all-namespaces" in stderr


def test_a_cluster_without_openshift_apis_is_scanned_all_the_same(
    fake: FakeKube, kubeconfig: str
) -> None:
    fake.missing.update({"deploymentconfigs", "imagecontentsourcepolicies"})
    code, stdout, stderr = report("--kubeconfig", kubeconfig, "-o", "json")
    assert (code, stderr) == (1, "")
    assert found(stdout) == EXPECTED[1:]


def test_mirror_set_problems_are_warnings_on_stderr(fake: FakeKube, kubeconfig: str) -> None:
    fake.put(mirror_object("idms", "broken", [entry("quay.io/acme", "Not A Mirror")]))
    code, _, stderr = report("--kubeconfig", kubeconfig, "-o", "json")
    assert code == 1
    assert stderr.startswith("idms-guard: warning: ")
    assert "broken" in stderr


def test_a_terminal_gets_a_progress_counter_that_is_cleared(kubeconfig: str) -> None:
    terminal = Terminal()
    report("--kubeconfig", kubeconfig, "-o", "json", stderr=terminal)
    text = terminal.getvalue()
    assert "\rscanning namespaces: 1/3 billing" in text
    assert "scanning namespaces: 3/3 shop" in text
    assert text.endswith("\r")


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        (
            "unreachable",
            r"listing imagedigestmirrorsets: .*(Connection refused|NewConnectionError)",
        ),
        ("unauthorized", r"listing imagedigestmirrorsets: HTTP 401"),
        ("forbidden-namespaces", r"listing namespaces: HTTP 500"),
        ("bad-kubeconfig", r"kubeconfig .*kubeconfig"),
    ],
)
def test_connection_problems_exit_2_with_one_line(
    fake: FakeKube, kubeconfig: str, tmp_path: Path, problem: str, message: str
) -> None:
    if problem == "unreachable":
        with FakeKube() as gone:
            kubeconfig = str(gone.write_kubeconfig(tmp_path / "gone"))
    elif problem == "unauthorized":
        fake.token = "rotated"
    elif problem == "forbidden-namespaces":
        fake.failing.add("namespaces")
    else:
        Path(kubeconfig).write_text("clusters: [")
    code, stdout, stderr = report("--kubeconfig", kubeconfig)
    assert (code, stdout) == (2, "")
    assert stderr.startswith("idms-guard: error: ")
    assert stderr.count("\n") == 1
    assert re.search(message, stderr), stderr


def test_exempt_namespace_adds_to_the_default_exemptions(kubeconfig: str) -> None:
    code, stdout, _ = report("--kubeconfig", kubeconfig, "-o", "json", "--exempt-namespace", "shop")
    assert code == 1
    assert found(stdout) == [row for row in EXPECTED if row[0] != "shop"]  # not openshift-*

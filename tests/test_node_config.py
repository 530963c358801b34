"""`--node-config DIR`: explain and check judge with a node's own files (MicroShift, CRI-O),
and give the same verdicts as the mirror sets those files were rendered from."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.test_check import MANIFESTS
from tests.test_cli import run

D = "sha256:" + "b" * 64


@pytest.fixture
def example_node(tmp_path: Path) -> Path:
    """The node files the machine-config operator writes for the example mirror sets."""
    code, text, _ = run("registries-conf", "--example")
    assert code == 0
    (tmp_path / "registries.conf").write_text(text)
    return tmp_path


def node_dir(tmp_path: Path, main: str, **drop_ins: str) -> Path:
    (tmp_path / "registries.conf").write_text(main)
    (tmp_path / "registries.conf.d").mkdir()
    for name, text in drop_ins.items():
        (tmp_path / "registries.conf.d" / f"{name}.conf").write_text(text)
    return tmp_path


def findings(*argv: str) -> tuple[int, list[tuple[str, str, str]]]:
    code, out, err = run("check", os.path.relpath(MANIFESTS), "--output", "json", *argv)
    assert err == ""
    return code, [(f["name"], f["image"], f["reason"]) for f in json.loads(out)]


def test_check_finds_with_the_rendered_files_what_it_finds_with_the_objects(
    example_node: Path,
) -> None:
    assert findings("--node-config", str(example_node)) == findings("--example")


@pytest.mark.parametrize(
    "image",
    [
        "quay.io/acme/shop:1.4",
        f"quay.io/acme/shop@{D}",
        "registry.redhat.io/ubi9/ubi:9.4",
        f"registry.redhat.io/ubi9/ubi@{D}",
        "docker.io/library/nginx:1.27",
        "nginx",
    ],
)
def test_explain_json_is_the_same_from_the_rendered_files(example_node: Path, image: str) -> None:
    def candidates(*argv: str) -> list[tuple[str, str, bool]]:
        code, out, _ = run("explain", image, "--json", *argv)
        assert code == 0
        return [(c["pull_spec"], c["role"], c["blocked"]) for c in json.loads(out)["candidates"]]

    assert candidates("--node-config", str(example_node)) == candidates("--example")


def test_explain_names_the_drop_in_and_the_alias(tmp_path: Path) -> None:
    node = node_dir(
        tmp_path,
        'unqualified-search-registries = ["docker.io"]\n',
        **{
            "99-mirrors": '[aliases]\n"ubi9" = "registry.redhat.io/ubi9/ubi"\n'
            '[[registry]]\nprefix = "*.redhat.io"\nblocked = true\n'
            '[[registry.mirror]]\nlocation = "mirror.corp/redhat"\n'
        },
    )
    code, out, err = run("explain", "ubi9:9.4", "--node-config", str(node))
    assert (code, err) == (0, "")
    assert "the node's alias makes it registry.redhat.io/ubi9/ubi" in out
    assert '(from registries.conf.d/99-mirrors.conf [[registry]] "*.redhat.io")' in out


def test_a_v1_file_is_one_line_naming_the_file_and_the_format(tmp_path: Path) -> None:
    node = node_dir(tmp_path, '[registries.search]\nregistries = ["docker.io"]\n')
    code, out, err = run("explain", "nginx", "--node-config", str(node))
    assert (code, out) == (2, "")
    assert err.startswith(f"idms-guard: error: {node}/registries.conf: this is the V1")
    assert len(err.splitlines()) == 1


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    code, _, err = run("check", str(MANIFESTS), "--node-config", str(tmp_path / "nope"))
    assert code == 2
    assert "nope: no such directory" in err


def test_a_directory_without_registries_files_is_named(tmp_path: Path) -> None:
    code, _, err = run("explain", "nginx", "--node-config", str(tmp_path))
    assert code == 2
    assert "holds neither registries.conf nor registries.conf.d/*.conf" in err


def test_node_config_and_mirror_sets_together_are_refused(example_node: Path) -> None:
    code, _, err = run("explain", "nginx", "--node-config", str(example_node), "--example")
    assert code == 2
    assert "either --node-config or --mirror-sets" in err


def test_keys_the_node_ignores_are_warned_about(tmp_path: Path) -> None:
    node = node_dir(tmp_path, '[[registry]]\nlocation = "quay.io"\nmirror-by-digest_only = true\n')
    code, _, err = run("explain", "quay.io/a/b:1", "--node-config", str(node))
    assert code == 0
    assert "registries.conf: [[registry]] #1: unknown key 'mirror-by-digest_only' is ignored" in err


def test_the_nodes_policy_json_is_judged_too(tmp_path: Path) -> None:
    node = node_dir(tmp_path, 'unqualified-search-registries = ["docker.io"]\n')
    (node / "policy.json").write_text(
        '{"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": '
        '{"docker.io": [{"type": "reject"}]}}}'
    )
    code, out, _ = run(
        "check", os.path.relpath(MANIFESTS), "--output", "json", "--node-config", str(node)
    )
    assert code == 1
    rejected = [f for f in json.loads(out) if f["reason"] == "registry-not-allowed"]
    assert rejected
    assert all("the node's policy.json rejects it" in f["problem"] for f in rejected)


def test_a_broken_policy_json_is_named_under_the_directory(tmp_path: Path) -> None:
    node = node_dir(tmp_path, "")
    (node / "policy.json").write_text('{"default": []')
    code, _, err = run("explain", "quay.io/a/b:1", "--node-config", str(node))
    assert code == 2
    assert f"{node}/policy.json: not JSON" in err


def test_insecure_tables_and_mirrors_of_the_node_files_are_marked(tmp_path: Path) -> None:
    node = node_dir(
        tmp_path,
        '[[registry]]\nlocation = "quay.io/acme"\ninsecure = true\n'
        '[[registry.mirror]]\nlocation = "mirror.corp/acme"\ninsecure = true\n',
    )
    code, out, _ = run("explain", "quay.io/acme/a:1", "--json", "--node-config", str(node))
    assert code == 0
    assert [c.get("insecure", False) for c in json.loads(out)["candidates"]] == [True, True]

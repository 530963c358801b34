"""`idms-guard explain` and `idms-guard registries-conf`, as a user runs them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.mirror_objects import entry, mirror_object
from webhook.cli import EXAMPLE_IMAGES, main

DIGEST = "sha256:" + "a" * 64


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    sys_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        code = main(list(argv), stdout, stderr)
    finally:
        sys.stdin = sys_stdin
    return code, stdout.getvalue(), stderr.getvalue()


def write(path: Path, *documents: Any) -> Path:
    path.write_text(yaml.safe_dump_all(documents))
    return path


@pytest.fixture
def acme_sets(tmp_path: Path) -> Path:
    return write(
        tmp_path / "acme.yaml",
        mirror_object("idms", "acme-digests", [entry("quay.io/acme", "mirror.local/acme")]),
        mirror_object("itms", "acme-tags", [entry("quay.io/acme", "mirror.local/acme-tags")]),
        mirror_object(
            "idms", "redhat", [entry("registry.redhat.io", "mirror.local/rh", never=True)]
        ),
    )


def test_explain_lists_each_attempt_in_pull_order_then_a_verdict(acme_sets: Path) -> None:
    code, out, err = run("explain", f"quay.io/acme/app@{DIGEST}", "--mirror-sets", str(acme_sets))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[2].split()[:3] == ["1.", "mirror", f"mirror.local/acme/app@{DIGEST}"]
    assert lines[3].split()[:3] == ["2.", "source", f"quay.io/acme/app@{DIGEST}"]
    assert lines[4].strip() == "by digest: tries 1 mirror, then the source"


def test_explain_says_why_a_tag_misses_digest_only_mirrors(acme_sets: Path) -> None:
    code, out, _ = run(
        "explain", "registry.redhat.io/ubi9/ubi:9.4", "--mirror-sets", str(acme_sets)
    )
    assert code == 0
    assert "blocked, never contacted: ImageDigestMirrorSet/redhat" in out
    assert "serve pulls by digest only" in out
    assert "the pull fails" in out


def test_explain_json_has_exactly_the_documented_shape(acme_sets: Path) -> None:
    code, out, _ = run("explain", "quay.io/acme/app:v1", "--mirror-sets", str(acme_sets), "--json")
    assert code == 0
    assert json.loads(out) == {
        "image": "quay.io/acme/app:v1",
        "reference": "quay.io/acme/app:v1",
        "by_digest": False,
        "candidates": [
            {
                "pull_spec": "mirror.local/acme-tags/app:v1",
                "role": "mirror",
                "blocked": False,
                "from": ["ImageTagMirrorSet/acme-tags"],
            },
            {"pull_spec": "quay.io/acme/app:v1", "role": "source", "blocked": False, "from": []},
        ],
    }


def test_explain_json_prints_one_line_per_image_in_the_order_given(acme_sets: Path) -> None:
    images = ["nginx", f"quay.io/acme/x@{DIGEST}", "registry.redhat.io/a/b"]
    code, out, _ = run("explain", *images, "--mirror-sets", str(acme_sets), "--json")
    assert code == 0
    assert [json.loads(line)["image"] for line in out.splitlines()] == images


def test_explain_json_marks_a_blocked_source_and_names_who_blocked_it(acme_sets: Path) -> None:
    _, out, _ = run(
        "explain", "registry.redhat.io/a/b:1", "--mirror-sets", str(acme_sets), "--json"
    )
    assert json.loads(out)["candidates"] == [
        {
            "pull_spec": "registry.redhat.io/a/b:1",
            "role": "source",
            "blocked": True,
            "from": ["ImageDigestMirrorSet/redhat"],
        }
    ]


def test_a_directory_is_read_recursively_with_lists_and_multiple_documents(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    write(
        tmp_path / "nested" / "list.yml",
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                mirror_object("idms", "a", [entry("quay.io/a", "m1.local/a")]),
                mirror_object("idms", "b", [entry("quay.io/a", "m0.local/a")]),
            ],
        },
    )
    code, out, _ = run("explain", f"quay.io/a/x@{DIGEST}", "--mirror-sets", str(tmp_path), "--json")
    assert code == 0
    specs = [c["pull_spec"] for c in json.loads(out)["candidates"]]
    assert specs == [f"m0.local/a/x@{DIGEST}", f"m1.local/a/x@{DIGEST}", f"quay.io/a/x@{DIGEST}"]


def test_mirror_sets_can_come_from_stdin() -> None:
    text = yaml.safe_dump(mirror_object("itms", "t", [entry("quay.io/a", "m.local/a")]))
    code, out, _ = run("explain", "quay.io/a/x:1", "--mirror-sets", "-", "--json", stdin=text)
    assert code == 0
    assert json.loads(out)["candidates"][0]["pull_spec"] == "m.local/a/x:1"


def test_invalid_yaml_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: ImageDigestMirrorSet\nspec: [unclosed\n")
    code, out, err = run("explain", "quay.io/a:1", "--mirror-sets", str(bad))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith(f"idms-guard: error: {bad}:")
    assert "not valid YAML" in err


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("explain", "quay.io/a:1", "--mirror-sets", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "no such file or directory" in err


def test_an_unknown_kind_in_a_named_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap"})
    code, _, err = run("explain", "quay.io/a:1", "--mirror-sets", str(path))
    assert code == 2
    assert f"{path}:1: kind 'ConfigMap' is not a mirror set" in err


def test_other_kinds_found_in_a_directory_are_skipped_with_a_note(tmp_path: Path) -> None:
    write(tmp_path / "catalog.yaml", {"apiVersion": "v1", "kind": "CatalogSource"})
    write(tmp_path / "idms.yaml", mirror_object("idms", "a", [entry("quay.io/a", "m.local/a")]))
    code, out, err = run("explain", f"quay.io/a/x@{DIGEST}", "--mirror-sets", str(tmp_path))
    assert code == 0
    assert "skipped kind 'CatalogSource'" in err
    assert "m.local/a/x@" in out


def test_a_bad_image_fails_with_exit_2_but_the_others_are_still_explained(acme_sets: Path) -> None:
    code, out, err = run("explain", "quay.io/Acme/x:1", "nginx", "--mirror-sets", str(acme_sets))
    assert code == 2
    assert "repository name must be lowercase" in err
    assert out.startswith("nginx")


def test_invalid_objects_are_warned_about_and_the_rest_still_applies(tmp_path: Path) -> None:
    path = write(
        tmp_path / "sets.yaml",
        mirror_object("idms", "good", [entry("quay.io/good", "m.local/good")]),
        mirror_object("idms", "bad", [entry("quay.io/BAD", "m.local/bad")]),
    )
    code, out, err = run("explain", f"quay.io/good/x@{DIGEST}", "--mirror-sets", str(path))
    assert code == 0
    assert "ImageDigestMirrorSet/bad spec.imageDigestMirrors[0].source" in err
    assert "m.local/good/x@" in out


def test_an_operator_rejection_is_explained_and_the_offending_objects_are_left_out(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "sets.yaml",
        mirror_object("idms", "a", [entry("quay.io/a", "m1.local/a", never=True)]),
        mirror_object("idms", "b", [entry("quay.io/a", "m2.local/a")]),
    )
    code, _, err = run("explain", "quay.io/a/x:1", "--mirror-sets", str(path))
    assert code == 0
    assert "machine-config operator would refuse this configuration" in err
    assert "conflicting mirrorSourcePolicy" in err


def test_registries_conf_is_valid_toml_with_the_operators_tables(acme_sets: Path) -> None:
    code, out, _ = run("registries-conf", "--mirror-sets", str(acme_sets))
    assert code == 0
    conf = tomllib.loads(out)
    assert conf["unqualified-search-registries"] == ["registry.access.redhat.com", "docker.io"]
    tables = {table["location"]: table for table in conf["registry"]}
    assert tables["quay.io/acme"]["mirror"] == [
        {"location": "mirror.local/acme", "pull-from-mirror": "digest-only"},
        {"location": "mirror.local/acme-tags", "pull-from-mirror": "tag-only"},
    ]
    assert tables["registry.redhat.io"]["blocked"] is True


def test_registries_conf_can_use_the_older_digest_only_form(acme_sets: Path) -> None:
    _, out, _ = run(
        "registries-conf",
        "--mirror-sets",
        str(acme_sets),
        "--digest-only-style",
        "mirror-by-digest-only",
    )
    tables = {table["location"]: table for table in tomllib.loads(out)["registry"]}
    assert tables["registry.redhat.io"]["mirror-by-digest-only"] is True
    assert tables["registry.redhat.io"]["mirror"] == [{"location": "mirror.local/rh"}]
    assert "mirror-by-digest-only" not in tables["quay.io/acme"]


def test_the_example_explains_one_image_of_each_kind() -> None:
    code, out, err = run("explain", "--example")
    assert (code, err) == (0, "")
    for image in EXAMPLE_IMAGES:
        assert f"\n{image}\n" in f"\n{out}"


def test_explain_without_images_or_mirror_sets_says_what_is_missing() -> None:
    assert run("explain", "--example")[0] == 0
    code, _, err = run("explain", "quay.io/a:1")
    assert code == 2
    assert "--mirror-sets PATH is required" in err


def test_the_installed_command_never_prints_a_traceback(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(b"\xff\xfe\x00binary")
    result = subprocess.run(
        [sys.executable, "-m", "webhook.cli", "explain", "x", "--mirror-sets", str(garbage)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("idms-guard: error:")


def test_certs_writes_a_ca_and_a_certificate_for_the_service_names(tmp_path: Path) -> None:
    from cryptography import x509

    code, out, _ = run("certs", "--out", str(tmp_path), "--service", "guard", "--namespace", "ops")
    assert code == 0
    certificate = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"guard.ops.svc", "guard.ops.svc.cluster.local"} <= set(
        names.get_values_for_type(x509.DNSName)
    )
    assert (tmp_path / "tls.key").stat().st_mode & 0o777 == 0o600
    assert "guard.ops.svc" in out


def test_certs_refuses_a_name_that_is_not_a_dns_label(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("certs", "--out", str(tmp_path), "--service", "Guard!", "--namespace", "ops")
    assert exit_info.value.code == 2


def test_a_reader_that_leaves_early_is_no_traceback() -> None:
    images = " ".join(["nginx"] * 2000)  # far more output than a pipe buffers
    command = f"{sys.executable} -m webhook.cli explain --example {images} | head -1"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout == "nginx\n"
    assert "Traceback" not in result.stderr


def test_serve_without_a_cluster_or_mirror_sets_says_both_ways_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webhook.adapters.tls_certificates import (
        generate_ca,
        generate_serving_certificate,
        write_certificate_files,
    )

    monkeypatch.setenv("HOME", str(tmp_path))  # a machine without a cluster
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    ca = generate_ca()
    files = write_certificate_files(tmp_path, ca, generate_serving_certificate(ca, ["x"]))
    code, _, err = run("serve", "--cert", str(files["tls.crt"]), "--key", str(files["tls.key"]))
    assert code == 2
    assert "serve needs a cluster to watch or --mirror-sets PATH" in err


def test_deeply_nested_yaml_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("x: " + "[" * 5000 + "]" * 5000 + "\n")
    code, out, err = run("explain", "quay.io/a/b:1", "--mirror-sets", str(deep))
    assert (code, out) == (2, "")
    assert err == f"idms-guard: error: {deep}: not usable: nested too deeply\n"


def test_explain_ends_with_what_the_webhook_would_say(acme_sets: Path) -> None:
    _, out, _ = run(
        "explain",
        "quay.io/acme/app:v1",
        "docker.io/library/nginx:1",
        "--mirror-sets",
        str(acme_sets),
    )
    verdicts = [line.strip() for line in out.splitlines() if line.strip().startswith(("✓", "✗"))]
    assert verdicts[0].startswith("✓ the webhook lets it through")
    assert verdicts[1].startswith("✗ tag-not-mirrored: pulled by tag")


def test_certs_will_not_replace_a_ca_without_force(tmp_path: Path) -> None:
    arguments = ("certs", "--out", str(tmp_path), "--service", "guard", "--namespace", "ops")
    assert run(*arguments)[0] == 0
    first = (tmp_path / "ca.crt").read_bytes()
    code, _, err = run(*arguments)
    assert code == 2
    assert "breaks the caBundle" in err
    assert (tmp_path / "ca.crt").read_bytes() == first
    assert run(*arguments, "--force")[0] == 0
    assert (tmp_path / "ca.crt").read_bytes() != first


def test_version_names_the_installed_package() -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("--version")
    assert exit_info.value.code == 0


def test_explain_says_when_a_broader_entry_is_shadowed(tmp_path: Path) -> None:
    """An ITMS on registry.redhat.io/ubi9 hides the IDMS on registry.redhat.io (spec V52)."""
    path = write(
        tmp_path / "sets.yaml",
        mirror_object("idms", "rh", [entry("registry.redhat.io", "m.local/rh", never=True)]),
        mirror_object("itms", "ubi", [entry("registry.redhat.io/ubi9", "m.local/ubi9")]),
    )
    _, out, _ = run("explain", f"registry.redhat.io/ubi9/ubi@{DIGEST}", "--mirror-sets", str(path))
    assert (
        "note: the broader entry for registry.redhat.io (ImageDigestMirrorSet/rh) does not "
        "apply: only the most specific, registry.redhat.io/ubi9, counts"
    ) in out


def test_registries_conf_exits_1_when_the_operator_would_render_nothing(tmp_path: Path) -> None:
    path = write(
        tmp_path / "sets.yaml",
        mirror_object("idms", "a", [entry("quay.io/a", "m1.local/a", never=True)]),
        mirror_object("itms", "b", [entry("quay.io/a", "m2.local/a")]),
    )
    code, out, err = run("registries-conf", "--mirror-sets", str(path))
    assert code == 1
    assert "To fix: give every IDMS, ITMS and ICSP entry for that source the same" in err
    assert tomllib.loads(out)["unqualified-search-registries"]


def test_the_demo_on_a_taken_port_is_one_line_before_anything_starts() -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, out, err = run("serve", "--demo", "--port", str(port))
    assert (code, out) == (2, "")
    assert err == (
        f"idms-guard: error: cannot listen on 127.0.0.1:{port}: Address already in use; "
        "choose --port\n"
    )


def test_serve_exempt_namespace_adds_to_the_default_and_own_namespace_exemptions() -> None:
    from webhook.cli import build_parser, serve_settings

    args = build_parser().parse_args(
        ["serve", "--cert", "c", "--key", "k", "--exempt-namespace", "team-x"]
    )
    settings = serve_settings(args, {"POD_NAMESPACE": "idms-guard"})
    assert settings.exempt_namespaces == ("kube-*", "openshift-*", "team-x", "idms-guard")


def test_serve_exempt_namespace_adds_to_the_environments_exemptions() -> None:
    from webhook.cli import build_parser, serve_settings

    args = build_parser().parse_args(["serve", "--exempt-namespace", "team-x"])
    settings = serve_settings(args, {"IDMS_GUARD_EXEMPT_NAMESPACES": "kube-system,infra"})
    assert settings.exempt_namespaces == ("kube-system", "infra", "team-x")


@pytest.mark.parametrize(
    ("argv", "environ", "verify"),
    [
        ([], {}, False),
        (["--verify-mirror"], {}, True),
        ([], {"IDMS_GUARD_VERIFY_MIRROR": "true"}, True),
    ],
    ids=["off by default", "the option", "the environment"],
)
def test_serve_verify_mirror_comes_from_the_option_or_the_environment(
    argv: list[str], environ: dict[str, str], verify: bool
) -> None:
    from webhook.cli import build_parser, serve_settings

    args = build_parser().parse_args(["serve", *argv])
    assert serve_settings(args, environ).verify_mirror is verify

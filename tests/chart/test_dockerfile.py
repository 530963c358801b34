"""The Dockerfile, read without a container engine: its stages, user, entrypoint and paths.

A small parser is enough for what the Dockerfile uses (line continuations, comments, JSON
exec form, ARG defaults in FROM); what matters is that the image runs `idms-guard serve`
as a numeric non-root user with nothing to build software in its final stage, and that
what it copies exists and reaches the build context.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.helm import CHART, REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
VENV = "/opt/idms-guard"
OCI_LABELS = {
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.licenses",
    "org.opencontainers.image.base.name",
}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        parsed = json.loads(self.arguments)
        assert isinstance(parsed, list), self
        return [str(item) for item in parsed]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"no {keyword} in stage {self.name or self.base}"
        return found[-1]


def instructions(text: str) -> list[Instruction]:
    """Logical lines: comments dropped, backslash continuations joined."""
    logical, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    parsed = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        parsed.append(Instruction(keyword.upper(), arguments.strip()))
    return parsed


def stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults, and the stages with their FROM resolved."""
    arguments: dict[str, str] = {}
    found: list[Stage] = []
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m[1]], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(base, name))
        elif not found and instruction.keyword == "ARG":
            key, _, default = instruction.arguments.partition("=")
            arguments[key] = default
        else:
            assert found, f"{instruction.keyword} before the first FROM"
            found[-1].instructions.append(instruction)
    return arguments, found


@pytest.fixture(scope="module")
def parsed() -> list[Stage]:
    return stages(DOCKERFILE.read_text())[1]


@pytest.fixture(scope="module")
def final(parsed: list[Stage]) -> Stage:
    return parsed[-1]


def test_it_is_multi_stage_and_the_final_stage_only_copies_from_the_build(
    parsed: list[Stage], final: Stage
) -> None:
    assert len(parsed) >= 2
    names = {stage.name for stage in parsed[:-1]}
    copies = final.all("COPY")
    assert copies
    for copy in copies:
        assert copy.arguments.startswith("--from="), copy
        assert copy.arguments.split()[0].removeprefix("--from=") in names


def test_the_final_stage_has_no_build_tools(parsed: list[Stage], final: Stage) -> None:
    """Nothing runs in the final stage (no package manager, no compiler, no pip), and all
    it receives is the virtual environment, from which the build removed pip."""
    assert final.all("RUN") == []
    assert "distroless" in final.base or "minimal" in final.base
    copied = [shlex.split(copy.arguments)[1:-1] for copy in final.all("COPY")]
    assert copied == [[VENV]]
    build_runs = " ".join(run.arguments for run in parsed[0].all("RUN"))
    assert f"{VENV}/bin/pip uninstall -y pip" in build_runs


def test_it_runs_as_a_numeric_non_root_user(final: Stage) -> None:
    user = final.last("USER").arguments
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "numeric, so that runAsNonRoot can be verified by kubelet"
    assert int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)


def test_the_entrypoint_serves_with_idms_guard(final: Stage) -> None:
    entrypoint = final.last("ENTRYPOINT").exec_form()
    assert Path(entrypoint[0]).name == "idms-guard"
    assert entrypoint[1:] == ["serve"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["idms-guard"] == "webhook.cli:main"
    # the console script sits in the environment the build stage made and PATH names
    environment = final.last("ENV").arguments
    path = re.search(r"PATH=(\S+)", environment)
    assert path is not None
    assert str(Path(entrypoint[0]).parent) in path[1].split(":")
    cmd = final.last("CMD").exec_form()
    assert cmd[cmd.index("--cert") + 1] == "/etc/idms-guard/tls/tls.crt"


def test_the_chart_commands_exist_in_the_image(final: Stage) -> None:
    """The chart runs `idms-guard` and `python3` by name: both in the environment on PATH."""
    environment = final.last("ENV").arguments
    path = re.search(r"PATH=(\S+)", environment)
    assert path is not None
    venv_bin = str(Path(final.last("ENTRYPOINT").exec_form()[0]).parent)
    assert path[1].split(":")[0] == venv_bin  # venv's python3 first: it has the packages
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    assert 'command: ["idms-guard", "serve"]' in deployment


def test_it_exposes_the_webhook_port(final: Stage) -> None:
    assert final.last("EXPOSE").arguments.split() == ["8443"]


def test_oci_labels(final: Stage) -> None:
    labels = " ".join(label.arguments for label in final.all("LABEL"))
    present = set(re.findall(r"(org\.opencontainers\.image\.[a-z.]+)=", labels))
    assert present >= OCI_LABELS
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in labels


def test_the_base_name_label_is_the_runtime_image_given(final: Stage) -> None:
    labels = " ".join(label.arguments for label in final.all("LABEL"))
    assert 'org.opencontainers.image.base.name="${RUNTIME_IMAGE}"' in labels
    declared = [arg.arguments.partition("=")[0] for arg in final.all("ARG")]
    assert "RUNTIME_IMAGE" in declared  # a global ARG is empty in a stage until redeclared


def test_no_parser_directive_makes_buildkit_pull_a_frontend() -> None:
    """`# syntax=` sends BuildKit to a registry for the frontend image: on a restricted
    network that fails before the build starts."""
    directives = re.findall(r"^#\s*syntax\s*=", DOCKERFILE.read_text(), re.MULTILINE | re.I)
    assert directives == []


def test_the_build_installs_the_lock_with_hashes_only(parsed: list[Stage]) -> None:
    runs = [run.arguments for run in parsed[0].all("RUN")]
    [locked] = [run for run in runs if "-r requirements.lock" in run]
    assert "--require-hashes" in locked
    [package] = [run for run in runs if "--no-build-isolation" in run]
    assert "--no-deps" in package  # the package itself adds nothing that is not locked
    assert "--no-index" in package


def test_the_build_stage_trusts_an_extra_ca_when_given(parsed: list[Stage]) -> None:
    runs = " ".join(run.arguments for run in parsed[0].all("RUN"))
    assert "--mount=type=secret,id=extra-ca" in runs
    assert "Acquire::https::CAInfo" in runs  # apt, before ca-certificates is installed
    environment = " ".join(env.arguments for env in parsed[0].all("ENV"))
    assert "PIP_CERT=/etc/ssl/certs/ca-certificates.crt" in environment  # pip's own is certifi


def test_copied_paths_exist_and_are_in_the_build_context(parsed: list[Stage]) -> None:
    ignore = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    ignore = [line for line in ignore if line and not line.startswith("#")]
    sources = []
    for stage in parsed:
        for copy in stage.all("COPY"):
            words = shlex.split(copy.arguments)
            if words[0].startswith("--from="):
                continue
            sources += [word for word in words[:-1] if not word.startswith("--")]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert included(source, ignore), f"{source} is excluded by .dockerignore"
    assert included("webhook/cli.py", ignore)
    assert not included("tests/conftest.py", ignore)
    assert not included(".venv/bin/python", ignore)


def test_the_build_installs_the_package_with_its_metadata(parsed: list[Stage]) -> None:
    build = parsed[0]
    copied = " ".join(copy.arguments for copy in build.all("COPY"))
    for needed in ("pyproject.toml", "README.md", "webhook"):  # README: project.readme
        assert needed in copied
    runs = " ".join(run.arguments for run in build.all("RUN"))
    assert "pip install" in runs
    assert "compileall" in runs  # the root filesystem is read-only at run time


def included(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    keep = True
    parts = path.split("/")
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        if body.startswith("**/"):
            matches = any(fnmatch.fnmatchcase(part, body[3:]) for part in parts)
        else:
            matches = any(fnmatch.fnmatchcase(prefix, body) for prefix in prefixes)
        if matches:
            keep = negated
    return keep

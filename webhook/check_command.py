"""`idms-guard check`: lint manifests against the mirror sets before `kubectl apply`.

Exit codes follow linters: 0 clean, 1 findings that the chosen mode would deny, 2 input
that cannot be used (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TextIO

from webhook.adapters.manifest_files import read_documents
from webhook.cli_common import (
    EXIT_FINDINGS,
    EXIT_OK,
    add_mirror_set_options,
    mirror_sets_from_args,
)
from webhook.config import Settings
from webhook.core.manifest_check import (
    CheckFinding,
    check_objects,
    manifest_objects,
    render_json,
    render_sarif,
    render_text,
)
from webhook.core.mirror_index import MirrorIndex

OUTPUTS = ("text", "json", "sarif")


def add_check_parser(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help="check manifests offline: would their images be pulled through a mirror?",
        description="Read manifests (files, directories, '-' for stdin; multi-document "
        "YAML, kind: List, helm template or kustomize build output) and report every "
        "image the webhook would flag, with file and line.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="manifests to check")
    add_mirror_set_options(check)
    check.add_argument(
        "--mode",
        choices=("enforce", "warn"),
        default="enforce",
        help="enforce: findings fail the check (exit 1); warn: reported, exit 0",
    )
    check.add_argument("--output", choices=OUTPUTS, default="text", help="default: text")
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    config = mirror_sets_from_args(args, stderr)
    documents = read_documents(args.paths)
    index = MirrorIndex.from_config(config)
    policy = Settings.from_env({}).policy
    objects = [
        obj
        for document in documents
        for obj in manifest_objects(document.path, document.body, document.line_of)
    ]
    findings = check_objects(objects, index, policy)
    _print(findings, args.output, args.mode, stdout)
    return EXIT_FINDINGS if findings and args.mode == "enforce" else EXIT_OK


def _print(findings: list[CheckFinding], output: str, mode: str, stdout: TextIO) -> None:
    if output == "json":
        print(render_json(findings), file=stdout)
    elif output == "sarif":
        level = "error" if mode == "enforce" else "warning"
        print(json.dumps(render_sarif(findings, level, _version()), indent=2), file=stdout)
    elif findings:
        print(render_text(findings), file=stdout)


def _version() -> str:
    try:
        return version("idms-guard")
    except PackageNotFoundError:
        return "0.0.0"

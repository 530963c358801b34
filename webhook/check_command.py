"""`idms-guard check`: lint manifests against the mirror sets before `kubectl apply`.

Exit codes follow linters: 0 clean, 1 findings that the chosen mode would deny, 2 input
that cannot be used (one line on stderr).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from webhook.adapters.manifest_files import STDIN, read_documents
from webhook.cli_common import (
    EXIT_FINDINGS,
    EXIT_OK,
    add_cluster_options,
    add_mirror_set_options,
    add_node_config_option,
    add_registry_options,
    index_from_args,
    installed_version,
    resolver_from_args,
    warn,
    warn_unchecked,
)
from webhook.config import Settings
from webhook.core.manifest_check import (
    CheckFinding,
    ManifestObject,
    check_objects,
    checked_sites,
    manifest_objects,
    render_json,
    render_sarif,
    render_text,
)
from webhook.core.manifest_pinning import LineEdit, apply_edits, line_edits, planned_pins
from webhook.core.mirror_index import MirrorIndex
from webhook.core.pinning import resolve_pins
from webhook.core.policy import PolicySettings
from webhook.core.presence import PresenceVerdict, presence_questions, verify_presence
from webhook.errors import UsageError

OUTPUTS = ("text", "json", "sarif")
# A command line can wait longer than an admission request.
PIN_TIMEOUT_SECONDS = 60.0


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
    add_node_config_option(check)
    add_cluster_options(check)
    check.add_argument(
        "--mode",
        choices=("enforce", "warn"),
        default="enforce",
        help="enforce: findings fail the check (exit 1); warn: reported, exit 0",
    )
    check.add_argument("--output", choices=OUTPUTS, default="text", help="default: text")
    check.add_argument(
        "--pin",
        action="store_true",
        help="look each tag's digest up in the mirrors the mirror sets name, and report "
        "the rewrite (to stderr); with --write, edit the files in place",
    )
    check.add_argument("--write", action="store_true", help="with --pin: write the files")
    check.add_argument(
        "--verify-mirror",
        action="store_true",
        help="ask the mirrors the node would try whether they hold each image (HEAD of "
        "its manifest); one that none holds is a not-in-mirror finding",
    )
    check.add_argument(
        "--resolve-from-source",
        action="store_true",
        help="with --pin or --verify-mirror: also ask the source registry when it is not blocked",
    )
    add_registry_options(check)
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    if args.write and not args.pin:
        raise UsageError("--write goes with --pin")
    if args.write and STDIN in args.paths:
        raise UsageError("--write cannot write back to stdin; pipe the files instead")
    index = index_from_args(args, stderr)
    stdin_text = sys.stdin.read() if STDIN in args.paths else ""
    objects = _objects(args.paths, stdin_text)
    if args.pin:
        _pin(args, objects, index, stderr)
        objects = _objects(args.paths, stdin_text) if args.write else objects
    policy = Settings.from_env(os.environ).policy
    presence = _verify(args, objects, index, policy, stderr) if args.verify_mirror else None
    findings = check_objects(objects, index, policy, presence)
    _print(findings, args.output, args.mode, stdout)
    return EXIT_FINDINGS if findings and args.mode == "enforce" else EXIT_OK


def _objects(paths: list[str], stdin_text: str) -> list[ManifestObject]:
    documents = read_documents(paths, io.StringIO(stdin_text))
    return [
        obj
        for document in documents
        for obj in manifest_objects(document.path, document.body, document.line_of)
    ]


def _pin(
    args: argparse.Namespace, objects: list[ManifestObject], index: MirrorIndex, stderr: TextIO
) -> None:
    """Look the tags' digests up in the mirrors; report, and with --write edit the files."""
    policy = Settings.from_env(os.environ).policy
    planned = planned_pins(objects, index, policy, args.resolve_from_source)
    with resolver_from_args(args, index.insecure) as resolver:
        resolutions = resolve_pins(
            [pin.plan for pin in planned],
            index,
            resolver.resolve,
            PIN_TIMEOUT_SECONDS,
            time.monotonic,
        )
    edits, notes = line_edits(planned, resolutions)
    for note in notes:
        warn(stderr, note)
    verb = "pinned" if args.write else "would pin"
    for edit in edits:
        print(f"{edit.path}:{edit.line}: {verb} {edit.original} → {edit.pinned}", file=stderr)
    if args.write:
        _write(edits, stderr)


def _verify(
    args: argparse.Namespace,
    objects: list[ManifestObject],
    index: MirrorIndex,
    policy: PolicySettings,
    stderr: TextIO,
) -> dict[str, PresenceVerdict]:
    """Ask the mirrors about every image the configuration routes to them; an image whose
    mirrors could not be asked is a warning, not a finding."""
    flagged = [item.finding.site for item in check_objects(objects, index, policy)]
    sites = checked_sites(objects, policy)
    questions = presence_questions(sites, flagged, index, args.resolve_from_source)
    with resolver_from_args(args, index.insecure) as resolver:
        verdicts = verify_presence(questions, resolver.resolve, PIN_TIMEOUT_SECONDS)
    warn_unchecked(verdicts, stderr)
    return verdicts


def _write(edits: list[LineEdit], stderr: TextIO) -> None:
    for path in sorted({edit.path for edit in edits}):
        file = Path(path)
        text, missed = apply_edits(file.read_text(), [e for e in edits if e.path == path])
        for edit in missed:
            warn(stderr, f"{path}:{edit.line}: {edit.original} not found on that line; left")
        temporary = file.with_name(f".{file.name}.idms-guard")
        temporary.write_text(text)
        temporary.replace(file)


def _print(findings: list[CheckFinding], output: str, mode: str, stdout: TextIO) -> None:
    if output == "json":
        print(render_json(findings), file=stdout)
    elif output == "sarif":
        level = "error" if mode == "enforce" else "warning"
        print(json.dumps(render_sarif(findings, level, installed_version()), indent=2), file=stdout)
    elif findings:
        print(render_text(findings), file=stdout)

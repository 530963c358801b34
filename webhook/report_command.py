"""`idms-guard report`: what enforce mode would deny in the cluster today.

Operators run it before labelling a namespace `idms-guard.io/mode=enforce`. It reads the
mirror sets (from the cluster, or from files), the guarded namespaces and their pods and
workloads, and judges them with the webhook's own policy. Exit codes: 0 nothing would be
denied, 1 something would, 2 the scan could not be made (cli.main prints the one line).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from itertools import groupby
from operator import attrgetter
from typing import TextIO

from kubernetes.client import ApiClient

from webhook.adapters.kube_inventory import MODE_LABEL, list_namespaces, scan
from webhook.adapters.mirror_watcher import list_mirror_sets, load_api_client
from webhook.cli_common import (
    EXIT_FINDINGS,
    EXIT_OK,
    add_exempt_namespace_option,
    add_node_config_option,
    add_registry_options,
    index_from_args,
    resolver_from_args,
    warn,
    warn_about,
    warn_unchecked,
)
from webhook.config import Settings
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings, namespace_exempt
from webhook.core.pool_report import verdict_lines, verdicts_json
from webhook.core.presence import PresenceVerdict, presence_questions, verify_presence
from webhook.core.report import (
    InventoryItem,
    ReportRow,
    oc_mirror_snippet,
    render_json,
    render_table,
    report_rows,
    report_sites,
)
from webhook.core.workloads import ImageSite
from webhook.errors import UsageError
from webhook.main import load_mirror_set_paths
from webhook.pool_sources import pool_verdicts

VERIFY_TIMEOUT_SECONDS = 60.0
"""A namespace's lookups together: a report can wait longer than an admission request."""


def add_report_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="list what enforce mode would deny in the cluster",
        description="Judge the pods and workloads of the guarded namespaces (labelled "
        f"{MODE_LABEL}, or all with --all-namespaces) as the webhook would in enforce mode, "
        "and print one row per image that no mirror would serve. Exit code 1 when "
        "anything would be denied.",
    )
    report.add_argument("--kubeconfig", metavar="FILE", help="default: in-cluster, $KUBECONFIG")
    report.add_argument(
        "-A", "--all-namespaces", action="store_true", help=f"not only those with {MODE_LABEL}"
    )
    report.add_argument("-o", "--output", choices=("table", "json"), default="table")
    report.add_argument(
        "--oc-mirror",
        action="store_true",
        help="print only an oc-mirror ImageSetConfiguration with the images no mirror serves",
    )
    report.add_argument(
        "--mirror-sets",
        nargs="+",
        metavar="PATH",
        default=[],
        help="judge with these IDMS/ITMS/ICSP files instead of the cluster's",
    )
    report.add_argument(
        "--verify-mirror",
        action="store_true",
        help="ask the mirrors whether they hold each image the mirror sets route to them; "
        "rows with not-in-mirror for those none holds (and --oc-mirror lists them)",
    )
    report.add_argument(
        "--resolve-from-source",
        action="store_true",
        help="with --verify-mirror: also ask the source registry when it is not blocked "
        "(default: $IDMS_GUARD_RESOLVE_FROM_SOURCE)",
    )
    add_registry_options(report)
    add_node_config_option(report)
    report.add_argument(
        "--pools",
        action="store_true",
        help="instead of workloads, say per MachineConfigPool whether the registries files "
        "its nodes run mean what the current mirror sets render (OpenShift); exit 1 if not",
    )
    add_exempt_namespace_option(report)
    report.set_defaults(run=run_report)


def run_report(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    policy = _policy(args)
    if args.pools and args.node_config:
        raise UsageError("--pools compares pools with the mirror sets; leave out --node-config")
    if args.pools and (args.oc_mirror or args.verify_mirror):
        raise UsageError("--pools reports pools, not images; leave out --oc-mirror/--verify-mirror")
    with closing(load_api_client(args.kubeconfig)) as client:
        if args.node_config:
            index = index_from_args(args, stderr)
        else:
            if args.mirror_sets:
                config = load_mirror_set_paths(
                    args.mirror_sets, note=lambda text: warn(stderr, text)
                )
            else:
                config = load_mirror_sets(list_mirror_sets(client))
            warn_about(config, stderr)
            index = MirrorIndex.from_config(config)
            if args.pools:
                return _report_pools(client, index, config.mco_rejection, args.output, stdout)
        modes = list_namespaces(client, all_namespaces=args.all_namespaces)
        guarded = [namespace for namespace in modes if not namespace_exempt(namespace, policy)]
        if not guarded:
            warn(stderr, f"no namespace to scan{_hint(args)}")
        bar = _ProgressBar(stderr) if stderr.isatty() else None
        counted = _Counted(scan(client, guarded, progress=bar))
        try:
            with _verifier(args, index, stderr) as verify:
                rows = _judge(counted, index, policy, modes, verify)
        finally:
            if bar is not None:
                bar.clear()
    if args.oc_mirror:
        stdout.write(oc_mirror_snippet(rows))
    elif args.output == "json":
        stdout.write(render_json(rows))
    else:
        stdout.write(render_table(rows) + ("\n" if rows else ""))
        print(_summary(rows, len(guarded), counted.count), file=stdout)
    return EXIT_FINDINGS if rows else EXIT_OK


Verify = Callable[[list[ImageSite], list[ImageSite]], dict[str, PresenceVerdict]]
"""(sites judged, sites already flagged) → what the mirrors answered, by image."""


def _report_pools(
    client: ApiClient, index: MirrorIndex, rejection: str | None, output: str, stdout: TextIO
) -> int:
    verdicts = pool_verdicts(client, index, rejection)
    if output == "json":
        stdout.write(verdicts_json(verdicts))
    else:
        for verdict in verdicts:
            print("\n".join(verdict_lines(verdict)), file=stdout)
    return EXIT_OK if all(verdict.matches for verdict in verdicts) else EXIT_FINDINGS


def _judge(
    items: Iterable[InventoryItem],
    index: MirrorIndex,
    policy: PolicySettings,
    modes: dict[str, str | None],
    verify: Verify | None = None,
) -> list[ReportRow]:
    """One namespace at a time (the scan yields them in turn, and controllers never cross
    namespaces), so memory holds one namespace's objects, not the cluster's."""
    rows: list[ReportRow] = []
    for _, group in groupby(items, key=attrgetter("namespace")):
        objects = list(group)
        found = report_rows(objects, index, policy, modes)
        if verify is not None:
            presence = verify(report_sites(objects, policy), [row.site for row in found])
            found = report_rows(objects, index, policy, modes, presence)
        rows.extend(found)
    return rows


@contextmanager
def _verifier(
    args: argparse.Namespace, index: MirrorIndex, stderr: TextIO
) -> Iterator[Verify | None]:
    """With --verify-mirror: asks the mirrors (one resolver for the whole scan, so an image
    used in many namespaces is asked once); a mirror that cannot be asked is a warning."""
    if not args.verify_mirror:
        yield None
        return
    from_source = args.resolve_from_source or Settings.from_env(os.environ).resolve_from_source
    with resolver_from_args(args, index.insecure) as resolver:

        def verify(sites: list[ImageSite], flagged: list[ImageSite]) -> dict[str, PresenceVerdict]:
            questions = presence_questions(sites, flagged, index, from_source)
            verdicts = verify_presence(questions, resolver.resolve, VERIFY_TIMEOUT_SECONDS)
            warn_unchecked(verdicts, stderr)
            return verdicts

        yield verify


def _policy(args: argparse.Namespace) -> PolicySettings:
    settings = Settings.from_env(os.environ).with_exempt_namespaces(args.exempt_namespace)
    return settings.with_release_namespace(os.environ.get("POD_NAMESPACE", "")).policy


def _hint(args: argparse.Namespace) -> str:
    return "" if args.all_namespaces else f" (none has {MODE_LABEL}; try --all-namespaces)"


def _summary(rows: list[ReportRow], namespaces: int, objects: int) -> str:
    scanned = f"{objects} objects in {namespaces} namespaces scanned"
    if not rows:
        return f"nothing would be denied in enforce mode ({scanned})"
    affected = len({row.namespace for row in rows})
    return (
        f"{len(rows)} images would be denied in enforce mode, in {affected} namespaces ({scanned})"
    )


class _Counted:
    def __init__(self, items: Iterable[InventoryItem]) -> None:
        self._items = items
        self.count = 0

    def __iter__(self) -> Iterator[InventoryItem]:
        for item in self._items:
            self.count += 1
            yield item


class _ProgressBar:
    """A `\\r` counter on a terminal; nothing when stderr is a file or a pipe."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._width = 0

    def __call__(self, done: int, total: int, namespace: str) -> None:
        text = f"scanning namespaces: {done}/{total} {namespace[:40]}"
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = max(self._width, len(text))

    def clear(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()

"""Pieces every `idms-guard` command shares: mirror-set options, warnings, argument types."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from importlib import metadata
from typing import TextIO

from kubernetes.client import ApiClient

from webhook.adapters.mirror_watcher import list_mirror_sets, load_api_client
from webhook.adapters.registry import RegistryClient
from webhook.adapters.resolver import TagResolver
from webhook.config import Settings
from webhook.core.image_reference import parse
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import MirrorSetConfig, load_mirror_sets
from webhook.core.presence import Presence, PresenceVerdict
from webhook.errors import InvalidReferenceError, KubeConfigError, UsageError
from webhook.main import load_example_mirror_sets, load_mirror_set_paths, registry_client
from webhook.node_config import load_node_config
from webhook.pool_sources import pool_index_from_cluster

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
LOOKUP_TIMEOUT_SECONDS = 10.0
"""A command line can wait longer for a registry than an admission request."""


def installed_version() -> str:
    try:
        return metadata.version("idms-guard")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def add_mirror_set_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--mirror-sets",
        nargs="+",
        metavar="PATH",
        default=[],
        help="YAML/JSON files or directories with IDMS/ITMS/ICSP objects ('-' for stdin)",
    )
    command.add_argument(
        "--example",
        action="store_true",
        help="use the example mirror sets shipped with idms-guard",
    )


def add_exempt_namespace_option(command: argparse.ArgumentParser) -> None:
    """For every command that applies the webhook's namespace exemptions."""
    command.add_argument(
        "--exempt-namespace",
        action="append",
        default=[],
        metavar="PATTERN",
        help="also exempt these namespaces (fnmatch, repeatable), besides kube-*, openshift-* "
        "(or IDMS_GUARD_EXEMPT_NAMESPACES) and POD_NAMESPACE",
    )


def add_node_config_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--node-config",
        metavar="DIR",
        help="judge with a node's own files instead of mirror sets: DIR is laid out like "
        "/etc/containers (registries.conf, registries.conf.d/*.conf), as on MicroShift "
        "or a CRI-O node",
    )


def add_cluster_options(command: argparse.ArgumentParser, pool: bool = False) -> None:
    command.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="without --mirror-sets or --node-config, read the mirror sets of this cluster "
        "(default: in-cluster, then $KUBECONFIG or ~/.kube/config)",
    )
    if pool:
        command.add_argument(
            "--pool",
            metavar="NAME",
            help="judge with the registries files the nodes of this MachineConfigPool run "
            "(its rendered MachineConfig; OpenShift), not with the current objects",
        )


def index_from_args(args: argparse.Namespace, stderr: TextIO) -> MirrorIndex:
    """The index `--node-config`, `--pool`, `--mirror-sets`/`--example` or, with none of
    them, the live cluster's mirror sets describe."""
    chosen = [
        option
        for option, value in (
            ("--node-config", getattr(args, "node_config", None)),
            ("--pool", getattr(args, "pool", None)),
            ("--mirror-sets/--example", args.mirror_sets or getattr(args, "example", False)),
        )
        if value
    ]
    if len(chosen) > 1:
        raise UsageError(f"use either {' or '.join(chosen)}, not both")
    if getattr(args, "node_config", None):
        registries = load_node_config(args.node_config)
        for note in registries.notes:
            warn(stderr, f"{args.node_config.rstrip('/')}/{note}")
        return MirrorIndex.from_node_files(registries)
    if chosen or not hasattr(args, "kubeconfig"):
        if getattr(args, "pool", None):
            with closing(_cluster(args)) as client:
                return pool_index_from_cluster(client, args.pool)
        return MirrorIndex.from_config(mirror_sets_from_args(args, stderr))
    with closing(_cluster(args)) as client:
        config = load_mirror_sets(list_mirror_sets(client))
    warn_about(config, stderr)
    return MirrorIndex.from_config(config)


def _cluster(args: argparse.Namespace) -> ApiClient:
    """The cluster `--kubeconfig` names, or the one in reach; without one, what to pass."""
    try:
        return load_api_client(args.kubeconfig)
    except KubeConfigError as error:
        if args.kubeconfig or getattr(args, "pool", None):
            raise
        raise UsageError(
            "--mirror-sets PATH is required (or --example for the built-in set, "
            f"--node-config DIR for a node's own files, or a cluster to read: {error})"
        ) from None


def add_registry_options(command: argparse.ArgumentParser) -> None:
    """For every command that asks a registry for a digest."""
    command.add_argument(
        "--registry-auth",
        metavar="FILE",
        help="dockerconfigjson with credentials for the mirror registries",
    )
    command.add_argument(
        "--registry-ca",
        metavar="FILE",
        help="PEM bundle the mirror registries' certificates chain to (default: system CAs)",
    )


def registry_client_from_args(
    args: argparse.Namespace, insecure: Callable[[str], bool] | None = None
) -> RegistryClient:
    """The client `--registry-auth` and `--registry-ca` describe (a command line's, not the
    server's: no pod pull secrets); `insecure` is the index's, for insecureRegistries."""
    settings = Settings(registry_auth=args.registry_auth or "", registry_ca=args.registry_ca or "")
    return registry_client(settings, insecure)


@contextmanager
def resolver_from_args(
    args: argparse.Namespace, insecure: Callable[[str], bool] | None = None
) -> Iterator[TagResolver]:
    """Cached, parallel lookups with the client of `registry_client_from_args`; closed
    when done."""
    with registry_client_from_args(args, insecure) as client:
        resolver = TagResolver(client.manifest_digest, lookup_timeout=LOOKUP_TIMEOUT_SECONDS)
        try:
            yield resolver
        finally:
            resolver.close()


def warn_unchecked(verdicts: Mapping[str, PresenceVerdict], stderr: TextIO) -> None:
    """`--verify-mirror`: a mirror that could not be asked is a warning, never a finding."""
    for image, verdict in verdicts.items():
        if verdict.presence is Presence.UNKNOWN:
            warn(stderr, f"{image}: mirror not checked: {verdict.reason}")


def mirror_sets_from_args(args: argparse.Namespace, stderr: TextIO) -> MirrorSetConfig:
    """The mirror sets named by `--mirror-sets` or `--example`, problems warned about."""
    if args.example and args.mirror_sets:
        raise UsageError("use either --mirror-sets or --example, not both")
    if args.example:
        config = load_example_mirror_sets()
    elif args.mirror_sets:
        _refuse_images_taken_as_paths(args.mirror_sets)
        config = load_mirror_set_paths(args.mirror_sets, note=lambda text: warn(stderr, text))
        if not config.objects and not config.problems:
            warn(stderr, f"no mirror set in {' '.join(args.mirror_sets)}: nothing is mirrored")
    else:
        raise UsageError(
            "--mirror-sets PATH is required (or --example for the built-in set, or "
            "--node-config DIR for a node's own files)"
        )
    warn_about(config, stderr)
    return config


def _refuse_images_taken_as_paths(paths: list[str]) -> None:
    """`--mirror-sets DIR IMAGE` makes IMAGE a path too (the option takes several): say so."""
    for path in paths:
        if path != "-" and not os.path.exists(path) and _looks_like_image(path):
            raise UsageError(
                f"{path}: no such file or directory; if it is an image, put the images "
                "before --mirror-sets, which takes every word after it"
            )


def _looks_like_image(text: str) -> bool:
    try:
        parse(text)
    except InvalidReferenceError:
        return False
    return not text.endswith((".yaml", ".yml", ".json"))


def warn_about(config: MirrorSetConfig, stderr: TextIO) -> None:
    for problem in config.problems:
        warn(stderr, str(problem))
    if config.mco_rejection:
        ignored = ", ".join(sorted(config.excluded_objects))
        warn(
            stderr,
            "the machine-config operator would refuse this configuration "
            f"({config.mco_rejection}); nodes keep their previous one. "
            f"Shown without: {ignored}. {_remedy(config.mco_rejection)}",
        )


def _remedy(rejection: str) -> str:
    if rejection.startswith("conflicting mirrorSourcePolicy"):
        return (
            "To fix: give every IDMS, ITMS and ICSP entry for that source the same "
            "mirrorSourcePolicy (an ICSP counts as AllowContactingSource)."
        )
    if rejection.startswith("cannot set mirrorSourcePolicy"):
        return "To fix: drop the source from its own mirrors, or allow contacting it."
    return "To fix: correct the format (host[:port][/path], lower-case path, no scheme)."


def warn(stderr: TextIO, text: str) -> None:
    print(f"idms-guard: warning: {text}", file=stderr)


def dns_label(text: str) -> str:
    """Service and namespace names are DNS-1123 labels; anything else makes a useless SAN."""
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a DNS-1123 label (lower-case letters, digits, '-', at most 63)"
        )
    return text


def port(text: str) -> int:
    value = positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value

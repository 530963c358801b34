"""`idms-guard` command line. Parses arguments, calls the core, prints; nothing else.

Every failure the user can cause (a missing file, bad YAML, a bad reference, an unknown
kind) ends as one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from webhook.adapters.tls_certificates import (
    generate_ca,
    generate_serving_certificate,
    service_dns_names,
    write_certificate_files,
)
from webhook.check_command import add_check_parser
from webhook.cli_common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    add_cluster_options,
    add_exempt_namespace_option,
    add_mirror_set_options,
    add_node_config_option,
    add_registry_options,
    dns_label,
    index_from_args,
    installed_version,
    mirror_sets_from_args,
    port,
    positive,
    registry_client_from_args,
)
from webhook.config import Settings
from webhook.core.explanation import (
    explanation_json,
    explanation_lines,
    finding_for_image,
    policy_line,
)
from webhook.core.image_config import base_policy_json
from webhook.core.image_reference import OPENSHIFT_SEARCH_REGISTRIES
from webhook.core.mirror_index import MirrorIndex
from webhook.core.probe_report import first_problem, probe_json, probe_lines
from webhook.core.registries_conf import DIGEST_ONLY_STYLES, PULL_FROM_MIRROR, render
from webhook.errors import IdmsGuardError, UsageError
from webhook.gunicorn_config import ServerOptions
from webhook.main import check_port_free, prepare_demo, serve
from webhook.report_command import add_report_parser

# What `explain --example` shows when no image is named: one case of each kind.
EXAMPLE_IMAGES = (
    "quay.io/acme/shop:1.4",
    "quay.io/acme/shop@sha256:" + "3" * 64,
    "registry.redhat.io/ubi9/ubi:9.4",
    "registry.redhat.io/ubi9/ubi@sha256:" + "5" * 64,
    "docker.io/library/nginx:1.27",
    "nginx",
)


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a killed writer
EXIT_INTERRUPTED = 130  # 128 + SIGINT


def main(
    argv: Sequence[str] | None = None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args, stdout, stderr)
        return result
    except IdmsGuardError as error:
        print(f"idms-guard: error: {error}", file=stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `idms-guard explain … | head`: the reader left; say nothing more, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _explain(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    images = list(args.images) or (list(EXAMPLE_IMAGES) if args.example else [])
    if not images:
        raise UsageError("explain needs at least one IMAGE (or --example)")
    index = index_from_args(args, stderr)
    policy = Settings.from_env(os.environ).policy
    if args.probe:
        return _explain_probed(args, index, images, stdout, stderr)
    status, separator = EXIT_OK, ""
    for image in images:
        plan = index.explain(image)
        if plan.parse_error:
            print(f"idms-guard: error: {plan.parse_error}", file=stderr)
            status = EXIT_USAGE
        elif args.json:
            print(json.dumps(explanation_json(plan)), file=stdout)
        else:
            finding = finding_for_image(image, index, policy)
            lines = [*explanation_lines(plan, index), f"  {policy_line(finding)}"]
            print(separator + "\n".join(lines), file=stdout)
            separator = "\n"
    return status


def _explain_probed(
    args: argparse.Namespace, index: MirrorIndex, images: list[str], stdout: TextIO, stderr: TextIO
) -> int:
    """Ask every candidate that is not blocked; exit 1 when some image cannot be pulled."""
    problems: list[str] = []
    with registry_client_from_args(args, index.insecure) as client:
        for number, image in enumerate(images):
            plan = index.explain(image)
            if plan.parse_error:
                print(f"idms-guard: error: {plan.parse_error}", file=stderr)
                return EXIT_USAGE
            probes = {
                candidate.pull_spec: client.manifest_digest(candidate.pull_spec)
                for pull in plan.plans
                if pull.error is None
                for candidate in pull.candidates
                if not candidate.blocked
            }
            finding = finding_for_image(image, index, Settings.from_env(os.environ).policy)
            advice = f"{finding.problem}; {finding.fix}" if finding else ""
            if first_problem(plan, probes, advice):
                problems.append(f"{image}: {first_problem(plan, probes, advice)}")
            if args.json:
                print(json.dumps(probe_json(plan, probes, advice)), file=stdout)
            else:
                text = "\n".join(probe_lines(plan, probes, advice))
                print(("\n" if number else "") + text, file=stdout)
    if not args.json:
        pulled = len(images) - len(problems)
        summary = f"summary: {pulled} of {len(images)} images can be pulled"
        print(f"\n{summary}" + (f"; fix first: {problems[0]}" if problems else ""), file=stdout)
    return EXIT_FINDINGS if problems else EXIT_OK


def _registries_conf(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    config = mirror_sets_from_args(args, stderr)
    node = config.node
    if args.policy_json:
        stdout.write(node.policy_json() if node else base_policy_json())
    elif args.search_conf:
        stdout.write(node.search_drop_in or "" if node else "")
    else:
        # The search list stays the template's here: Image/cluster's goes to the drop-in.
        tables = MirrorIndex.from_config(config).tables
        stdout.write(render(tables, OPENSHIFT_SEARCH_REGISTRIES, args.digest_only_style))
    # The operator would render nothing from these objects: what is printed is a guess.
    return EXIT_FINDINGS if config.mco_rejection else EXIT_OK


def _serve(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    if args.demo:
        return _serve_demo(args, stdout)
    if not (args.cert and args.key):
        raise UsageError("serve needs --cert FILE and --key FILE (or --demo)")
    serve(serve_settings(args, os.environ), _server_options(args, Path(args.cert), Path(args.key)))
    return EXIT_OK


def serve_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The environment's settings, then the options given, then the release namespace."""
    settings = Settings.from_env(environ).with_exempt_namespaces(args.exempt_namespace)
    if args.mirror_sets:
        settings = replace(settings, mirror_set_paths=tuple(args.mirror_sets))
    if args.node_config:
        settings = replace(settings, node_config=args.node_config)
    if args.kubeconfig:
        settings = replace(settings, kubeconfig=args.kubeconfig)
    if args.no_cluster:
        settings = replace(settings, watch_cluster=False)
    if args.registry_auth:
        settings = replace(settings, registry_auth=args.registry_auth)
    if args.registry_ca:
        settings = replace(settings, registry_ca=args.registry_ca)
    if args.verify_mirror:
        settings = replace(settings, verify_mirror=True)
    return settings.with_release_namespace(environ.get("POD_NAMESPACE", ""))


def _serve_demo(args: argparse.Namespace, stdout: TextIO) -> int:
    check_port_free("127.0.0.1", args.port)
    with tempfile.TemporaryDirectory(prefix="idms-guard-demo-") as directory:
        demo = prepare_demo(Path(directory), args.port)
        print(
            f"idms-guard demo: serving https://127.0.0.1:{args.port} with the example mirror "
            f"sets and a throwaway CA in {directory}.\n"
            "Play the API server: in another terminal, send the sample review "
            "(a pod with three images) and read the answer:\n\n"
            f"  {demo.curl}\n\n"
            "Replace /validate/warn with /validate/enforce or /validate/audit to see the "
            "other modes. Ctrl-C stops the server.",
            file=stdout,
            flush=True,
        )
        options = replace(demo.options, workers=1, connections=args.connections)
        serve(demo.settings, options)
    return EXIT_OK


def _server_options(args: argparse.Namespace, cert: Path, key: Path) -> ServerOptions:
    return ServerOptions(
        cert,
        key,
        host=args.host,
        port=args.port,
        workers=args.workers,
        connections=args.connections,
    )


def _certs(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    existing = [
        name for name in ("ca.crt", "tls.crt", "tls.key") if (Path(args.out) / name).exists()
    ]
    if existing and not args.force:
        raise UsageError(
            f"{args.out} already holds {', '.join(existing)}; replacing the CA breaks the "
            "caBundle the webhook configurations carry (use --force to replace them)"
        )
    ca = generate_ca(f"{args.service}-ca", days=args.ca_days)
    names = service_dns_names(args.service, args.namespace)
    serving = generate_serving_certificate(ca, names, days=args.days)
    files = write_certificate_files(Path(args.out), ca, serving)
    for name, path in files.items():
        print(f"wrote {path} ({name})", file=stdout)
    print(f"serving certificate for {', '.join(names)}, valid {args.days} days", file=stdout)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idms-guard",
        description="Keep pods on disconnected clusters pulling through their mirrors.",
    )
    parser.add_argument("--version", action="version", version=f"idms-guard {installed_version()}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    explain = commands.add_parser(
        "explain",
        help="where the node would pull an image from, in order",
        description="Print, for each IMAGE, every pull the node's CRI-O would attempt, in "
        "order, as the cluster's ImageDigestMirrorSets, ImageTagMirrorSets and "
        "ImageContentSourcePolicies configure it.",
    )
    explain.add_argument("images", nargs="*", metavar="IMAGE", help="image as written in a pod")
    add_mirror_set_options(explain)
    add_node_config_option(explain)
    add_cluster_options(explain, pool=True)
    explain.add_argument("--json", action="store_true", help="one JSON object per image")
    explain.add_argument(
        "--probe",
        action="store_true",
        help="contact each candidate (HEAD manifest) and say which one the node would pull from",
    )
    add_registry_options(explain)
    explain.set_defaults(run=_explain)

    conf = commands.add_parser(
        "registries-conf",
        help="print the registries.conf the machine-config operator renders",
    )
    add_mirror_set_options(conf)
    conf.add_argument(
        "--digest-only-style",
        choices=DIGEST_ONLY_STYLES,
        default=PULL_FROM_MIRROR,
        help="how digest-only mirrors are written (default: %(default)s, as the MCO does; "
        "mirror-by-digest-only for runtimes older than pull-from-mirror)",
    )
    which = conf.add_mutually_exclusive_group()
    which.add_argument(
        "--policy-json",
        action="store_true",
        help="print /etc/containers/policy.json instead (Image/cluster's allowed and "
        "blocked registries)",
    )
    which.add_argument(
        "--search-conf",
        action="store_true",
        help="print the registries.conf.d search-registries drop-in instead (nothing when "
        "Image/cluster sets no containerRuntimeSearchRegistries)",
    )
    conf.set_defaults(run=_registries_conf)
    _add_serve(commands)
    _add_certs(commands)
    add_check_parser(commands)
    add_report_parser(commands)
    return parser


def _add_certs(commands: Any) -> None:
    certs = commands.add_parser(
        "certs",
        help="write a CA and a serving certificate for the webhook Service",
        description="Write ca.crt, tls.crt and tls.key (the keys of a kubernetes.io/tls "
        "Secret plus the CA for the webhook configurations' caBundle). The serving "
        "certificate names NAME.NS.svc and NAME.NS.svc.cluster.local, which the API "
        "server checks.",
    )
    certs.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    certs.add_argument(
        "--service", required=True, type=dns_label, metavar="NAME", help="the webhook Service"
    )
    certs.add_argument(
        "--namespace", required=True, type=dns_label, metavar="NS", help="its namespace"
    )
    certs.add_argument("--days", type=positive, default=365, help="serving certificate validity")
    certs.add_argument("--ca-days", type=positive, default=3650, help="CA validity")
    certs.add_argument("--force", action="store_true", help="replace files already in DIR")
    certs.set_defaults(run=_certs)


def _add_serve(commands: Any) -> None:
    serve_command = commands.add_parser(
        "serve",
        help="run the admission webhook (HTTPS, gunicorn)",
        description="Serve /validate/enforce, /validate/warn and /validate/audit over HTTPS. "
        "Certificate files renewed on disk are picked up without a restart; mirror-set "
        "files are re-read when they change.",
    )
    serve_command.add_argument("--cert", metavar="FILE", help="serving certificate (PEM)")
    serve_command.add_argument("--key", metavar="FILE", help="its private key (PEM)")
    serve_command.add_argument(
        "--mirror-sets", nargs="+", metavar="PATH", default=[], help="IDMS/ITMS/ICSP files or dirs"
    )
    add_node_config_option(serve_command)
    serve_command.add_argument("--host", default="0.0.0.0", help="address to listen on")
    serve_command.add_argument("--port", type=port, default=8443, help="default: %(default)s")
    serve_command.add_argument("--workers", type=positive, default=1, help="processes")
    serve_command.add_argument(
        "--connections",
        type=positive,
        default=ServerOptions.connections,
        help="open connections per worker; each is a greenlet, not a thread",
    )
    serve_command.add_argument(
        "--threads", type=positive, default=8, help="ignored (gevent workers); still accepted"
    )
    add_exempt_namespace_option(serve_command)
    add_registry_options(serve_command)
    serve_command.add_argument(
        "--verify-mirror",
        action="store_true",
        help="ask the mirrors whether they hold each image the mirror sets route to them "
        "(IDMS_GUARD_VERIFY_MIRROR); an image none holds is a not-in-mirror finding",
    )
    serve_command.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="watch the mirror sets of this cluster (default: in-cluster, then $KUBECONFIG)",
    )
    serve_command.add_argument(
        "--no-cluster",
        action="store_true",
        help="do not watch a cluster; judge with --mirror-sets files alone",
    )
    serve_command.add_argument(
        "--demo",
        action="store_true",
        help="throwaway CA and certificate, example mirror sets, 127.0.0.1; prints a curl command",
    )
    serve_command.set_defaults(run=_serve)


if __name__ == "__main__":
    sys.exit(main())

"""What pinning tags to digests costs against a real registry: cold, warm, and one lookup.

Run by hand from the repository root (about 15 s; only 127.0.0.1 traffic):

    python bench/pinning.py

It starts Debian's `docker-registry` (htpasswd auth, TLS with a throwaway CA) through
`tests.support.registry.RegistryServer`, pushes 10 small OCI images to
mirror/acme/app0..9:v1, and mirrors quay.io/acme there with one IDMS. Then, in this one
run, each pair taking turns so drift in the machine's speed hits both alike:

- cold pin: POST /mutate (Flask's test client) for a pod with 1 tagged image and one with
  10, each repetition on a new RegistryClient + TagResolver (no digest, connection or
  credential cached), so the 10 / 1 ratio shows how well the lookups overlap; and the
  10-image pod on a resolver with one lookup thread, for what the overlap buys;
- warm pin against validate-only: the 10-image pod to /mutate on one resolver whose cache
  is full, and to /validate/warn, which never asks a registry;
- one lookup: `RegistryClient.manifest_digest` on a new client (TLS handshake and the
  401 round trip included) against `skopeo inspect --raw` of the same tag.

It prints the median, min and max of each, the CPU each call cost in this process and in
the registry (from /proc), and the ratios. bench/README.md explains how to read them. The
registry is stopped on the way out, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import inspect
import json
import os
import platform
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flask.testing import FlaskClient

from webhook.adapters.http_app import AppSettings, create_app
from webhook.adapters.registry import DockerConfig, LookupOutcome, RegistryClient
from webhook.adapters.resolver import TagResolver
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings

if TYPE_CHECKING:
    from tests.support.registry import RegistryServer, RegistryTls

REPO = Path(__file__).resolve().parents[1]
IMAGE_COUNT = 10
SOURCE = "quay.io/acme"
MIRROR_PATH = "mirror/acme"
TAG = "v1"
USER = "bench-reader"
MUTATE = "/mutate?timeout=10s"
VALIDATE = "/validate/warn?timeout=10s"
RESOLVER_WORKERS: int = inspect.signature(TagResolver).parameters["workers"].default
CONTAINER_IMAGE = re.compile(r"/spec/containers/(\d+)/image")

T = TypeVar("T")


def support_on_path() -> None:
    """`python bench/...` puts bench/, not the root, first; tests.support lives in the root."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


# --- the registry ------------------------------------------------------------------------


@dataclass(frozen=True)
class Mirror:
    registry: RegistryServer
    tls: RegistryTls
    password: str
    digests: list[str]
    """The manifest digest of app<i>:v1, as pushed."""

    @property
    def host(self) -> str:
        return self.registry.host

    def spec(self, number: int) -> str:
        return f"{self.host}/{MIRROR_PATH}/app{number}:{TAG}"

    def credentials(self, host: str = "") -> DockerConfig:
        """For the registry, or for `host` (a proxy in front of it)."""
        token = base64.b64encode(f"{USER}:{self.password}".encode()).decode()
        return DockerConfig.from_json(json.dumps({"auths": {host or self.host: {"auth": token}}}))

    def index(self, host: str = "") -> MirrorIndex:
        """IDMS quay.io/acme -> <host>/mirror/acme, the usual oc-mirror output."""
        from tests.support.mirror_objects import entry, mirror_object

        mirrors = [entry(SOURCE, f"{host or self.host}/{MIRROR_PATH}")]
        return MirrorIndex.from_config(load_mirror_sets([mirror_object("idms", "acme", mirrors)]))


@contextmanager
def running_mirror(directory: Path) -> Iterator[Mirror]:
    """docker-registry on 127.0.0.1 with the images pushed; stopped on the way out
    (RegistryServer's exit: SIGTERM, then SIGKILL to its process group)."""
    from tests.support.registry import RegistryServer, make_registry_tls, push_image

    tls = make_registry_tls(directory / "tls")
    workdir = directory / "registry"
    workdir.mkdir()
    password = secrets.token_hex(12)
    with RegistryServer(workdir, tls, "htpasswd", users={USER: password}) as registry:
        digests = [
            push_image(
                registry, f"{MIRROR_PATH}/app{number}", TAG, layer_bytes=f"app{number}".encode()
            )
            for number in range(IMAGE_COUNT)
        ]
        yield Mirror(registry, tls, password, digests)


# --- the webhook -------------------------------------------------------------------------


@dataclass
class Webhook:
    """The app as tests/adapters/test_pinning_e2e.py builds it: a real RegistryClient and
    TagResolver behind `create_app`, driven through Flask's test client."""

    client: RegistryClient
    resolver: TagResolver
    http: FlaskClient

    def close(self) -> None:
        self.resolver.close()
        self.client.close()


def webhook_factory(mirror: Mirror, args: argparse.Namespace) -> Callable[[int], Webhook]:
    """build(lookup threads): a new client, resolver (empty cache) and app."""
    index = mirror.index()
    credentials = mirror.credentials()
    settings = AppSettings(PolicySettings(), pin_timeout=args.pin_timeout)

    class Fixed:
        ready = True
        current = index

    def build(workers: int) -> Webhook:
        client = RegistryClient(credentials, mirror.tls.ca_file, timeout=args.registry_timeout)
        resolver = TagResolver(client.manifest_digest, workers=workers)
        return Webhook(client, resolver, create_app(settings, Fixed(), resolver).test_client())

    return build


def pod_body(count: int) -> bytes:
    """A pod CREATE (from a real API server's review) with app0..app<count-1>, all tags."""
    from tests.support.reviews import pod_review

    images = {f"app{number}": f"{SOURCE}/app{number}:{TAG}" for number in range(count)}
    return json.dumps(pod_review(images)).encode()


def post(http: FlaskClient, path: str, body: bytes) -> dict[str, Any]:
    """The AdmissionReview's response to `body` (already JSON: not re-encoded per call)."""
    reply = http.post(path, data=body, content_type="application/json")
    if reply.status_code != 200:
        raise SystemExit(f"POST {path}: HTTP {reply.status_code}: {reply.get_data(as_text=True)}")
    response: dict[str, Any] = reply.get_json()["response"]
    return response


def require_pinned(response: dict[str, Any], count: int, mirror: Mirror, what: str) -> None:
    """Every container's tag replaced by the digest pushed for it, and no warning; else
    the timed path was not the real one (a timeout, a 401, a cache that was not cold)."""
    pinned: dict[int, str] = {}
    if "patch" in response:
        for operation in json.loads(base64.b64decode(response["patch"])):
            found = CONTAINER_IMAGE.fullmatch(operation["path"])
            if found:
                pinned[int(found.group(1))] = operation["value"]
    expected = {n: f"{SOURCE}/app{n}@{mirror.digests[n]}" for n in range(count)}
    if response.get("allowed") is not True or pinned != expected or response.get("warnings"):
        raise SystemExit(
            f"{what}: not every image was pinned to its digest "
            f"(pinned {pinned}, expected {expected}):\n{json.dumps(response, indent=2)}"
        )


# --- the measurements --------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    wall: float
    here_cpu: float
    """This process (all threads) plus children reaped meanwhile (skopeo)."""
    registry_cpu: float | None
    """The registry's threads' run time; None where /proc cannot tell."""


def registry_pid(workdir: Path) -> int | None:
    """The docker-registry child serving from `workdir` (RegistryServer keeps its process
    to itself); None where /proc cannot tell."""
    try:
        for task in Path("/proc/self/task").iterdir():
            for child in (task / "children").read_text().split():
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                mine = any(str(workdir).encode() in argument for argument in argv)
                if argv[0].endswith(b"docker-registry") and mine:
                    return int(child)
    except (OSError, IndexError):
        return None
    return None


def threads_cpu_seconds(pid: int | None) -> float | None:
    """Run time of every thread of `pid` (/proc/<pid>/task/*/schedstat, in ns: precise,
    where /proc/<pid>/stat counts 10 ms ticks). Go seldom ends a thread, so none is lost."""
    if pid is None:
        return None
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        return sum(int((task / "schedstat").read_text().split()[0]) for task in tasks) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def here_cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class Meter:
    """Times one call: wall clock, and the CPU spent here and in the registry meanwhile.
    The CPU counters are read outside the wall-clock window."""

    def __init__(self, registry: int | None) -> None:
        self.registry = registry

    def __call__(self, action: Callable[[], T]) -> tuple[T, Sample]:
        registry_before = threads_cpu_seconds(self.registry)
        here_before = here_cpu_seconds()
        started = time.perf_counter()
        result = action()
        wall = time.perf_counter() - started
        here = here_cpu_seconds() - here_before
        registry_after = threads_cpu_seconds(self.registry)
        registry = (
            None
            if registry_before is None or registry_after is None
            else registry_after - registry_before
        )
        return result, Sample(wall, here, registry)


def in_turn(names: list[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, name): the names in order, then reversed, and so on (a, b, b, a, ...)."""
    for number in range(rounds):
        for name in names if number % 2 == 0 else names[::-1]:
            yield number, name


def cold_pins(
    mirror: Mirror, build: Callable[[int], Webhook], meter: Meter, args: argparse.Namespace
) -> dict[str, list[Sample]]:
    """POST /mutate on a new client + resolver each time, for the 1-image pod, the
    10-image pod, and the 10-image pod with one lookup thread. Round 0 is an untimed
    warm-up (imports, first-use code paths); every answer is checked."""
    variants = {
        "1": (1, args.workers),
        "10": (IMAGE_COUNT, args.workers),
        "10 serial": (IMAGE_COUNT, 1),
    }
    bodies = {count: pod_body(count) for count, _ in variants.values()}
    samples: dict[str, list[Sample]] = {name: [] for name in variants}
    for number, name in in_turn(list(variants), args.cold_repeat + 1):
        count, workers = variants[name]
        webhook = build(workers)
        try:
            response, sample = meter(partial(post, webhook.http, MUTATE, bodies[count]))
            lookups = webhook.resolver.lookups_made
        finally:
            webhook.close()
        require_pinned(response, count, mirror, f"cold pin of {count} image(s)")
        if lookups != count:
            raise SystemExit(f"cold pin of {count} image(s) made {lookups} lookups")
        if number:
            samples[name].append(sample)
    return samples


def warm_pins(
    mirror: Mirror, build: Callable[[int], Webhook], meter: Meter, args: argparse.Namespace
) -> tuple[dict[str, list[Sample]], list[str]]:
    """The 10-image pod to /mutate and to /validate/warn, in turn, on one webhook whose
    resolver cache the first request filled; and the validate answer's warnings."""
    body = pod_body(IMAGE_COUNT)
    webhook = build(args.workers)
    try:
        require_pinned(post(webhook.http, MUTATE, body), IMAGE_COUNT, mirror, "first pin")
        answer = post(webhook.http, VALIDATE, body)
        if answer.get("allowed") is not True:
            raise SystemExit(f"/validate/warn did not allow:\n{json.dumps(answer, indent=2)}")
        lookups = webhook.resolver.lookups_made
        samples: dict[str, list[Sample]] = {MUTATE: [], VALIDATE: []}
        for _, path in in_turn(list(samples), args.warm_repeat):
            response, sample = meter(partial(post, webhook.http, path, body))
            if path == MUTATE:
                require_pinned(response, IMAGE_COUNT, mirror, "warm pin")
            elif response.get("allowed") is not True:
                raise SystemExit("/validate/warn did not allow")
            samples[path].append(sample)
        if webhook.resolver.lookups_made != lookups:
            raise SystemExit("warm pins asked the registry: the cache did not hold")
    finally:
        webhook.close()
    return samples, list(answer.get("warnings", []))


def single_lookups(
    mirror: Mirror, meter: Meter, home: Path, args: argparse.Namespace
) -> dict[str, list[Sample]]:
    """app0:v1's digest two ways, in turn: `manifest_digest` on a new RegistryClient (its
    construction untimed) and `skopeo inspect --raw`; and `skopeo --version` alone, for
    skopeo's process start. Round 0 is an untimed warm-up (page cache, first use)."""
    from tests.support.registry import skopeo_raw_manifest

    skopeo = shutil.which("skopeo") or "skopeo"  # main checked that it is installed
    spec = mirror.spec(0)
    credentials = mirror.credentials()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(home)}

    def skopeo_inspect() -> bytes:
        try:
            return skopeo_raw_manifest(
                spec, mirror.tls, home, (USER, mirror.password), args.skopeo_timeout
            )
        except (AssertionError, subprocess.TimeoutExpired) as error:
            raise SystemExit(f"skopeo inspect --raw docker://{spec} failed: {error}") from None

    def skopeo_start() -> subprocess.CompletedProcess[bytes]:
        argv = [skopeo, "--version"]
        return subprocess.run(
            argv, capture_output=True, timeout=args.skopeo_timeout, check=False, env=env
        )

    samples: dict[str, list[Sample]] = {"client": [], "skopeo": [], "start": []}
    for number, kind in in_turn(list(samples), args.lookup_repeat + 1):
        if kind == "client":
            with RegistryClient(credentials, mirror.tls.ca_file, args.registry_timeout) as client:
                lookup, sample = meter(partial(client.manifest_digest, spec))
            if lookup.outcome is not LookupOutcome.FOUND or lookup.digest != mirror.digests[0]:
                raise SystemExit(f"RegistryClient lookup of {spec}: {lookup}")
        elif kind == "skopeo":
            raw, sample = meter(skopeo_inspect)
            if "sha256:" + hashlib.sha256(raw).hexdigest() != mirror.digests[0]:
                raise SystemExit(f"skopeo fetched a manifest that is not {mirror.digests[0]}")
        else:
            result, sample = meter(skopeo_start)
            if result.returncode != 0:
                raise SystemExit(f"skopeo --version failed: {result.stderr.decode()}")
        if number:
            samples[kind].append(sample)
    return samples


# --- report ------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    unit: str
    samples: list[Sample]

    @property
    def scale(self) -> float:
        return 1e6 if self.unit == "µs" else 1e3

    @property
    def median_seconds(self) -> float:
        return statistics.median(sample.wall for sample in self.samples)

    @property
    def median(self) -> float:
        return self.median_seconds * self.scale

    @property
    def here_cpu(self) -> float:
        """Mean CPU per call, in the row's unit."""
        return statistics.fmean(sample.here_cpu for sample in self.samples) * self.scale

    @property
    def registry_cpu(self) -> float | None:
        values = [sample.registry_cpu for sample in self.samples]
        if any(value is None for value in values):
            return None
        return statistics.fmean(value for value in values if value is not None) * self.scale


def print_table(rows: list[Row]) -> None:
    width = max(len(row.label) for row in rows)
    header = (
        f"{'measurement':<{width}} {'reps':>5} {'median':>8} {'min':>8} {'max':>8} "
        f"{'unit':<4} {'CPU here':>9} {'CPU registry':>12}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        walls = [sample.wall * row.scale for sample in row.samples]
        digits = 0 if row.unit == "µs" else 2
        registry = "-" if row.registry_cpu is None else f"{row.registry_cpu:.{digits}f}"
        print(
            f"{row.label:<{width}} {len(row.samples):>5} {row.median:>8.{digits}f} "
            f"{min(walls):>8.{digits}f} {max(walls):>8.{digits}f} {row.unit:<4} "
            f"{row.here_cpu:>9.{digits}f} {registry:>12}"
        )


def ratio(numerator: Row, denominator: Row) -> str:
    return f"{numerator.median_seconds / denominator.median_seconds:.2f}"


def print_ratios(rows: dict[str, Row], workers: int, cpus: int) -> None:
    ten = f"{IMAGE_COUNT} images"
    lines = [
        (f"cold pin, {ten} / 1 image", ratio(rows["cold 10"], rows["cold 1"])),
        (
            f"cold pin, {ten}: {workers} lookup threads / 1",
            ratio(rows["cold 10"], rows["cold 10 serial"]),
        ),
        (f"warm pin / validate only, {ten}", ratio(rows["warm"], rows["validate"])),
        ("skopeo inspect / RegistryClient lookup", ratio(rows["skopeo"], rows["lookup"])),
    ]
    width = max(len(label) for label, _ in lines)
    print("\nratios of medians")
    for label, value in lines:
        print(f"  {label:<{width}} {value:>6}")
    cold = rows["cold 10"]
    if cold.registry_cpu is not None:
        floor = (cold.here_cpu + cold.registry_cpu) / cpus
        print(
            f"\ncold pin, {ten}: {cold.here_cpu:.1f} ms CPU here + {cold.registry_cpu:.1f} ms in "
            f"the registry; on {cpus} CPUs no overlap gets it under {floor:.1f} ms"
        )


# --- main --------------------------------------------------------------------------------


def positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add(
        "--cold-repeat",
        type=positive(int),
        default=40,
        help="timed cold pins of each kind (1 image, 10, 10 with 1 thread) [40]",
    )
    add(
        "--warm-repeat",
        type=positive(int),
        default=500,
        help="timed warm pins and validate-only calls each [500]",
    )
    add(
        "--lookup-repeat",
        type=positive(int),
        default=25,
        help="timed single lookups, skopeo runs and skopeo starts each [25]",
    )
    add(
        "--workers",
        type=positive(int),
        default=RESOLVER_WORKERS,
        help=f"TagResolver lookup threads [{RESOLVER_WORKERS}, its default]",
    )
    add(
        "--pin-timeout",
        type=positive(float),
        default=10.0,
        help="seconds all lookups of one request may take (AppSettings.pin_timeout) [10]",
    )
    add(
        "--registry-timeout",
        type=positive(float),
        default=5.0,
        help="seconds per registry lookup (RegistryClient timeout) [5]",
    )
    add(
        "--skopeo-timeout",
        type=positive(float),
        default=30.0,
        help="seconds before a skopeo run is killed [30]",
    )
    return parser.parse_args(argv)


def tool_version(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return result.stdout.decode(errors="replace").strip() or "?"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    support_on_path()
    from tests.support.registry import REGISTRY_BINARY

    for binary in (REGISTRY_BINARY, "skopeo"):
        if shutil.which(binary) is None:
            raise SystemExit(f"{binary} is not installed (Debian: docker-registry, skopeo)")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"python {platform.python_version()}, {cpus} CPUs, "
        f"{tool_version([REGISTRY_BINARY, '--version'])} (htpasswd, TLS), "
        f"{tool_version(['skopeo', '--version'])}"
    )
    print(
        f"TagResolver: {args.workers} lookup threads; pin timeout {args.pin_timeout:g} s, "
        f"registry timeout {args.registry_timeout:g} s"
    )
    with (
        tempfile.TemporaryDirectory(prefix="idms-guard-bench-") as temporary,
        running_mirror(Path(temporary)) as mirror,
    ):
        meter = Meter(registry_pid(mirror.registry.workdir))
        if meter.registry is None:
            print("registry CPU: not readable from /proc here; shown as -")
        print(f"pushed {IMAGE_COUNT} images to {mirror.host}/{MIRROR_PATH}/app0..9:{TAG}")
        build = webhook_factory(mirror, args)
        print(
            f"running cold pins: {args.cold_repeat} each of 1 image, {IMAGE_COUNT} images, "
            f"{IMAGE_COUNT} images with 1 lookup thread",
            flush=True,
        )
        cold = cold_pins(mirror, build, meter, args)
        print(f"running warm pins and validate-only: {args.warm_repeat} each", flush=True)
        warm, warnings = warm_pins(mirror, build, meter, args)
        print(f"  /validate/warn allows the pod with {len(warnings)} warnings, the first:")
        print(f"  {warnings[0] if warnings else '-'}")
        print(f"running single lookups and skopeo: {args.lookup_repeat} each", flush=True)
        single = single_lookups(mirror, meter, Path(temporary) / "skopeo-home", args)
    ten = f"{IMAGE_COUNT} images"
    rows = {
        "cold 1": Row("cold pin, 1 image", "ms", cold["1"]),
        "cold 10": Row(f"cold pin, {ten}", "ms", cold["10"]),
        "cold 10 serial": Row(f"cold pin, {ten}, 1 lookup thread", "ms", cold["10 serial"]),
        "warm": Row(f"warm pin, {ten} (cache full)", "µs", warm[MUTATE]),
        "validate": Row(f"validate only, {ten} (/validate/warn)", "µs", warm[VALIDATE]),
        "lookup": Row("one lookup, new RegistryClient", "ms", single["client"]),
        "skopeo": Row("skopeo inspect --raw", "ms", single["skopeo"]),
        "start": Row("skopeo --version (process start)", "ms", single["start"]),
    }
    print()
    print_table(list(rows.values()))
    print_ratios(rows, args.workers, cpus or 1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted; registry stopped", file=sys.stderr)
        sys.exit(130)

"""What the webhook adds to an admission call, over HTTPS, against a do-nothing baseline.

Run by hand from the repository root (about 22 s; only 127.0.0.1 traffic):

    python bench/admission_load.py

It starts three gunicorn servers with the same settings (`gunicorn_options` +
`WebhookServer`) and the same throwaway TLS certificate: the real webhook with the example
mirror sets plus generated rules (100 in all), the same with 10 000 rules, and a Flask app
that answers every review with a fixed "allowed" (bench/_servers.py). Then it loads them,
in this one run, with the same 5-container pod review over keep-alive HTTPS connections,
as the API server does:

- fixed rate: an open-loop schedule (request i is due at start + i / rate); latency counts
  from the due time, so a stalled server is charged for the requests queued behind it;
- saturation: N connections, each sending its next request as soon as the last is answered.

Each phase runs in a few short rounds with the servers taking turns, so drift in the
machine's speed hits both alike. bench/README.md explains how to read the output.

It prints requests, answers per second, p50/p99 latency and errors per server and phase,
the CPU the servers and this load generator spent, the webhook / noop and 10 000 / 100
rule ratios, and how long parsing and indexing the 10 000 rules takes (what a worker does
on each change of the mirror sets).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from webhook.adapters.tls_certificates import (
    generate_ca,
    generate_serving_certificate,
    service_dns_names,
    write_certificate_files,
)
from webhook.gunicorn_config import ServerOptions

REPO = Path(__file__).resolve().parents[1]
SERVER_SCRIPT = Path(__file__).resolve().with_name("_servers.py")
MIRROR_SETS = REPO / "webhook" / "examples" / "mirror-sets.yaml"
HOST = "127.0.0.1"
# The API server appends the call's timeout to the configured path.
VALIDATE_PATH = "/validate/warn?timeout=10s"
HEADERS = {
    "Accept": "application/json, */*",
    "Content-Type": "application/json",
    "User-Agent": "kube-apiserver-admission",
}
ALLOWED = (b'"allowed":true', b'"allowed": true')  # the webhook's JSON is compact

DIGEST = "sha256:" + "5f1b" * 16
# One container per kind of image, judged against webhook/examples/mirror-sets.yaml.
IMAGES = {
    "web": "quay.io/acme/shop/web:1.4",  # tag, mirrored (ITMS quay.io/acme)
    "api": f"quay.io/acme/shop/api@{DIGEST}",  # digest, mirrored (IDMS quay.io/acme)
    "nginx": "docker.io/library/nginx:1.27",  # tag, no mirror for docker.io
    "tools": "busybox",  # short name
    "ubi": "registry.redhat.io/ubi9/ubi:9.4",  # tag, source blocked, digest-only mirror
}
FLAGGED = ("docker.io/library/nginx:1.27", "busybox", "registry.redhat.io/ubi9/ubi:9.4")
NOT_FLAGGED = ("quay.io/acme/shop/web:1.4", f"quay.io/acme/shop/api@{DIGEST}")

SERVERS = ("webhook", "noop", "webhook-10k")
WEBHOOKS = {"webhook": 100, "webhook-10k": 10_000}
"""Each webhook's rule count: the example mirror sets plus generated rules."""
STOP_SECONDS = 10.0


# --- the request -------------------------------------------------------------------------


def review_body() -> bytes:
    """The pod review, built like the tests build theirs: from a real API server request."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # `python bench/...` puts bench/, not the root, first
    from tests.support.reviews import pod_review

    return json.dumps(pod_review(IMAGES)).encode()


# --- the servers -------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def write_certificates(directory: Path) -> dict[str, Path]:
    ca = generate_ca("idms-guard-bench-ca", days=1)
    names = [*service_dns_names("idms-guard", "idms-guard"), "localhost"]
    serving = generate_serving_certificate(ca, names, days=1, ip_addresses=[HOST])
    return write_certificate_files(directory, ca, serving)


def write_mirror_sets(directory: Path, rules: int) -> Path:
    """A directory with the example mirror sets and generated rules (bench/match_scaling.py's
    shapes, none of which matches the review's images), `rules` entries in all."""
    import yaml
    from match_scaling import mirror_objects

    from webhook.main import load_mirror_set_paths

    directory.mkdir()
    (directory / "example.yaml").write_text(MIRROR_SETS.read_text())
    example = len(load_mirror_set_paths([str(MIRROR_SETS)]).rules)
    generated = directory / "generated.yaml"
    generated.write_text(yaml.safe_dump_all(mirror_objects(rules - example)))
    return directory


def index_load_seconds(path: Path, repeat: int = 3) -> float:
    """Best of `repeat`: read, check and index the mirror sets, as a worker does per change."""
    from webhook.core.mirror_index import MirrorIndex
    from webhook.main import load_mirror_set_paths

    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        MirrorIndex.from_config(load_mirror_set_paths([str(path)]))
        best = min(best, time.perf_counter() - started)
    return best


def start_server(
    kind: str, files: dict[str, Path], directory: Path, workers: int, sets: Path | None
) -> Server:
    port = free_port()
    command = [
        sys.executable,
        str(SERVER_SCRIPT),
        f"--kind={'noop' if sets is None else 'webhook'}",
        f"--port={port}",
        f"--cert={files['tls.crt']}",
        f"--key={files['tls.key']}",
        f"--workers={workers}",
    ]
    if sets is not None:
        command.append(f"--mirror-sets={sets}")
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    log_path = directory / f"{kind}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": python_path},
            # Its own session: Ctrl-C reaches only this script, whose `finally` stops the
            # server, and a kill can take the master's workers with it (process group).
            start_new_session=True,
        )
    return Server(kind, port, process, log_path)


def wait_until_ready(server: Server, context: ssl.SSLContext, deadline: float) -> None:
    """Poll /healthz, then /readyz (mirror sets loaded), until `deadline`."""
    for path in ("/healthz", "/readyz"):
        while True:
            if server.process.poll() is not None:
                raise SystemExit(
                    f"{server.name} server exited with {server.process.returncode}:\n"
                    + server.log_tail()
                )
            if _get_ok(server.port, context, path):
                break
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"{server.name} server: no 200 on {path} in time:\n" + server.log_tail()
                )
            time.sleep(0.1)


def _get_ok(port: int, context: ssl.SSLContext, path: str) -> bool:
    connection = http.client.HTTPSConnection(HOST, port, context=context, timeout=2)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def stop_server(server: Server) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL to its process group if it hangs."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"{server.name} server ignored SIGTERM for {STOP_SECONDS:.0f} s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own group: start_new_session
            process.wait(timeout=STOP_SECONDS)


def server_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and its descendants (gunicorn master and workers),
    from /proc; None where /proc or its `children` files are missing."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    pending = [pid]
    try:
        while pending:
            current = pending.pop()
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
            total += int(fields[11]) + int(fields[12])  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    except (OSError, ValueError, IndexError):
        return None
    return total / ticks


# --- the load generator ------------------------------------------------------------------


class RequestError(Exception):
    """A failed admission call; `kind` is what the error table counts."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Connection:
    """One keep-alive HTTPS connection, reopened after a failure, like the API server's."""

    def __init__(self, port: int, context: ssl.SSLContext, timeout: float) -> None:
        self._port = port
        self._context = context
        self._timeout = timeout
        self._connection: http.client.HTTPSConnection | None = None

    def post(self, body: bytes) -> bytes:
        if self._connection is None:
            self._connection = http.client.HTTPSConnection(
                HOST, self._port, context=self._context, timeout=self._timeout
            )
        try:
            self._connection.request("POST", VALIDATE_PATH, body=body, headers=HEADERS)
            response = self._connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise RequestError(type(error).__name__) from error
        if response.status != 200:
            raise RequestError(f"HTTP {response.status}")
        if not any(allowed in answer for allowed in ALLOWED):
            raise RequestError("not allowed")
        return answer

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@dataclass
class Tally:
    """One thread's results; merged after the threads are joined, so no lock is needed."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    last_answer: float = 0.0


Work = Callable[[Connection, Tally], None]
"""What one load thread does with its connection, counting into its own tally."""


@dataclass
class PhaseResult:
    server: str
    phase: str
    latencies: list[float]
    errors: Counter[str]
    elapsed: float
    client_cpu: float
    server_cpu: float | None

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    def plus(self, other: PhaseResult) -> PhaseResult:
        """The two rounds as one: latencies pooled, counts and times added."""
        server_cpu = (
            None
            if self.server_cpu is None or other.server_cpu is None
            else self.server_cpu + other.server_cpu
        )
        return PhaseResult(
            self.server,
            self.phase,
            self.latencies + other.latencies,
            self.errors + other.errors,
            self.elapsed + other.elapsed,
            self.client_cpu + other.client_cpu,
            server_cpu,
        )

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))  # nearest rank
        return ordered[rank - 1] * 1000

    @property
    def server_cpu_ms_per_answer(self) -> float | None:
        if self.server_cpu is None or not self.latencies:
            return None
        return self.server_cpu / len(self.latencies) * 1000


def open_connections(
    count: int, port: int, context: ssl.SSLContext, body: bytes, timeout: float, warmup: int
) -> list[Connection]:
    """Connections with their TLS handshake done and a few answered requests behind them,
    so neither the handshake nor a cold worker is in the timed phase."""
    connections = [Connection(port, context, timeout) for _ in range(count)]
    for connection in connections:
        for _ in range(warmup):
            try:
                connection.post(body)
            except RequestError as error:
                raise SystemExit(f"warm-up request failed: {error.kind}") from None
    return connections


def run_threads(
    connections: list[Connection],
    work: Work,
    stop: threading.Event,
) -> tuple[list[Tally], float]:
    """Run `work` on one thread per connection; (tallies, client CPU seconds)."""
    tallies = [Tally() for _ in connections]
    threads = [
        threading.Thread(target=work, args=(connection, tally), daemon=True)
        for connection, tally in zip(connections, tallies, strict=True)
    ]
    cpu_before = time.process_time()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except BaseException:
        stop.set()  # Ctrl-C: the threads stop after their current request (or its timeout)
        raise
    return tallies, time.process_time() - cpu_before


def fixed_rate_work(
    body: bytes, rate: float, seconds: float, drain_seconds: float, stop: threading.Event
) -> tuple[Work, float]:
    """Open loop: request i is due at `start + i / rate`, whatever came back before. A
    request sent late is charged from its due time (no coordinated omission); one that
    cannot even be sent within `drain_seconds` after the schedule ends is an error.
    Returns the work and the time the schedule starts."""
    total = round(rate * seconds)
    lock = threading.Lock()
    next_index = iter(range(total))
    start = time.perf_counter() + 0.05  # all threads running before the first is due
    give_up = start + seconds + drain_seconds

    def work(connection: Connection, tally: Tally) -> None:
        while not stop.is_set():
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            due = start + index / rate
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            elif now > give_up:
                tally.errors["not sent in time"] += 1
                continue
            try:
                connection.post(body)
            except RequestError as error:
                tally.errors[error.kind] += 1
                continue
            tally.last_answer = time.perf_counter()
            tally.latencies.append(tally.last_answer - due)

    return work, start


def saturation_work(
    body: bytes, seconds: float, max_requests: int, stop: threading.Event
) -> tuple[Work, float]:
    """Closed loop: each connection sends its next request as soon as it has an answer,
    until `seconds` have passed or `max_requests` were sent in all."""
    lock = threading.Lock()
    budget = iter(range(max_requests))
    start = time.perf_counter()
    end = start + seconds

    def work(connection: Connection, tally: Tally) -> None:
        while not stop.is_set() and time.perf_counter() < end:
            with lock:
                if next(budget, None) is None:
                    return
            sent = time.perf_counter()
            try:
                connection.post(body)
            except RequestError as error:
                tally.errors[error.kind] += 1
                continue
            tally.last_answer = time.perf_counter()
            tally.latencies.append(tally.last_answer - sent)

    return work, start


def run_phase(
    server: Server,
    phase: str,
    connections: list[Connection],
    make_work: Callable[[], tuple[Work, float]],
    stop: threading.Event,
) -> PhaseResult:
    cpu_before = server_cpu_seconds(server.process.pid)
    work, start = make_work()
    tallies, client_cpu = run_threads(connections, work, stop)
    cpu_after = server_cpu_seconds(server.process.pid)
    latencies = [latency for tally in tallies for latency in tally.latencies]
    errors: Counter[str] = Counter()
    for tally in tallies:
        errors.update(tally.errors)
    finished = max([start, *(tally.last_answer for tally in tallies)])
    server_cpu = (
        cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    )
    elapsed = max(finished - start, 1e-9)
    return PhaseResult(server.name, phase, latencies, errors, elapsed, client_cpu, server_cpu)


# --- checks and report -------------------------------------------------------------------


def check_answers(servers: dict[str, Server], context: ssl.SSLContext, body: bytes) -> None:
    """Each webhook must warn about exactly the unmirrored images, so the timed path is the
    real one (index loaded, every container judged); the noop must allow."""
    answers = {}
    for name, server in servers.items():
        connection = Connection(server.port, context, 10)
        try:
            answers[name] = json.loads(connection.post(body))  # 200 and allowed, or raises
        except RequestError as error:
            raise SystemExit(f"first admission request to {name} failed: {error.kind}") from None
        finally:
            connection.close()
    for name in WEBHOOKS:
        warnings = check_warnings(answers[name])
    print(f"webhooks answer allowed with {len(warnings)} warnings:")
    for warning in warnings:
        print(f"  {warning}")


def check_warnings(answer: dict[str, Any]) -> list[str]:
    response: dict[str, Any] = answer.get("response", {})
    warnings: list[str] = response.get("warnings", [])
    missing = [image for image in FLAGGED if not any(image in w for w in warnings)]
    wrong = [image for image in NOT_FLAGGED if any(image in w for w in warnings)]
    if response.get("allowed") is not True or missing or wrong:
        raise SystemExit(
            f"the webhook's answer is not the expected one (no warning for {missing}, "
            f"unexpected warning for {wrong}):\n{json.dumps(answer, indent=2)}"
        )
    return warnings


def print_table(results: list[PhaseResult]) -> None:
    header = (
        f"{'server':<11} {'phase':<18} {'requests':>8} {'answers/s':>9} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'errors':>6} {'server CPU ms/ans':>17} {'load-gen CPU':>12}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        cpu = result.server_cpu_ms_per_answer
        print(
            f"{result.server:<11} {result.phase:<18} {result.requests:>8} "
            f"{result.throughput:>9.1f} {result.percentile_ms(0.50):>7.2f} "
            f"{result.percentile_ms(0.99):>7.2f} {sum(result.errors.values()):>6} "
            f"{'-' if cpu is None else f'{cpu:.3f}':>17} "
            f"{result.client_cpu / result.elapsed:>11.0%}"
        )
    for result in results:
        if result.errors:
            listed = ", ".join(f"{kind} x{count}" for kind, count in result.errors.most_common())
            print(f"errors, {result.server} {result.phase}: {listed}")


def print_ratios(results: list[PhaseResult], fixed: str, saturation: str) -> None:
    by_key = {(result.server, result.phase): result for result in results}

    def ratio(
        phase: str, value: Callable[[PhaseResult], float | None], over: tuple[str, str]
    ) -> str:
        top, bottom = (value(by_key[name, phase]) for name in over)
        if top is None or bottom is None or not bottom or math.isnan(bottom):
            return "n/a"
        return f"{top / bottom:.2f}"

    for over in (("webhook", "noop"), ("webhook-10k", "webhook")):
        print(f"\n{over[0]} / {over[1]}")
        print(f"  saturation answers/s       {ratio(saturation, lambda r: r.throughput, over)}")
        print(f"  fixed-rate p50             {ratio(fixed, lambda r: r.percentile_ms(0.5), over)}")
        print(f"  fixed-rate p99             {ratio(fixed, lambda r: r.percentile_ms(0.99), over)}")
        cpu = ratio(saturation, lambda r: r.server_cpu_ms_per_answer, over)
        print(f"  saturation server CPU/ans  {cpu}")


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
    add("--rate", type=positive(float), default=200.0, help="fixed-rate requests/s [200]")
    add("--rate-seconds", type=positive(float), default=5.0, help="fixed-rate phase length [5]")
    add(
        "--rate-connections",
        type=positive(int),
        default=8,
        help="connections the fixed-rate schedule may use at once [8]",
    )
    add(
        "--saturation-seconds",
        type=positive(float),
        default=5.0,
        help="saturation phase length [5]",
    )
    add(
        "--saturation-connections",
        type=positive(int),
        default=16,
        help="closed-loop connections in the saturation phase [16]",
    )
    add(
        "--max-requests",
        type=positive(int),
        default=100_000,
        help="cap on requests in one saturation phase [100000]",
    )
    add(
        "--workers",
        type=positive(int),
        default=ServerOptions.workers,
        help=f"gunicorn workers, both servers [{ServerOptions.workers}]",
    )
    add("--timeout", type=positive(float), default=10.0, help="seconds per request [10]")
    add(
        "--startup-timeout",
        type=positive(float),
        default=90.0,
        help="seconds for every server to become ready [90]",
    )
    add("--warmup", type=int, default=3, help="untimed requests per connection first [3]")
    add(
        "--rounds",
        type=positive(int),
        default=3,
        help="each phase is split into this many rounds, servers alternating [3]",
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def running_servers(
    directory: Path, workers: int, sets: dict[str, Path]
) -> Iterator[tuple[dict[str, Server], ssl.SSLContext]]:
    files = write_certificates(directory)
    context = ssl.create_default_context(cafile=str(files["ca.crt"]))
    servers: dict[str, Server] = {}
    try:
        for kind in SERVERS:
            servers[kind] = start_server(kind, files, directory, workers, sets.get(kind))
        yield servers, context
    finally:
        for server in servers.values():
            stop_server(server)


def run_rounds(
    servers: dict[str, Server],
    phase: str,
    connections: dict[str, list[Connection]],
    make_work: Callable[[], tuple[Work, float]],
    stop: threading.Event,
    rounds: int,
) -> list[PhaseResult]:
    """The phase in `rounds` short rounds, the servers taking turns (webhook, noop, noop,
    webhook, ...), so drift in the machine's speed during the run hits both alike. Each
    server keeps its warmed-up connections from round to round; they are closed at the end."""
    totals: dict[str, PhaseResult] = {}
    try:
        for number in range(rounds):
            for kind in SERVERS if number % 2 == 0 else SERVERS[::-1]:
                result = run_phase(servers[kind], phase, connections[kind], make_work, stop)
                totals[kind] = totals[kind].plus(result) if kind in totals else result
    finally:
        for pool in connections.values():
            for connection in pool:
                connection.close()
    return [totals[kind] for kind in SERVERS]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    body = review_body()
    fixed = f"fixed {args.rate:g}/s"
    saturation = f"saturation x{args.saturation_connections}"
    print(
        f"python {platform.python_version()}, gunicorn {version('gunicorn')}, "
        f"{os.cpu_count()} CPUs; every server: {args.workers} worker(s), gevent, "
        f"{ServerOptions.connections} connections, TLS; body {len(body)} bytes, "
        f"{len(IMAGES)} containers"
    )
    stop = threading.Event()
    results: list[PhaseResult] = []
    with tempfile.TemporaryDirectory(prefix="idms-guard-bench-") as temporary:
        sets = {name: write_mirror_sets(Path(temporary) / name, n) for name, n in WEBHOOKS.items()}
        load = index_load_seconds(sets["webhook-10k"])
        with running_servers(Path(temporary), args.workers, sets) as (servers, context):
            results = run_all(args, body, servers, context, stop)
    print()
    print_table(results)
    print_ratios(results, fixed, saturation)
    print(f"\nindex load, 10 000 rules (parse, check, index; best of 3): {load:.2f} s")


def run_all(
    args: argparse.Namespace,
    body: bytes,
    servers: dict[str, Server],
    context: ssl.SSLContext,
    stop: threading.Event,
) -> list[PhaseResult]:
    fixed = f"fixed {args.rate:g}/s"
    saturation = f"saturation x{args.saturation_connections}"
    results: list[PhaseResult] = []
    deadline = time.monotonic() + args.startup_timeout
    for server in servers.values():
        wait_until_ready(server, context, deadline)
    check_answers(servers, context, body)
    rate_seconds = args.rate_seconds / args.rounds
    saturation_seconds = args.saturation_seconds / args.rounds
    drain = max(5.0, rate_seconds)
    plan = [
        (
            fixed,
            args.rate_connections,
            lambda: fixed_rate_work(body, args.rate, rate_seconds, drain, stop),
        ),
        (
            saturation,
            args.saturation_connections,
            lambda: saturation_work(body, saturation_seconds, args.max_requests, stop),
        ),
    ]

    def connect(count: int, port: int) -> list[Connection]:
        return open_connections(count, port, context, body, args.timeout, args.warmup)

    for phase, count, make_work in plan:
        print(f"running {phase}: {args.rounds} rounds, the servers in turn", flush=True)
        pools = {kind: connect(count, server.port) for kind, server in servers.items()}
        results += run_rounds(servers, phase, pools, make_work, stop, args.rounds)
    return results


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        sys.exit(130)

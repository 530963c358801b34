"""What `--verify-mirror` costs: validate with a warm presence cache against validate
without it, and a cold check of a 10-image pod against a 1-image pod, 20 ms from the
registry.

Run by hand from the repository root (about 20 s; only 127.0.0.1 traffic):

    python bench/verify_mirror.py

It starts Debian's `docker-registry` (htpasswd auth, TLS with a throwaway CA) through
`tests.support.registry.RegistryServer` and pushes 10 small OCI images (bench/pinning.py's
`running_mirror`); the pods name them by digest under quay.io/acme, which one IDMS sends
to the registry. Then, in this one run, each pair taking turns so drift in the machine's
speed hits both alike:

- warm: the 10-image pod to /validate/warn on an app with `verify_mirror=True` whose
  cache the first request filled, and on the same kind of app without it;
- cold: the 1-image and the 10-image pod to /validate/warn, each repetition on a new
  RegistryClient + TagResolver (no answer, connection or credential cached), through
  `tests.support.delaying_proxy.DelayingProxy` with `latency` 10 ms each way: every round
  trip to the registry costs 20 ms (the proxy runs in a process of its own).

Every answer is checked (the pod allowed with no warning, every image asked exactly once
when cold, nothing asked when warm), so a timeout or a 401 never ends up as a timing. It
prints the median, min and max wall time of each, and the two ratios bench/README.md
discusses. The registry and the proxy are stopped on the way out.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pinning import (
    IMAGE_COUNT,
    REPO,
    SOURCE,
    Mirror,
    Webhook,
    post,
    running_mirror,
    support_on_path,
)

from webhook.adapters.http_app import AppSettings, create_app
from webhook.adapters.registry import RegistryClient
from webhook.adapters.resolver import TagResolver
from webhook.core.policy import PolicySettings

VALIDATE = "/validate/warn?timeout=10s"
LATENCY_SECONDS = 0.010  # each way: 20 ms a round trip


def build(mirror: Mirror, host: str, verify: bool, args: argparse.Namespace) -> Webhook:
    """A new client, resolver (empty cache) and app, asking the registry at `host`."""
    index = mirror.index(host)
    credentials = mirror.credentials(host)
    settings = AppSettings(PolicySettings(), pin_timeout=args.pin_timeout, verify_mirror=verify)

    class Fixed:
        ready = True
        current = index

    client = RegistryClient(credentials, mirror.tls.ca_file, timeout=args.registry_timeout)
    resolver = TagResolver(client.manifest_digest)
    return Webhook(client, resolver, create_app(settings, Fixed(), resolver).test_client())


def pod_body(mirror: Mirror, count: int) -> bytes:
    """A pod CREATE with app0..app<count-1>, each by the digest pushed for it."""
    from tests.support.reviews import pod_review

    images = {f"app{n}": f"{SOURCE}/app{n}@{mirror.digests[n]}" for n in range(count)}
    return json.dumps(pod_review(images)).encode()


def allowed_quietly(webhook: Webhook, body: bytes, what: str) -> None:
    response = post(webhook.http, VALIDATE, body)
    if response.get("allowed") is not True or response.get("warnings"):
        raise SystemExit(f"{what}: not allowed without warnings:\n{json.dumps(response, indent=2)}")


def timed(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def in_turn(kinds: list[str], rounds: int) -> Iterator[tuple[int, str]]:
    """a, b, b, a, a, b, ...: neither kind always runs first."""
    for number in range(rounds):
        for kind in kinds if number % 2 == 0 else reversed(kinds):
            yield number, kind


def warm(mirror: Mirror, args: argparse.Namespace) -> dict[str, list[float]]:
    body = pod_body(mirror, IMAGE_COUNT)
    hooks = {
        kind: build(mirror, mirror.host, kind == "verify", args) for kind in ("verify", "plain")
    }
    try:
        for kind, hook in hooks.items():
            allowed_quietly(hook, body, f"first {kind} validate")
        asked = hooks["verify"].resolver.lookups_made
        if asked != IMAGE_COUNT:
            raise SystemExit(f"the first verifying validate made {asked} lookups")
        samples: dict[str, list[float]] = {kind: [] for kind in hooks}
        for _, kind in in_turn(list(hooks), args.warm_repeat):
            hook = hooks[kind]
            samples[kind].append(timed(lambda h=hook: allowed_quietly(h, body, "warm validate")))
        if hooks["verify"].resolver.lookups_made != asked or hooks["plain"].resolver.lookups_made:
            raise SystemExit("a warm validate asked the registry: the cache did not hold")
    finally:
        for hook in hooks.values():
            hook.close()
    return samples


def cold(mirror: Mirror, host: str, args: argparse.Namespace) -> dict[str, list[float]]:
    bodies = {"1": pod_body(mirror, 1), "10": pod_body(mirror, IMAGE_COUNT)}
    samples: dict[str, list[float]] = {kind: [] for kind in bodies}
    for number, kind in in_turn(list(bodies), args.cold_repeat + 1):
        hook = build(mirror, host, True, args)
        try:
            wall = timed(lambda h=hook, k=kind: allowed_quietly(h, bodies[k], f"cold {k}"))
            if hook.resolver.lookups_made != int(kind):
                raise SystemExit(f"a cold check of {kind} image(s) made the wrong lookups")
        finally:
            hook.close()
        if number:  # round 0 warms up the page cache and first use
            samples[kind].append(wall)
    return samples


def print_rows(rows: list[tuple[str, list[float]]]) -> None:
    width = max(len(label) for label, _ in rows)
    print(f"{'measurement':<{width}} {'reps':>5} {'median':>8} {'min':>8} {'max':>8} unit")
    for label, values in rows:
        ms = [value * 1e3 for value in values]
        print(
            f"{label:<{width}} {len(ms):>5} {statistics.median(ms):>8.2f} "
            f"{min(ms):>8.2f} {max(ms):>8.2f} ms"
        )


def ratio(top: list[float], bottom: list[float]) -> float:
    return statistics.median(top) / statistics.median(bottom)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--warm-repeat", type=int, default=400, help="warm validates each [400]")
    parser.add_argument("--cold-repeat", type=int, default=30, help="cold checks each [30]")
    parser.add_argument("--pin-timeout", type=float, default=10.0, help="request deadline [10]")
    parser.add_argument("--registry-timeout", type=float, default=5.0, help="per lookup [5]")
    return parser.parse_args(argv)


PROXY_PROCESS = """
import sys
from tests.support.delaying_proxy import DelayingProxy
with DelayingProxy(("127.0.0.1", int(sys.argv[1])), delay=0.0, latency=float(sys.argv[2])) as p:
    print(p.host, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
"""


@contextmanager
def far_away(mirror: Mirror) -> Iterator[str]:
    """The registry behind the latency proxy, in a process of its own (its relay threads
    must not compete with the webhook for this process's GIL); yields its host:port."""
    argv = [sys.executable, "-c", PROXY_PROCESS, str(mirror.registry.port), str(LATENCY_SECONDS)]
    proxy = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert proxy.stdout is not None
        host = proxy.stdout.readline().strip()
        if not host:
            raise SystemExit("the latency proxy did not start")
        yield host
    finally:
        if proxy.stdin is not None:
            proxy.stdin.close()
        try:
            proxy.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    support_on_path()
    print(f"python {platform.python_version()}; registry round trip through the proxy 20 ms")
    with (
        tempfile.TemporaryDirectory(prefix="idms-guard-bench-") as temporary,
        running_mirror(Path(temporary)) as mirror,
    ):
        print(f"running warm validates: {args.warm_repeat} each, with and without verify")
        warm_samples = warm(mirror, args)
        with far_away(mirror) as host:
            print(f"running cold checks 20 ms away: {args.cold_repeat} each of 1 and 10 images")
            cold_samples = cold(mirror, host, args)
    print()
    print_rows(
        [
            ("validate, 10 images, --verify-mirror, warm cache", warm_samples["verify"]),
            ("validate, 10 images, no verify", warm_samples["plain"]),
            ("cold verify, 1 image, registry 20 ms away", cold_samples["1"]),
            ("cold verify, 10 images, registry 20 ms away", cold_samples["10"]),
        ]
    )
    warm_ratio = ratio(warm_samples["verify"], warm_samples["plain"])
    cold_ratio = ratio(cold_samples["10"], cold_samples["1"])
    print("\nratios of medians")
    print(f"  warm verify / no verify, 10 images:        {warm_ratio:.2f}  (goal <= 1.2)")
    print(f"  cold verify 20 ms away, 10 images / 1:     {cold_ratio:.2f}  (goal <= 2)")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted; registry stopped", file=sys.stderr)
        sys.exit(130)

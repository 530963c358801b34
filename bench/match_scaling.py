"""How the cost of one mirror lookup grows with the number of rules.

Run by hand from the repository root:

    python bench/match_scaling.py

It builds three indexes (10, 1 000 and 10 000 rules: host, namespace, repository and
wildcard sources, digest and tag mirrors, some blocked), then times the same fixed mix
of references against each with `timeit`, all in this one run, and prints microseconds
per lookup plus the 10 000 / 10 ratio. A lookup hashes the prefixes of the name instead
of scanning the tables, so the ratio should stay close to 1.
"""

from __future__ import annotations

import argparse
import time
import timeit
from typing import Any

from webhook.core.image_reference import ImageReference, parse_normalized
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets

SIZES = (10, 1_000, 10_000)
DIGEST = "sha256:" + "a" * 64
RULES_PER_OBJECT = 50

# One reference per source shape, each hitting a rule that exists at every size (rule
# numbers below 10), plus references that match nothing or only a broad table.
REFERENCE_MIX = (
    f"host0.example.com/team/app@{DIGEST}",  # host source, digest
    "quay.io/ns1/app:v1",  # namespace source (ITMS)
    f"quay.io/org2/app/sub@{DIGEST}",  # repository source, deeper name
    f"a.b.zone3.example.net/x/y@{DIGEST}",  # wildcard source
    f"host4.example.com:5000/a/b/c@{DIGEST}",  # host source, via the port quirk
    f"quay.io/ns5/deep/path/to/app@{DIGEST}",  # namespace source, blocked
    f"registry.redhat.io/ubi9/ubi@{DIGEST}",  # no rule at all
    "nginx:latest",  # Docker Hub, no rule
)


def source_and_mirror(i: int) -> tuple[str, str]:
    """Rule i cycles through host, namespace, repository and wildcard sources."""
    shape = i % 4
    if shape == 0:
        return f"host{i}.example.com", f"mirror.local/host{i}"
    if shape == 1:
        return f"quay.io/ns{i}", f"mirror.local/ns{i}"
    if shape == 2:
        return f"quay.io/org{i}/app", f"mirror.local/org{i}/app"
    return f"*.zone{i}.example.net", f"mirror.local/zone{i}"


def mirror_objects(rule_count: int) -> list[dict[str, Any]]:
    """IDMS and ITMS objects holding `rule_count` entries in total."""
    digest_entries: list[dict[str, Any]] = []
    tag_entries: list[dict[str, Any]] = []
    for i in range(rule_count):
        source, mirror = source_and_mirror(i)
        item: dict[str, Any] = {"source": source, "mirrors": [mirror, f"backup.local/r{i}"]}
        if i % 5 == 0:
            item["mirrorSourcePolicy"] = "NeverContactSource"
        # Namespace sources alternate between digest and tag mirrors.
        (tag_entries if i % 8 == 1 else digest_entries).append(item)
    objects = []
    for kind, api_field, entries in (
        ("ImageDigestMirrorSet", "imageDigestMirrors", digest_entries),
        ("ImageTagMirrorSet", "imageTagMirrors", tag_entries),
    ):
        for start in range(0, len(entries), RULES_PER_OBJECT):
            objects.append(
                {
                    "apiVersion": "config.openshift.io/v1",
                    "kind": kind,
                    "metadata": {"name": f"{kind.lower()}-{start // RULES_PER_OBJECT}"},
                    "spec": {api_field: entries[start : start + RULES_PER_OBJECT]},
                }
            )
    return objects


def build_index(rule_count: int) -> MirrorIndex:
    config = load_mirror_sets(mirror_objects(rule_count))
    if config.problems:
        raise SystemExit(f"benchmark objects are invalid: {config.problems[0]}")
    return MirrorIndex.from_config(config)


def references() -> list[ImageReference]:
    refs = []
    for image in REFERENCE_MIX:
        reference = parse_normalized(image)
        refs.append(reference.with_default_tag().without_tag_when_digested())
    return refs


def microseconds_per_lookup(
    indexes: dict[int, MirrorIndex], refs: list[ImageReference], repeat: int, seconds: float
) -> dict[int, float]:
    """Best time per lookup for each index.

    The sizes are timed in turns (10, 1 000, 10 000, 10, ...) so that noise from other
    processes hits all of them alike; the best round of each is kept.
    """
    timers = {}
    for size, index in indexes.items():

        def lookups(index: MirrorIndex = index) -> None:
            for reference in refs:
                index.candidates(reference)

        timers[size] = timeit.Timer(lookups)
    loops, elapsed = timers[min(indexes)].autorange()
    number = max(1, int(loops * seconds / max(elapsed, 1e-9)))
    best = dict.fromkeys(indexes, float("inf"))
    for _ in range(repeat):
        for size, timer in timers.items():
            best[size] = min(best[size], timer.timeit(number=number))
    return {size: total / (number * len(refs)) * 1e6 for size, total in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=7, help="timed rounds per size (best is kept)"
    )
    parser.add_argument(
        "--seconds", type=float, default=0.2, help="approximate time per round and size"
    )
    args = parser.parse_args()

    refs = references()
    indexes = {}
    for size in SIZES:
        started = time.perf_counter()
        indexes[size] = build_index(size)
        print(
            f"built {size:>6} rules -> {len(indexes[size]):>6} tables "
            f"in {time.perf_counter() - started:6.2f} s"
        )

    # The answers must not depend on the size: the mix only hits rules present in all.
    answers = {
        size: [[c.pull_spec for c in index.candidates(reference).candidates] for reference in refs]
        for size, index in indexes.items()
    }
    if len({repr(a) for a in answers.values()}) != 1:
        raise SystemExit("lookups differ between index sizes; the reference mix is wrong")

    print(f"\n{len(refs)} references per round, best of {args.repeat} rounds")
    print(f"{'rules':>7}  {'µs / lookup':>12}")
    timings = microseconds_per_lookup(indexes, refs, args.repeat, args.seconds)
    for size, microseconds in timings.items():
        print(f"{size:>7}  {microseconds:>12.2f}")
    print(f"\nratio 10000 / 10: {timings[10_000] / timings[10]:.2f}")


if __name__ == "__main__":
    main()

"""The mirror-merge order of openshift/runtime-utils `topo.go` (spec §3.2).

Several objects may list mirrors for one source. The machine-config operator merges them
with Kahn's algorithm over "m[i] before m[i+1]" edges, breaking every choice by byte
order, and on a cycle emitting the smallest remaining node. The result is surprising
(objects' lists are interleaved, unrelated mirrors come out alphabetically), which is
exactly why it is reproduced here rather than approximated.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from itertools import pairwise


def merged_mirror_order(source: str, mirror_lists: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """Merge the mirror lists of all kept entries for `source` as the operator does.

    Every list must hold at least one mirror other than `source` (others are dropped
    before merging). The source takes part in the sort; it is removed only when it
    comes out last, as the runtime then tries it anyway.
    """
    lists = list(mirror_lists)
    if len(lists) == 1 and source not in lists[0] and len(set(lists[0])) == len(lists[0]):
        # One entry for the source (nearly every source): the graph is the chain m0 → … →
        # source, which Kahn's algorithm walks in list order.
        return tuple(lists[0])
    successors: dict[str, set[str]] = {}
    in_degree: dict[str, int] = {}

    def add_edge(before: str, after: str) -> None:
        for node in (before, after):
            successors.setdefault(node, set())
            in_degree.setdefault(node, 0)
        if after not in successors[before]:
            successors[before].add(after)
            in_degree[after] += 1

    for mirrors in lists:
        for before, after in pairwise(mirrors):
            add_edge(before, after)
        if source not in mirrors:
            add_edge(mirrors[-1], source)

    ordered = _kahn_with_byte_order(successors, in_degree)
    if ordered and ordered[-1] == source:
        ordered.pop()
    return tuple(ordered)


def _kahn_with_byte_order(successors: dict[str, set[str]], in_degree: dict[str, int]) -> list[str]:
    remaining = dict(in_degree)
    queue = deque(sorted(node for node, degree in remaining.items() if degree == 0))
    by_name = sorted(remaining)  # cycle breaks walk it once: n log n, not n² (topo.go alike)
    next_smallest = 0
    emitted: list[str] = []
    done: set[str] = set()
    while len(done) < len(remaining):
        if queue:
            node = queue.popleft()
        else:  # a cycle: the smallest node not yet emitted breaks it
            while by_name[next_smallest] in done:
                next_smallest += 1
            node = by_name[next_smallest]
        if node in done:
            continue
        done.add(node)
        emitted.append(node)
        released = []
        for successor in successors[node]:
            if successor in done:
                continue
            remaining[successor] -= 1
            if remaining[successor] == 0:
                released.append(successor)
        queue.extend(sorted(released))
    return emitted

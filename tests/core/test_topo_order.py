"""`merged_mirror_order`: how the MCO merges several mirror lists for one source (spec §3.2).

Kahn's algorithm over "m[i] before m[i+1]" and "last mirror before source" edges, a FIFO
queue seeded in byte order, released nodes appended in byte order, and on a cycle the
smallest remaining node (possibly the source itself) emitted next. A trailing source is
dropped; anywhere else it stays.

Names below sort as: a… < b… < c… < … < quay.io/acme < x… < y… < z…
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.core.topo_order import merged_mirror_order

SRC = "quay.io/acme"

CASES = [
    # (source, mirror lists of the kept entries, merged order)
    pytest.param(SRC, [["c.m", "a.m", "b.m"]], ("c.m", "a.m", "b.m"), id="one-list-kept-as-is"),
    pytest.param(
        SRC,
        [["a.m", "b.m", "c.m"], ["c.m", "d.m", "e.m"]],
        ("a.m", "b.m", "c.m", "d.m", "e.m"),
        id="api-doc-example-V16",
    ),
    pytest.param(SRC, [["zz.m"], ["aa.m"]], ("aa.m", "zz.m"), id="unrelated-alphabetical-V17"),
    pytest.param(SRC, [["zz.m", "aa.m"]], ("zz.m", "aa.m"), id="one-object-order-wins-V18"),
    pytest.param(
        SRC, [["b.m", "a.m"], ["c.m"]], ("b.m", "c.m", "a.m"), id="list-not-contiguous-V19"
    ),
    pytest.param(
        SRC,
        [["b.m", "d.m"], ["a.m", "c.m"]],
        ("a.m", "b.m", "c.m", "d.m"),
        id="two-lists-interleave-alphabetically",
    ),
    pytest.param(
        SRC, [["c.m"], ["b.m"], ["a.m"]], ("a.m", "b.m", "c.m"), id="object-order-is-irrelevant"
    ),
    pytest.param(
        SRC,
        [["y.m", "x.m"], ["x.m", "y.m"]],
        (SRC, "x.m", "y.m"),
        id="cycle-source-sorts-first-becomes-a-mirror-V20",
    ),
    pytest.param(
        "zz.io/acme",
        [["y.m", "x.m"], ["x.m", "y.m"]],
        ("x.m", "y.m"),
        id="cycle-source-sorts-last-dropped-V21",
    ),
    pytest.param(SRC, [["b.m", "a.m", "b.m"]], ("a.m", "b.m"), id="repeated-mirror-cycle-V22"),
    pytest.param(SRC, [["b.m", "b.m"]], ("b.m",), id="self-loop-V23"),
    pytest.param(
        "a.io/acme",
        [["z.m", "z.m"]],
        ("a.io/acme", "z.m"),
        id="self-loop-source-sorts-first-leads",
    ),
    pytest.param(
        SRC, [["m2.m", SRC], ["m1.m"]], ("m1.m", "m2.m"), id="source-listed-last-dropped-V24"
    ),
    pytest.param(
        SRC,
        [["m1.m", SRC, "m2.m"]],
        ("m1.m", SRC, "m2.m"),
        id="source-in-the-middle-stays-V28",
    ),
    pytest.param(
        SRC,
        [["a.m", "b.m", "c.m"], ["c.m", "a.m"]],
        ("a.m", "b.m", "c.m"),
        id="three-cycle-broken-at-smallest",
    ),
    pytest.param(
        SRC,
        [["b.m", "a.m"], ["a.m", "b.m"], ["c.m"]],
        ("c.m", "a.m", "b.m"),
        id="free-node-emitted-before-cycle-is-broken",
    ),
    pytest.param(
        SRC,
        [["x.m", "a.m"], ["a.m", "x.m"], [SRC, "b.m"]],
        ("a.m", "x.m", SRC, "b.m"),
        id="cycle-then-source-then-its-successor",
    ),
]


@pytest.mark.parametrize(("source", "lists", "merged"), CASES)
def test_merged_mirror_order(source: str, lists: list[list[str]], merged: tuple[str, ...]) -> None:
    assert merged_mirror_order(source, lists) == merged


@pytest.mark.parametrize(("source", "lists", "merged"), CASES)
def test_merged_mirror_order_ignores_object_order(
    source: str, lists: list[list[str]], merged: tuple[str, ...]
) -> None:
    assert merged_mirror_order(source, list(reversed(lists))) == merged


def test_byte_order_not_locale_order() -> None:
    """Upper case sorts before lower case, digits before both."""
    assert merged_mirror_order(SRC, [["b.m"], ["B.m"], ["1.m"]]) == ("1.m", "B.m", "b.m")


_MIRRORS = st.sampled_from(["a.m", "b.m", "c.m", "x.m", "y.m", SRC])
_LISTS = st.lists(
    st.lists(_MIRRORS, min_size=1, max_size=4).filter(lambda m: any(x != SRC for x in m)),
    min_size=1,
    max_size=4,
)


def _respects(order: Sequence[str], mirrors: Sequence[str]) -> bool:
    positions = {node: index for index, node in enumerate(order)}
    return all(positions[a] < positions[b] for a, b in pairwise(mirrors))


@settings(max_examples=300, deadline=None)
@given(_LISTS, st.randoms(use_true_random=False))
def test_property_merge_is_a_permutation_independent_of_object_order(
    lists: list[list[str]], rng: Random
) -> None:
    merged = merged_mirror_order(SRC, lists)
    shuffled = list(lists)
    rng.shuffle(shuffled)
    assert merged_mirror_order(SRC, shuffled) == merged
    # Every mirror exactly once; the source at most once and never last.
    assert sorted(set(merged)) == sorted(merged)
    assert set(merged) - {SRC} == {m for mirrors in lists for m in mirrors} - {SRC}
    assert not merged or merged[-1] != SRC


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a.m", "b.m", "c.m", "x.m", "y.m"]), min_size=1, unique=True))
def test_property_a_single_list_without_the_source_is_kept(mirrors: list[str]) -> None:
    assert merged_mirror_order(SRC, [mirrors]) == tuple(mirrors)


@settings(max_examples=200, deadline=None)
@given(st.permutations(["a.m", "b.m", "c.m", "x.m", "y.m"]), st.integers(1, 4))
def test_property_consistent_lists_keep_every_constraint(order: list[str], cut: int) -> None:
    """Two lists cut from one total order never conflict: both orders survive."""
    first, second = order[: cut + 1], order[cut:]
    merged = merged_mirror_order(SRC, [first, second])
    assert merged == tuple(order)
    assert _respects(merged, first)
    assert _respects(merged, second)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a.m", "b.m", "c.m", "x.m", "y.m", SRC]), min_size=1))
def test_property_one_list_merges_as_the_same_list_given_twice(mirrors: list[str]) -> None:
    """One entry takes a shortcut; two identical entries make the same graph the long way."""
    assert merged_mirror_order(SRC, [mirrors]) == merged_mirror_order(SRC, [mirrors, mirrors])

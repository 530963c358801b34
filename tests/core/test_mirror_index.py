"""`MirrorIndex`: which table a name uses (spec §4.1) and what is tried, in order (§4.2, §4.3).

The index answers by hashing prefixes, not by scanning tables; the last tests count the
probes to prove a lookup costs the length of the name, not the number of rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from tests.support.mirror_objects import entry, image_config, mirror_object
from webhook.core.image_reference import parse_normalized
from webhook.core.mirror_index import MirrorIndex, Role
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.registry_tables import RegistryTable, TableMirror
from webhook.core.signature_policy import PolicyOutcome, parse_policy

D = "sha256:" + "a" * 64
IDMS1, IDMS2 = "ImageDigestMirrorSet/idms1", "ImageDigestMirrorSet/idms2"
ITMS1 = "ImageTagMirrorSet/itms1"


def tables_index(*prefixes: str) -> MirrorIndex:
    return MirrorIndex(RegistryTable(prefix, False, ()) for prefix in prefixes)


def objects_index(*objects: dict[str, Any]) -> MirrorIndex:
    config = load_mirror_sets(objects)
    assert config.problems == ()
    return MirrorIndex.from_config(config)


# --------------------------------------------------------------------------------------
# find_table: one table per name (spec §4.1)
# --------------------------------------------------------------------------------------

NESTED = ("quay.io", "quay.io/ns", "quay.io/ns/app")

FIND_TABLE_CASES = [
    # (table prefixes, repository name, prefix of the winning table or None)
    pytest.param(NESTED, "quay.io/ns/app", "quay.io/ns/app", id="exact-name"),
    pytest.param(NESTED, "quay.io/ns/app/sub", "quay.io/ns/app", id="longest-prefix-V45"),
    pytest.param(NESTED, "quay.io/ns/other", "quay.io/ns", id="namespace-V44"),
    pytest.param(NESTED, "quay.io/ns2/app", "quay.io", id="whole-components-only-V46"),
    pytest.param(NESTED, "quay.io/nsx", "quay.io", id="no-partial-component-V47"),
    pytest.param(("quay.io/ns",), "quay.io/nsx", None, id="partial-component-no-match"),
    pytest.param(("quay.io",), "quay.iox/a", None, id="partial-host-no-match"),
    pytest.param(("quay.io",), "quay.io:443/ns/app", "quay.io", id="host-matches-host-port-V39"),
    pytest.param(
        ("registry.example.com",),
        "registry.example.com:5000/app",
        "registry.example.com",
        id="host-matches-host-port-V82",
    ),
    pytest.param(("localhost",), "localhost:5000/foo", "localhost", id="localhost-port"),
    pytest.param(("quay.io",), "Quay.io/ns/app", None, id="byte-exact-host-V88"),
    pytest.param(("Quay.io",), "quay.io/ns/app", None, id="byte-exact-source"),
    pytest.param(
        ("docker.io/nginx", "nginx"),
        "docker.io/library/nginx",
        None,
        id="familiar-sources-never-match-V99",
    ),
    pytest.param((), "quay.io/a", None, id="no-tables"),
    # Wildcards
    pytest.param(
        ("*.redhat.io",),
        "registry.redhat.io/product/repo",
        "*.redhat.io",
        id="wildcard-subdomain-V63",
    ),
    pytest.param(("*.redhat.io",), "a.b.redhat.io/x", "*.redhat.io", id="wildcard-deep-V64"),
    pytest.param(("*.redhat.io",), "redhat.io/x", None, id="wildcard-needs-a-subdomain-V65"),
    pytest.param(
        ("*.redhat.io",), "registry.redhat.io:5000/x", "*.redhat.io", id="wildcard-with-port-V66"
    ),
    pytest.param(("*.example.com",), "x.io/a.example.com", None, id="wildcard-suffix-in-path"),
    pytest.param(("*.example.com",), "x.aexample.com/a", None, id="wildcard-label-boundary"),
    pytest.param(
        ("*.example.com",),
        "a.example.company.example.com/x",
        None,
        id="only-first-occurrence-counts-V86",
    ),
    pytest.param(
        ("*.example.com",),
        "a.example.com.example.com/x",
        None,
        id="first-occurrence-not-at-end-V85",
    ),
    pytest.param(
        ("*.example.com", "*.b.example.com"),
        "a.b.example.com/x",
        "*.b.example.com",
        id="longer-wildcard-wins-V68",
    ),
    pytest.param(
        ("*.example.com", "*.b.example.com"),
        "c.example.com/x",
        "*.example.com",
        id="shorter-wildcard-V69",
    ),
    # Ties: equal length goes to the smaller prefix in byte order, and "*" sorts first.
    pytest.param(
        ("*.example.com", "a.example.com"),
        "a.example.com/x",
        "*.example.com",
        id="tie-wildcard-sorts-first-V70",
    ),
    pytest.param(
        ("a.b.example.com", "*.b.example.com"),
        "a.b.example.com/x",
        "*.b.example.com",
        id="tie-independent-of-table-order",
    ),
    pytest.param(
        ("*.example.com", "reg.example.com"),
        "reg.example.com/x",
        "reg.example.com",
        id="longer-exact-beats-wildcard-V72",
    ),
    pytest.param(
        ("*.example.com", "reg.example.com"),
        "other.example.com/x",
        "*.example.com",
        id="wildcard-for-the-rest-V73",
    ),
    pytest.param(
        ("*.example.com", "reg.example.com/ns"),
        "reg.example.com/ns/app",
        "reg.example.com/ns",
        id="exact-namespace-longer-than-wildcard",
    ),
    pytest.param(
        ("*.a.example.com", "reg.example.com/ns"),
        "x.a.example.com/ns/app",
        "*.a.example.com",
        id="wildcard-longer-than-any-exact-match",
    ),
]


@pytest.mark.parametrize(("prefixes", "name", "winner"), FIND_TABLE_CASES)
def test_find_table(prefixes: tuple[str, ...], name: str, winner: str | None) -> None:
    for ordering in (prefixes, tuple(reversed(prefixes))):
        table = tables_index(*ordering).find_table(name)
        assert (table.prefix if table else None) == winner


# --------------------------------------------------------------------------------------
# candidates: roles, order, blocked, origins (spec §4.2, §4.3)
# --------------------------------------------------------------------------------------


def attempts(index: MirrorIndex, image: str) -> list[tuple[str, Role, bool, tuple[str, ...]]]:
    plan = index.candidates(parse_normalized(image))
    assert plan.error is None
    return [(c.pull_spec, c.role, c.blocked, c.origins) for c in plan.candidates]


M, S = Role.MIRROR, Role.SOURCE


def test_no_table_means_the_source_alone() -> None:
    index = objects_index(mirror_object("idms", "idms1", [entry("quay.io/acme", "m.local")]))
    plan = index.candidates(parse_normalized(f"registry.io/x@{D}"))
    assert plan.matched_prefix is None
    assert [(c.pull_spec, c.role, c.blocked, c.origins) for c in plan.candidates] == [
        (f"registry.io/x@{D}", S, False, ())
    ]


def test_origins_name_every_object_that_listed_a_mirror_v16() -> None:
    index = objects_index(
        mirror_object("idms", "idms1", [entry("quay.io/acme", "a.m/acme", "b.m/acme", "c.m/acme")]),
        mirror_object("idms", "idms2", [entry("quay.io/acme", "c.m/acme", "d.m/acme", "e.m/acme")]),
    )
    assert attempts(index, f"quay.io/acme/app@{D}") == [
        (f"a.m/acme/app@{D}", M, False, (IDMS1,)),
        (f"b.m/acme/app@{D}", M, False, (IDMS1,)),
        (f"c.m/acme/app@{D}", M, False, (IDMS1, IDMS2)),
        (f"d.m/acme/app@{D}", M, False, (IDMS2,)),
        (f"e.m/acme/app@{D}", M, False, (IDMS2,)),
        (f"quay.io/acme/app@{D}", S, False, ()),
    ]


def test_source_merged_in_among_the_mirrors_is_still_the_source_owed_to_every_object_v20() -> None:
    """It is tried first, but it is the source: it must not count as a mirror serving it."""
    index = objects_index(
        mirror_object("idms", "idms1", [entry("quay.io/acme", "y.m/acme", "x.m/acme")]),
        mirror_object("idms", "idms2", [entry("quay.io/acme", "x.m/acme", "y.m/acme")]),
    )
    assert attempts(index, f"quay.io/acme/app@{D}") == [
        (f"quay.io/acme/app@{D}", S, False, (IDMS1, IDMS2)),
        (f"x.m/acme/app@{D}", M, False, (IDMS1, IDMS2)),
        (f"y.m/acme/app@{D}", M, False, (IDMS1, IDMS2)),
        (f"quay.io/acme/app@{D}", S, False, ()),
    ]


KIND_FILTER = (
    mirror_object("idms", "idms1", [entry("quay.io/acme", "dmirror.local/acme")]),
    mirror_object("itms", "itms1", [entry("quay.io/acme", "tmirror.local/acme")]),
)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        pytest.param(
            f"quay.io/acme/app@{D}",
            [(f"dmirror.local/acme/app@{D}", M, False, (IDMS1,))],
            id="digest-uses-idms-mirrors-V12",
        ),
        pytest.param(
            "quay.io/acme/app:v1",
            [("tmirror.local/acme/app:v1", M, False, (ITMS1,))],
            id="tag-uses-itms-mirrors-V11",
        ),
    ],
)
def test_mirrors_are_filtered_by_reference_kind(image: str, expected: list[Any]) -> None:
    source = str(parse_normalized(image))
    assert attempts(objects_index(*KIND_FILTER), image) == [*expected, (source, S, False, ())]


def test_blocked_source_names_the_blocking_objects() -> None:
    index = objects_index(
        mirror_object("idms", "idms1", [entry("quay.io/acme", "d.m/acme", never=True)]),
        mirror_object("itms", "itms1", [entry("quay.io/acme", "t.m/acme", never=True)]),
    )
    assert attempts(index, f"quay.io/acme/app@{D}") == [
        (f"d.m/acme/app@{D}", M, False, (IDMS1,)),
        (f"quay.io/acme/app@{D}", S, True, (IDMS1, ITMS1)),
    ]


def test_idms_never_blocks_tag_pulls_too_v55() -> None:
    index = objects_index(
        mirror_object("idms", "idms1", [entry("quay.io/acme", "d.example.com/acme", never=True)]),
        mirror_object("itms", "itms1", [entry("quay.io", "t.example.com/quay")]),
    )
    assert attempts(index, "quay.io/acme/app:v1") == [("quay.io/acme/app:v1", S, True, (IDMS1,))]
    assert attempts(index, "quay.io/other/app:v1") == [
        ("t.example.com/quay/other/app:v1", M, False, (ITMS1,)),
        ("quay.io/other/app:v1", S, False, ()),
    ]


def test_mirror_inside_its_own_blocked_source_is_blocked_v81() -> None:
    index = objects_index(
        mirror_object(
            "idms",
            "idms1",
            [entry("registry.example.com", "registry.example.com/mirror", never=True)],
        )
    )
    plan = index.candidates(parse_normalized(f"registry.example.com/app@{D}"))
    assert [(c.pull_spec, c.role, c.blocked, c.origins) for c in plan.candidates] == [
        (f"registry.example.com/mirror/app@{D}", M, True, (IDMS1,)),
        (f"registry.example.com/app@{D}", S, True, (IDMS1,)),
    ]
    assert plan.reachable == ()


def test_mirror_under_another_blocked_scope_is_blocked_and_not_chained() -> None:
    index = objects_index(
        mirror_object("idms", "idms1", [entry("quay.io/acme", "mirror.local/acme")]),
        mirror_object("idms", "idms2", [entry("mirror.local", "backup.local/m", never=True)]),
    )
    plan = index.candidates(parse_normalized(f"quay.io/acme/app@{D}"))
    assert [(c.pull_spec, c.role, c.blocked, c.origins) for c in plan.candidates] == [
        (f"mirror.local/acme/app@{D}", M, True, (IDMS1,)),
        (f"quay.io/acme/app@{D}", S, False, ()),
    ]
    assert [c.pull_spec for c in plan.reachable] == [f"quay.io/acme/app@{D}"]
    assert [c.pull_spec for c in plan.mirrors] == [f"mirror.local/acme/app@{D}"]


def test_wildcard_rewrites_drop_the_host_and_keep_the_original_as_source_v63() -> None:
    index = objects_index(
        mirror_object("idms", "idms1", [entry("*.redhat.io", "mirror.local/redhat", never=True)])
    )
    plan = index.candidates(parse_normalized(f"registry.redhat.io/product/repo@{D}"))
    assert plan.matched_prefix == "*.redhat.io"
    assert [(c.pull_spec, c.role, c.blocked, c.origins) for c in plan.candidates] == [
        (f"mirror.local/redhat/product/repo@{D}", M, False, (IDMS1,)),
        (f"registry.redhat.io/product/repo@{D}", S, True, (IDMS1,)),
    ]


def test_host_only_mirror_carries_the_port_over_v82() -> None:
    index = objects_index(
        mirror_object("idms", "idms1", [entry("registry.example.com", "mirror.local")])
    )
    assert attempts(index, f"registry.example.com:5000/app@{D}") == [
        (f"mirror.local:5000/app@{D}", M, False, (IDMS1,)),
        (f"registry.example.com:5000/app@{D}", S, False, ()),
    ]


@pytest.mark.parametrize(
    ("source", "mirror", "image"),
    [
        pytest.param("quay.io", "mirror.local/quay", f"quay.io:443/ns/app@{D}", id="V39"),
        pytest.param(
            "*.redhat.io", "mirror.local/redhat", f"registry.redhat.io:5000/x@{D}", id="V66"
        ),
        pytest.param(
            "registry.example.com",
            "mirror.local/ns",
            f"registry.example.com:5000/app@{D}",
            id="V84",
        ),
    ],
)
def test_unparsable_rewrite_fails_the_whole_pull(source: str, mirror: str, image: str) -> None:
    index = objects_index(mirror_object("idms", "idms1", [entry(source, mirror)]))
    plan = index.candidates(parse_normalized(image))
    assert plan.matched_prefix == source
    assert plan.candidates == ()
    assert plan.reachable == ()
    assert plan.error == "rewriting reference: invalid reference format"


def test_port_quirk_does_not_break_tag_pulls() -> None:
    """Digest-only mirrors are filtered out before rewriting (spec §4.2 step 4)."""
    index = objects_index(mirror_object("idms", "idms1", [entry("quay.io", "mirror.local/quay")]))
    assert attempts(index, "quay.io:443/ns/app:1") == [("quay.io:443/ns/app:1", S, False, ())]


NON_CANONICAL_REWRITES = [
    # (source, mirror, image): the rewrite parses, but only as a different (normalized) name
    pytest.param(
        "quay.io/acme/app",
        "mirror.local",
        f"quay.io/acme/app@{D}",
        id="host-mirror-of-a-repository-source-gives-a-docker-hub-name",
    ),
    pytest.param(
        "docker.io/library",
        "docker.io",
        f"docker.io/library/nginx@{D}",
        id="rewrite-drops-library",
    ),
]


@pytest.mark.parametrize(("source", "mirror", "image"), NON_CANONICAL_REWRITES)
def test_non_canonical_rewrite_fails_the_pull(source: str, mirror: str, image: str) -> None:
    index = objects_index(mirror_object("idms", "idms1", [entry(source, mirror)]))
    plan = index.candidates(parse_normalized(image))
    assert plan.candidates == ()
    assert plan.reachable == ()
    assert plan.error is not None
    assert plan.error.startswith("rewriting reference: ")


@pytest.mark.parametrize(("source", "mirror", "image"), NON_CANONICAL_REWRITES)
def test_non_canonical_rewrite_uses_the_upstream_wording(
    source: str, mirror: str, image: str
) -> None:
    index = objects_index(mirror_object("idms", "idms1", [entry(source, mirror)]))
    plan = index.candidates(parse_normalized(image))
    assert plan.error == "rewriting reference: repository name must be canonical"


# --------------------------------------------------------------------------------------
# Lookups do not scan: probes are bounded by the name, not by the number of tables
# --------------------------------------------------------------------------------------


class CountingMapping(Mapping[str, Any]):
    """Wraps one of the index's dicts; counts keyed probes and forbids iteration."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self.probes = 0

    def __getitem__(self, key: str) -> Any:
        self.probes += 1
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        self.probes += 1
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        self.probes += 1
        return self._data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("a lookup iterated over every table")

    def __len__(self) -> int:
        return len(self._data)


class GuardedSequence(Sequence[Any]):
    """Wraps a tuple or list of the index: any element access during a lookup is a scan."""

    def __init__(self, data: Sequence[Any]) -> None:
        self._data = data

    def __getitem__(self, position: Any) -> Any:
        raise AssertionError("a lookup read the index's table list")

    def __iter__(self) -> Iterator[Any]:
        raise AssertionError("a lookup iterated over every table")

    def __len__(self) -> int:
        return len(self._data)


def _table(i: int) -> RegistryTable:
    """Rule i: a host, a namespace, a repository or a wildcard source, with one mirror."""
    prefix = [
        f"host{i}.example.com",
        f"quay.io/ns{i}",
        f"quay.io/org{i}/app",
        f"*.zone{i}.example.net",
    ][i % 4]
    mirrors = (TableMirror(f"mirror.local/m{i}", i % 8 < 4, (f"ImageDigestMirrorSet/o{i}",)),)
    return RegistryTable(prefix, i % 5 == 0, mirrors, ("x",) if i % 5 == 0 else ())


def counted_index(table_count: int) -> tuple[MirrorIndex, list[CountingMapping]]:
    """An index whose dicts count probes and whose tuples/lists refuse to be read."""
    shared = [RegistryTable("quay.io", False, ()), RegistryTable("*.example.net", False, ())]
    index = MirrorIndex([*shared, *(_table(i) for i in range(table_count))])
    counters = []
    for attribute, value in list(vars(index).items()):
        if isinstance(value, dict):
            counter = CountingMapping(value)
            setattr(index, attribute, counter)
            counters.append(counter)
        elif isinstance(value, tuple | list):
            setattr(index, attribute, GuardedSequence(value))
    assert counters, "MirrorIndex keeps no dict to instrument"
    return index, counters


LOOKUP_NAMES = [
    "quay.io/ns1/deep/path/to/app",
    "quay.io/org2/app/sub",
    "host0.example.com:5000/a/b/c",
    "a.b.c.zone3.example.net/x/y",
    "unknown.example.org/x/y/z",
    "registry.io:5000/" + "/".join(["seg"] * 40),
    "a." * 60 + "example.net/x",
]


def probes(index: MirrorIndex, counters: list[CountingMapping], name: str) -> tuple[Any, int]:
    before = sum(c.probes for c in counters)
    table = index.find_table(name)
    return (table.prefix if table else None), sum(c.probes for c in counters) - before


@pytest.mark.parametrize("name", LOOKUP_NAMES)
def test_find_table_probes_are_bounded_by_the_name(name: str) -> None:
    small, small_counters = counted_index(10)
    large, large_counters = counted_index(10_000)
    assert len(large) == 10_002
    small_winner, small_probes = probes(small, small_counters, name)
    large_winner, large_probes = probes(large, large_counters, name)
    assert large_winner == small_winner
    assert large_probes == small_probes
    # One probe per "/" or ":" boundary and per "." of the host, plus the name itself.
    boundaries = sum(name.count(c) for c in "/:.")
    assert large_probes <= boundaries + 2


def test_find_table_winners_in_the_large_index() -> None:
    large, counters = counted_index(10_000)
    assert [probes(large, counters, name)[0] for name in LOOKUP_NAMES] == [
        "quay.io/ns1",
        "quay.io/org2/app",
        "host0.example.com",
        "*.zone3.example.net",
        None,
        None,
        "*.example.net",
    ]


def test_candidates_probes_do_not_grow_with_the_table_count() -> None:
    reference = parse_normalized(f"quay.io/ns1/deep/app@{D}")
    counts = []
    for table_count in (10, 10_000):
        index, counters = counted_index(table_count)
        plan = index.candidates(reference)
        assert [c.pull_spec for c in plan.candidates] == [
            f"mirror.local/m1/deep/app@{D}",
            f"quay.io/ns1/deep/app@{D}",
        ]
        counts.append(sum(c.probes for c in counters))
    assert counts[0] == counts[1]
    assert counts[1] <= 2 * (len(str(reference)) + 2)


def test_matching_tables_lists_the_used_table_first_then_the_shadowed_ones() -> None:
    index = objects_index(
        mirror_object("idms", "host", [entry("quay.io", "m.local/q")]),
        mirror_object("idms", "ns", [entry("quay.io/acme", "m.local/acme")]),
        mirror_object("idms", "wild", [entry("*.io", "m.local/io")]),
    )
    prefixes = [table.prefix for table in index.matching_tables("quay.io/acme/app")]
    assert prefixes == ["quay.io/acme", "quay.io", "*.io"]
    assert index.find_table("quay.io/acme/app") is index.matching_tables("quay.io/acme/app")[0]


def test_a_value_derived_from_the_index_is_computed_once() -> None:
    """`--verify-mirror` asks the same question for every pod of a Deployment."""
    index = MirrorIndex.from_config(load_mirror_sets([]))
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert [index.derived(("test", "image"), compute) for _ in range(3)] == [1, 1, 1]


# --------------------------------------------------------------------------------------
# What else a node decides with: the search list and the signature policy
# --------------------------------------------------------------------------------------


def test_short_names_expand_over_the_configured_search_registries_in_order() -> None:
    index = MirrorIndex((), search_registries=("mirror.corp", "quay.io"))
    plan = index.explain("team/app:1")
    assert [str(p.reference) for p in plan.plans] == [
        "mirror.corp/team/app:1",
        "quay.io/team/app:1",
    ]


def test_an_empty_search_list_leaves_a_short_name_nothing_to_try() -> None:
    plan = MirrorIndex((), search_registries=()).explain("app:1")
    assert plan.short_name
    assert plan.plans == ()


def test_without_a_signature_policy_there_is_no_verdict() -> None:
    assert MirrorIndex(()).policy_verdict(parse_normalized("quay.io/a:1")) is None


def test_the_verdict_is_on_the_logical_reference_not_the_mirror() -> None:
    policy = parse_policy(
        {
            "default": [{"type": "insecureAcceptAnything"}],
            "transports": {"docker": {"quay.io": [{"type": "reject"}]}},
        }
    )
    index = objects_index(mirror_object("idms", "d", [entry("quay.io", "mirror.corp/quay")]))
    index = MirrorIndex(index.tables, signature_policy=policy)
    verdict = index.policy_verdict(parse_normalized(f"quay.io/a@{D}"))
    assert verdict is not None
    assert verdict.outcome is PolicyOutcome.REJECTED
    mirror = index.policy_verdict(parse_normalized(f"mirror.corp/quay/a@{D}"))
    assert mirror is not None
    assert mirror.outcome is PolicyOutcome.ACCEPTED


def test_a_source_the_policy_rejects_is_never_asked_for_a_tag() -> None:
    image = image_config(allowedRegistries=["mirror.corp"])
    itms = mirror_object("itms", "t", [entry("quay.io", "mirror.corp/quay")])
    index = MirrorIndex.from_config(load_mirror_sets([itms, image]))
    reference = parse_normalized("quay.io/ns/app:1")
    assert index.tag_lookup_specs(reference, include_source=True) == ("mirror.corp/quay/ns/app:1",)
    allowed = objects_index(itms)
    assert allowed.tag_lookup_specs(reference, include_source=True) == (
        "mirror.corp/quay/ns/app:1",
        "quay.io/ns/app:1",
    )

"""`render`: the registries.conf the MCO writes (spec §3.3), read back with `tomllib`.

The text only has to mean the same as the operator's TOML, so every check parses it.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from tests.support.mirror_objects import entry, mirror_object
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.registries_conf import MIRROR_BY_DIGEST_ONLY, PULL_FROM_MIRROR, render
from webhook.core.registry_tables import RegistryTable, TableMirror, build_tables

SEARCH = ("registry.access.redhat.com", "docker.io")


def rendered(objects: list[dict[str, Any]], style: str = PULL_FROM_MIRROR) -> dict[str, Any]:
    config = load_mirror_sets(objects)
    assert config.problems == ()
    return tomllib.loads(render(build_tables(config.rules), SEARCH, style))


def registries(objects: list[dict[str, Any]], style: str = PULL_FROM_MIRROR) -> list[Any]:
    return rendered(objects, style).get("registry", [])


def scope(table: dict[str, Any]) -> str:
    """The scope a table applies to: its prefix, or its location when prefix is empty."""
    return table["prefix"] or table["location"]


def test_no_objects_renders_only_the_search_registries() -> None:
    assert rendered([]) == {
        "unqualified-search-registries": list(SEARCH),
        "short-name-mode": "",
    }


def test_search_registries_are_written_in_order() -> None:
    text = render([], ("mirror.local", "quay.io", "docker.io"))
    assert tomllib.loads(text)["unqualified-search-registries"] == [
        "mirror.local",
        "quay.io",
        "docker.io",
    ]


TABLE_CASES = [
    # (objects, expected [[registry]] tables)
    pytest.param(
        [mirror_object("idms", "d", [entry("registry.redhat.io/ubi9", "mirror.local/ubi9")])],
        [
            {
                "prefix": "",
                "location": "registry.redhat.io/ubi9",
                "mirror": [{"location": "mirror.local/ubi9", "pull-from-mirror": "digest-only"}],
            }
        ],
        id="idms-location-and-digest-only",
    ),
    pytest.param(
        [mirror_object("itms", "t", [entry("quay.io/acme", "mirror.local/acme")])],
        [
            {
                "prefix": "",
                "location": "quay.io/acme",
                "mirror": [{"location": "mirror.local/acme", "pull-from-mirror": "tag-only"}],
            }
        ],
        id="itms-tag-only",
    ),
    pytest.param(
        [mirror_object("icsp", "c", [entry("quay.io/acme", "mirror.local/acme")])],
        [
            {
                "prefix": "",
                "location": "quay.io/acme",
                "mirror": [{"location": "mirror.local/acme", "pull-from-mirror": "digest-only"}],
            }
        ],
        id="icsp-is-digest-only",
    ),
    pytest.param(
        [mirror_object("idms", "d", [entry("*.redhat.io", "mirror.local/redhat")])],
        [
            {
                "prefix": "*.redhat.io",
                "mirror": [{"location": "mirror.local/redhat", "pull-from-mirror": "digest-only"}],
            }
        ],
        id="wildcard-prefix-and-no-location",
    ),
    pytest.param(
        [mirror_object("idms", "d", [entry("quay.io/acme", "m.local/acme", never=True)])],
        [
            {
                "prefix": "",
                "location": "quay.io/acme",
                "blocked": True,
                "mirror": [{"location": "m.local/acme", "pull-from-mirror": "digest-only"}],
            }
        ],
        id="never-contact-source-blocks",
    ),
    pytest.param(
        [mirror_object("idms", "d", [entry("quay.io/acme", never=True), entry("quay.io/b")])],
        [],
        id="entries-without-mirrors-write-nothing-V29",
    ),
    pytest.param(
        [mirror_object("idms", "d", [entry("quay.io/beta", "quay.io/beta")])],
        [],
        id="mirror-equal-to-source-writes-nothing-V30",
    ),
    pytest.param(
        [
            mirror_object("idms", "d", [entry("quay.io/acme", "d1.local", "d2.local")]),
            mirror_object("itms", "t", [entry("quay.io/acme", "t1.local", "t2.local")]),
        ],
        [
            {
                "prefix": "",
                "location": "quay.io/acme",
                "mirror": [
                    {"location": "d1.local", "pull-from-mirror": "digest-only"},
                    {"location": "d2.local", "pull-from-mirror": "digest-only"},
                    {"location": "t1.local", "pull-from-mirror": "tag-only"},
                    {"location": "t2.local", "pull-from-mirror": "tag-only"},
                ],
            }
        ],
        id="one-table-digest-mirrors-before-tag-mirrors",
    ),
    pytest.param(
        [
            mirror_object("itms", "t", [entry("quay.io/acme", "m.local/acme")]),
            mirror_object("idms", "d", [entry("quay.io/acme", "m.local/acme")]),
        ],
        [
            {
                "prefix": "",
                "location": "quay.io/acme",
                "mirror": [
                    {"location": "m.local/acme", "pull-from-mirror": "digest-only"},
                    {"location": "m.local/acme", "pull-from-mirror": "tag-only"},
                ],
            }
        ],
        id="same-mirror-listed-once-per-kind-V13",
    ),
    pytest.param(
        [
            mirror_object("itms", "t", [entry("quay.io/acme", "t.local", never=True)]),
            mirror_object("idms", "d", [entry("quay.io/acme", "d.local", never=True)]),
        ],
        [
            {
                "prefix": "",
                "location": "quay.io/acme",
                "blocked": True,
                "mirror": [
                    {"location": "d.local", "pull-from-mirror": "digest-only"},
                    {"location": "t.local", "pull-from-mirror": "tag-only"},
                ],
            }
        ],
        id="blocked-from-either-group",
    ),
    pytest.param(
        [
            mirror_object("idms", "d1", [entry("quay.io/acme", "a.example.com", "b.example.com")]),
            mirror_object("idms", "d2", [entry("quay.io/acme", "b.example.com", "c.example.com")]),
        ],
        [
            {
                "prefix": "",
                "location": "quay.io/acme",
                "mirror": [
                    {"location": "a.example.com", "pull-from-mirror": "digest-only"},
                    {"location": "b.example.com", "pull-from-mirror": "digest-only"},
                    {"location": "c.example.com", "pull-from-mirror": "digest-only"},
                ],
            }
        ],
        id="merged-mirrors-V16",
    ),
]


@pytest.mark.parametrize(("objects", "tables"), TABLE_CASES)
def test_tables(objects: list[dict[str, Any]], tables: list[dict[str, Any]]) -> None:
    assert registries(objects) == tables


def test_table_order_digest_group_sorted_then_tag_only_sources_sorted() -> None:
    objects = [
        mirror_object("itms", "t", [entry("b.io", "m"), entry("a.io", "m"), entry("z.io", "m")]),
        mirror_object("idms", "d", [entry("z.io", "m"), entry("c.io", "m")]),
        mirror_object("icsp", "c", [entry("*.x.io", "m")]),
    ]
    assert [scope(table) for table in registries(objects)] == [
        "*.x.io",
        "c.io",
        "z.io",
        "a.io",
        "b.io",
    ]


def test_only_blocked_tables_say_blocked() -> None:
    objects = [
        mirror_object("idms", "d", [entry("a.io", "m", never=True), entry("b.io", "m")]),
        mirror_object("itms", "t", [entry("c.io", "m", never=True)]),
    ]
    blocked = {scope(table): table.get("blocked") for table in registries(objects)}
    assert blocked == {"a.io": True, "b.io": None, "c.io": True}


# --------------------------------------------------------------------------------------
# digest_only_style="mirror-by-digest-only": the registry-level form, for all-digest scopes
# --------------------------------------------------------------------------------------

LEGACY_OBJECTS = [
    mirror_object("idms", "d", [entry("digest.io/x", "d1.local", "d2.local")]),
    mirror_object("icsp", "c", [entry("*.icsp.io", "c.local")]),
    mirror_object("itms", "t", [entry("tag.io/x", "t.local")]),
    mirror_object("idms", "m", [entry("mixed.io/x", "md.local")]),
    mirror_object("itms", "n", [entry("mixed.io/x", "mt.local")]),
]


def test_mirror_by_digest_only_style_for_all_digest_scopes_only() -> None:
    tables = {scope(t): t for t in registries(LEGACY_OBJECTS, MIRROR_BY_DIGEST_ONLY)}
    assert tables["digest.io/x"] == {
        "prefix": "",
        "location": "digest.io/x",
        "mirror-by-digest-only": True,
        "mirror": [{"location": "d1.local"}, {"location": "d2.local"}],
    }
    assert tables["*.icsp.io"] == {
        "prefix": "*.icsp.io",
        "mirror-by-digest-only": True,
        "mirror": [{"location": "c.local"}],
    }
    assert tables["tag.io/x"] == {
        "prefix": "",
        "location": "tag.io/x",
        "mirror": [{"location": "t.local", "pull-from-mirror": "tag-only"}],
    }
    assert tables["mixed.io/x"] == {
        "prefix": "",
        "location": "mixed.io/x",
        "mirror": [
            {"location": "md.local", "pull-from-mirror": "digest-only"},
            {"location": "mt.local", "pull-from-mirror": "tag-only"},
        ],
    }


def test_default_style_never_writes_mirror_by_digest_only() -> None:
    for table in registries(LEGACY_OBJECTS):
        assert "mirror-by-digest-only" not in table
        assert all("pull-from-mirror" in mirror for mirror in table["mirror"])


def test_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="digest_only_style"):
        render([], SEARCH, "all")


def test_strings_are_quoted_for_toml() -> None:
    """Validated scopes never need it, but the writer must not produce broken TOML."""
    odd = 'we"ird\\host'
    table = RegistryTable(odd, True, (TableMirror(odd + "/m", False, ()),))
    parsed = tomllib.loads(render([table], [odd]))
    assert parsed["unqualified-search-registries"] == [odd]
    assert parsed["registry"][0]["location"] == odd
    assert parsed["registry"][0]["mirror"][0]["location"] == odd + "/m"

"""`read_node_registries`: the node's registries.conf and drop-ins, read as containers/image
reads them (`pkg/sysregistriesv2`), then judged by the same `MirrorIndex`.

Each example is a small pair of files and the pull attempts CRI-O makes with them; the
reasoning is in the test name. Rules that skopeo can show are checked against it in
tests/e2e/test_node_files_skopeo.py.
"""

from __future__ import annotations

import pytest

from webhook.core.explanation import finding_for_image
from webhook.core.mirror_index import MirrorIndex
from webhook.core.node_registries import NodeFile, NodeRegistries, read_node_registries
from webhook.core.policy import Finding, PolicySettings
from webhook.errors import NodeConfigError

D = "sha256:" + "a" * 64


def node(*texts: str) -> NodeRegistries:
    """The first text is registries.conf, the others drop-ins 10-…, 20-…, in that order."""
    files = [NodeFile("registries.conf", texts[0])]
    files += [
        NodeFile(f"registries.conf.d/{n}0-drop-in.conf", text)
        for n, text in enumerate(texts[1:], 1)
    ]
    return read_node_registries(files)


def index_of(registries: NodeRegistries) -> MirrorIndex:
    return MirrorIndex(registries.tables, registries.search_registries, aliases=registries.aliases)


def attempts(image: str, *texts: str) -> list[str]:
    """Every attempt, `!` after a blocked one; short names' expansions one after another."""
    plan = index_of(node(*texts)).explain(image)
    return [
        c.pull_spec + ("!" if c.blocked else "") for pull in plan.plans for c in pull.candidates
    ]


QUAY_DIGEST_MIRROR = """
[[registry]]
location = "quay.io/acme"
[[registry.mirror]]
location = "mirror.local/acme"
pull-from-mirror = "digest-only"
"""


# --- the tables of one file -------------------------------------------------------------


def test_a_digest_only_mirror_serves_digest_pulls_and_then_the_source() -> None:
    assert attempts(f"quay.io/acme/app@{D}", QUAY_DIGEST_MIRROR) == [
        f"mirror.local/acme/app@{D}",
        f"quay.io/acme/app@{D}",
    ]


def test_a_digest_only_mirror_is_skipped_for_a_tag_pull() -> None:
    assert attempts("quay.io/acme/app:1", QUAY_DIGEST_MIRROR) == ["quay.io/acme/app:1"]


def test_mirror_by_digest_only_on_the_registry_means_the_same_as_digest_only_mirrors() -> None:
    legacy = QUAY_DIGEST_MIRROR.replace('pull-from-mirror = "digest-only"', "").replace(
        'location = "quay.io/acme"', 'location = "quay.io/acme"\nmirror-by-digest-only = true'
    )
    for image in (f"quay.io/acme/app@{D}", "quay.io/acme/app:1"):
        assert attempts(image, legacy) == attempts(image, QUAY_DIGEST_MIRROR)


@pytest.mark.parametrize("mode", ['pull-from-mirror = "all"', ""])
def test_a_mirror_for_all_pulls_serves_tags_and_digests(mode: str) -> None:
    conf = f'[[registry]]\nlocation = "quay.io"\n[[registry.mirror]]\nlocation = "m.local"\n{mode}'
    assert attempts("quay.io/a:1", conf) == ["m.local/a:1", "quay.io/a:1"]
    assert attempts(f"quay.io/a@{D}", conf) == [f"m.local/a@{D}", f"quay.io/a@{D}"]


def test_a_tag_only_mirror_is_skipped_for_a_digest_pull() -> None:
    conf = QUAY_DIGEST_MIRROR.replace("digest-only", "tag-only")
    assert attempts(f"quay.io/acme/app@{D}", conf) == [f"quay.io/acme/app@{D}"]
    assert attempts("quay.io/acme/app:1", conf) == ["mirror.local/acme/app:1", "quay.io/acme/app:1"]


def test_a_prefix_apart_from_its_location_rewrites_the_source_attempt_too() -> None:
    conf = 'prefix = "example.com/foo"\nlocation = "internal.local/bar"'
    assert attempts("example.com/foo/app:1", f"[[registry]]\n{conf}") == [
        "internal.local/bar/app:1"
    ]


def test_blocked_applies_to_the_attempts_own_table_not_to_a_rewritten_location() -> None:
    # containers/image looks up the table of each attempt's name before contacting it:
    # `internal.local/bar/…` matches no table, so a blocked prefix elsewhere does not stop it.
    conf = (
        '[[registry]]\nprefix = "example.com/foo"\nlocation = "internal.local/bar"\nblocked = true'
    )
    assert attempts("example.com/foo/app:1", conf) == ["internal.local/bar/app:1"]


def test_a_blocked_table_refuses_its_source_but_tries_its_mirrors() -> None:
    conf = QUAY_DIGEST_MIRROR.replace(
        'location = "quay.io/acme"', 'location = "quay.io/acme"\nblocked = true'
    )
    assert attempts(f"quay.io/acme/app@{D}", conf) == [
        f"mirror.local/acme/app@{D}",
        f"quay.io/acme/app@{D}!",
    ]


def test_a_wildcard_prefix_matches_subdomains_and_drops_the_matched_host_for_mirrors() -> None:
    conf = '[[registry]]\nprefix = "*.redhat.io"\n[[registry.mirror]]\nlocation = "m.local/rh"'
    assert attempts("registry.redhat.io/ubi9/ubi:9", conf) == [
        "m.local/rh/ubi9/ubi:9",
        "registry.redhat.io/ubi9/ubi:9",
    ]
    assert attempts("redhat.io/x:1", conf) == ["redhat.io/x:1"]


def test_the_first_table_for_a_prefix_in_one_file_wins() -> None:
    conf = QUAY_DIGEST_MIRROR + QUAY_DIGEST_MIRROR.replace("mirror.local", "second.local")
    assert attempts(f"quay.io/acme/app@{D}", conf)[0] == f"mirror.local/acme/app@{D}"


def test_a_trailing_slash_in_a_location_is_dropped() -> None:
    conf = QUAY_DIGEST_MIRROR.replace('"mirror.local/acme"', '"mirror.local/acme/"')
    assert attempts(f"quay.io/acme/app@{D}", conf)[0] == f"mirror.local/acme/app@{D}"


# --- drop-ins -----------------------------------------------------------------------------


def test_a_drop_in_replaces_the_table_with_the_same_prefix_whole() -> None:
    drop_in = '[[registry]]\nlocation = "quay.io/acme"\nblocked = true'
    assert attempts(f"quay.io/acme/app@{D}", QUAY_DIGEST_MIRROR, drop_in) == [
        f"quay.io/acme/app@{D}!"
    ]


def test_a_drop_in_keeps_the_tables_of_other_prefixes() -> None:
    drop_in = '[[registry]]\nlocation = "quay.io/other"\nblocked = true'
    assert attempts(f"quay.io/acme/app@{D}", QUAY_DIGEST_MIRROR, drop_in)[0].startswith("mirror")


def test_the_later_drop_in_wins() -> None:
    first = '[[registry]]\nlocation = "quay.io/acme"\nblocked = true'
    assert attempts("quay.io/acme/a:1", QUAY_DIGEST_MIRROR, first, QUAY_DIGEST_MIRROR) == [
        "quay.io/acme/a:1"
    ]


def test_a_drop_in_replaces_the_search_list() -> None:
    registries = node(
        'unqualified-search-registries = ["a.local", "b.local"]',
        'unqualified-search-registries = ["c.local"]',
    )
    assert registries.search_registries == ("c.local",)
    assert registries.search_origin == "registries.conf.d/10-drop-in.conf"


def test_a_drop_in_without_a_search_list_keeps_the_earlier_one() -> None:
    registries = node('unqualified-search-registries = ["a.local"]', 'short-name-mode = "disabled"')
    assert registries.search_registries == ("a.local",)
    assert registries.short_name_mode == "disabled"


def test_an_empty_search_list_in_a_drop_in_empties_it() -> None:
    registries = node(
        'unqualified-search-registries = ["a.local"]', "unqualified-search-registries = []"
    )
    assert registries.search_registries == ()


def test_no_search_list_anywhere_means_none() -> None:
    assert node("").search_registries == ()
    assert attempts("nginx", "") == []


# --- short names --------------------------------------------------------------------------


SEARCH = 'unqualified-search-registries = ["registry.access.redhat.com", "docker.io"]\n'


def test_a_short_name_expands_over_the_search_list_in_order() -> None:
    assert attempts("nginx:1", SEARCH) == [
        "registry.access.redhat.com/nginx:1",
        "docker.io/library/nginx:1",
    ]


def test_an_alias_wins_over_the_search_list_and_keeps_the_tag() -> None:
    conf = SEARCH + '[aliases]\n"nginx" = "quay.io/nginx/nginx"'
    assert attempts("nginx:1", conf) == ["quay.io/nginx/nginx:1"]
    assert index_of(node(conf)).explain("nginx:1").alias == "quay.io/nginx/nginx"


def test_an_alias_is_normalized_and_goes_through_the_mirrors() -> None:
    conf = SEARCH + '[aliases]\n"busybox" = "docker.io/busybox"\n'
    conf += '[[registry]]\nlocation = "docker.io/library"\n'
    conf += '[[registry.mirror]]\nlocation = "m.local/lib"'
    assert attempts("busybox", conf) == [
        "m.local/lib/busybox:latest",
        "docker.io/library/busybox:latest",
    ]


def test_aliases_of_drop_ins_merge_and_an_empty_one_resets() -> None:
    registries = node(
        '[aliases]\n"a" = "quay.io/a/a"\n"b" = "quay.io/b/b"',
        '[aliases]\n"b" = ""\n"c" = "quay.io/c/c"',
    )
    assert dict(registries.aliases) == {"a": "quay.io/a/a", "c": "quay.io/c/c"}
    assert registries.alias_origins["c"] == "registries.conf.d/10-drop-in.conf"


# --- origins: findings name the file and the table -------------------------------------------


def test_candidates_name_the_file_and_table_they_come_from() -> None:
    plan = index_of(node("", QUAY_DIGEST_MIRROR)).explain(f"quay.io/acme/app@{D}")
    assert plan.plans[0].candidates[0].origins == (
        'registries.conf.d/10-drop-in.conf [[registry]] "quay.io/acme"',
    )


def test_keys_containers_image_ignores_are_noted() -> None:
    conf = QUAY_DIGEST_MIRROR.replace(
        "[[registry.mirror]]", "mirror-by-digest_only = true\n[[registry.mirror]]"
    )
    assert node(conf).notes == (
        "registries.conf: [[registry]] #1: unknown key 'mirror-by-digest_only' is ignored",
    )


# --- what is refused ------------------------------------------------------------------------

REFUSED = [
    pytest.param(
        '[registries.search]\nregistries = ["docker.io"]',
        "registries.conf: this is the V1 registries.conf format",
        id="v1-format",
    ),
    pytest.param("[[registry]\n", "registries.conf: not valid TOML", id="bad-toml"),
    pytest.param(
        '[[registry]]\nlocation = "https://quay.io"',
        "URI schemes are not supported",
        id="url-scheme",
    ),
    pytest.param("[[registry]]\nblocked = true", "both location and prefix are unset", id="empty"),
    pytest.param(
        '[[registry]]\nprefix = "quay.io"',
        "location is unset and prefix is not in the format: *.example.com",
        id="prefix-without-location",
    ),
    pytest.param(
        '[[registry]]\nprefix = "*.example.com/ns"',
        "wildcarded prefix should be in the format: *.example.com",
        id="wildcard-with-path",
    ),
    pytest.param(
        '[[registry]]\nlocation = "quay.io"\npull-from-mirror = "all"',
        "pull-from-mirror must not be set for a non-mirror registry",
        id="pull-from-mirror-on-registry",
    ),
    pytest.param(
        '[[registry]]\nlocation = "q.io"\nmirror-by-digest-only = true\n'
        '[[registry.mirror]]\nlocation = "m.local"\npull-from-mirror = "all"',
        "cannot set mirror-by-digest-only for the registry and pull-from-mirror",
        id="both-digest-only-styles",
    ),
    pytest.param(
        '[[registry]]\nlocation = "q.io"\n'
        '[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "x"',
        "unsupported pull-from-mirror value 'x'",
        id="bad-pull-from-mirror",
    ),
    pytest.param(
        '[[registry]]\nlocation = "q.io"\n[[registry.mirror]]\ninsecure = true',
        "mirror #1: invalid condition: mirror location is unset",
        id="mirror-without-location",
    ),
    pytest.param(
        '[[registry]]\nprefix = "a.io"\nlocation = "q.io"\nblocked = true\n'
        '[[registry]]\nprefix = "b.io"\nlocation = "q.io"',
        "registry 'q.io' is defined multiple times with conflicting 'blocked' setting",
        id="conflicting-blocked",
    ),
    pytest.param(
        '[[registry]]\nlocation = "q.io"\nblocked = "yes"',
        "blocked must be true or false, not 'yes'",
        id="not-a-bool",
    ),
    pytest.param(
        'unqualified-search-registries = ["quay.io/ns"]',
        "invalid unqualified-search-registries entry 'quay.io/ns'",
        id="search-entry-with-path",
    ),
    pytest.param('short-name-mode = "strict"', "invalid short-name-mode 'strict'", id="mode"),
    pytest.param(
        '[aliases]\n"quay.io/x" = "quay.io/x/y"\n"y" = "y:1"',
        "invalid short name 'quay.io/x': must not contain registry; "
        "invalid alias 'y:1': must not contain tag",
        id="aliases-all-reported",
    ),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_a_file_containers_image_refuses_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(NodeConfigError, match=r"^registries\.conf") as error:
        node(text)
    assert message in str(error.value)


def test_the_v1_format_is_refused_in_a_drop_in_too() -> None:
    with pytest.raises(NodeConfigError, match=r"^registries.conf.d/10-drop-in.conf: .*V1"):
        node("", '[registries.block]\nregistries = ["docker.io"]')


# --- findings speak of files ---------------------------------------------------------------


def finding(image: str, *texts: str) -> Finding | None:
    return finding_for_image(image, MirrorIndex.from_node_files(node(*texts)), PolicySettings())


def test_an_unmirrored_tag_is_fixed_with_a_drop_in_not_an_object() -> None:
    found = finding("quay.io/other/app:1", QUAY_DIGEST_MIRROR)
    assert found is not None
    assert (
        found.problem
        == "pulled by tag, and no [[registry]] mirror for tags serves quay.io/other/app"
    )
    assert found.fix == (
        'add a mirror for tags (pull-from-mirror = "tag-only" or "all") to a [[registry]] '
        "for quay.io/other in a registries.conf.d drop-in, or mirror it and pin it by digest"
    )


def test_a_tag_under_digest_only_mirrors_is_told_to_pin() -> None:
    found = finding("quay.io/acme/app:1", QUAY_DIGEST_MIRROR)
    assert found is not None
    assert "(its digest-only mirrors serve digests only)" in found.fix


def test_an_unmirrored_digest_is_fixed_with_a_drop_in() -> None:
    found = finding(f"quay.io/other/app@{D}", QUAY_DIGEST_MIRROR)
    assert found is not None
    assert found.fix.startswith("mirror it and add a [[registry]] for quay.io/other with a mirror")


def test_a_blocked_source_names_the_file_and_table_that_block_it() -> None:
    found = finding("quay.io/acme/app:1", '[[registry]]\nlocation = "quay.io/acme"\nblocked = true')
    assert found is not None
    assert found.problem.startswith(
        'quay.io is blocked (blocked = true in registries.conf [[registry]] "quay.io/acme")'
    )


# --- TLS: each attempt uses its own endpoint's `insecure` ------------------------------------


def insecure_flags(image: str, *texts: str) -> list[bool]:
    plan = index_of(node(*texts)).explain(image)
    return [c.insecure for pull in plan.plans for c in pull.candidates]


def test_a_mirror_is_insecure_only_when_its_own_entry_says_so() -> None:
    # containers/image sets InsecureSkipVerify from the endpoint (`pullSource.Endpoint`),
    # overriding the table an attempt's name falls in.
    conf = (
        '[[registry]]\nlocation = "quay.io"\n'
        '[[registry.mirror]]\nlocation = "plain.local/q"\n'
        '[[registry.mirror]]\nlocation = "lab.local/q"\ninsecure = true\n'
        '[[registry]]\nlocation = "plain.local"\ninsecure = true\n'
    )
    assert insecure_flags("quay.io/a:1", conf) == [False, True, False]


def test_the_source_attempt_follows_the_matched_tables_insecure() -> None:
    conf = (
        '[[registry]]\nprefix = "example.com/foo"\nlocation = "internal.local/bar"\ninsecure = true'
    )
    assert insecure_flags("example.com/foo/app:1", conf) == [True]


INSECURE_MIRROR_ENTRY = """
[[registry]]
location = "quay.io/acme"

[[registry.mirror]]
location = "mirror.local:5000/acme"
insecure = true
"""


@pytest.mark.parametrize(
    ("name", "insecure"),
    [
        ("mirror.local:5000/acme/app", True),  # the attempt uses the mirror entry's flag
        ("mirror.local:5000/acme", True),
        ("mirror.local:5000/acmeother/app", False),  # a path boundary, not a string prefix
        ("mirror.local:5000/other/app", False),
        ("quay.io/acme/app", False),  # the source's own table is not insecure
    ],
)
def test_a_mirror_entry_marked_insecure_makes_its_location_insecure(
    name: str, insecure: bool
) -> None:
    assert index_of(node(INSECURE_MIRROR_ENTRY)).insecure(name) is insecure

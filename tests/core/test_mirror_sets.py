"""`load_mirror_sets`: the API server's CRD schema, then the MCO's validation (spec §1 to §3.4).

Two kinds of problem, two outcomes:

* OBJECT_REFUSED — the API server would not store the object (IDMS/ITMS schema); the
  object is left out, named with the field path kubectl would print.
* CONFIG_REJECTED — the MCO refuses to render (`validateRegistriesConfScopes`), with its
  exact error text; the offending object is left out, everything else still loads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.mirror_objects import entry, mirror_object
from webhook.core.mirror_set_schema import ProblemScope, valid_mirror, valid_source
from webhook.core.mirror_sets import MirrorSetConfig, flatten_lists, load_mirror_sets

CRDS = Path(__file__).parents[1] / "data" / "crds"
IDMS_API = "config.openshift.io/v1"
ICSP_API = "operator.openshift.io/v1alpha1"
CONFLICT = (
    'conflicting mirrorSourcePolicy is set for the same source "{}" in imagedigestmirrorsets, '
    "imagetagmirrorsets, or imagecontentsourcepolicies"
)
NEVER_IN_MIRRORS = (
    'cannot set mirrorSourcePolicy: NeverContactSource if the source "{}" is one of the mirrors'
)

# A well-formed object that rides along with every broken one: it must always survive.
GOOD = mirror_object("idms", "good", [entry("quay.io/good", "mirror.local/good")])
GOOD_RULE = ("ImageDigestMirrorSet/good", "quay.io/good", ("mirror.local/good",), False)


def rules_of(config: MirrorSetConfig) -> list[tuple[str, str, tuple[str, ...], bool]]:
    return [
        (str(rule.origin), rule.source, rule.mirrors, rule.never_contact_source)
        for rule in config.rules
    ]


def raw(kind: str, name: str | None, spec: Any, api_version: str = IDMS_API) -> dict[str, Any]:
    document: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    document["metadata"] = {"name": name} if name is not None else {}
    if spec is not ...:
        document["spec"] = spec
    return document


def idms_entry(**fields: Any) -> dict[str, Any]:
    return mirror_object("idms", "bad", [fields])


def itms_entry(**fields: Any) -> dict[str, Any]:
    return mirror_object("itms", "bad", [fields])


# --------------------------------------------------------------------------------------
# CRD-level refusals (IDMS / ITMS schema, and what every object needs)
# --------------------------------------------------------------------------------------

IDMS_BAD = "ImageDigestMirrorSet/bad"
ITMS_BAD = "ImageTagMirrorSet/bad"
FIELD_0 = "spec.imageDigestMirrors[0]"

REFUSALS = [
    # (document, object named, field path, words the message must contain)
    pytest.param(
        idms_entry(source="quay.io/NS", mirrors=["m.local/ns"]),
        IDMS_BAD,
        f"{FIELD_0}.source",
        "'quay.io/NS'",
        id="idms-source-upper-case-path",
    ),
    pytest.param(
        itms_entry(source="https://quay.io", mirrors=["m.local"]),
        ITMS_BAD,
        "spec.imageTagMirrors[0].source",
        "'https://quay.io'",
        id="itms-source-with-scheme",
    ),
    pytest.param(
        idms_entry(source="quay.io/ns/", mirrors=["m.local"]),
        IDMS_BAD,
        f"{FIELD_0}.source",
        "not a valid source",
        id="source-trailing-slash",
    ),
    pytest.param(
        idms_entry(source="quay.io/app@sha256:" + "a" * 64, mirrors=["m.local"]),
        IDMS_BAD,
        f"{FIELD_0}.source",
        "not a valid source",
        id="source-with-digest",
    ),
    pytest.param(
        idms_entry(source="*.x.io:5000", mirrors=["m.local"]),
        IDMS_BAD,
        f"{FIELD_0}.source",
        "'*.x.io:5000'",
        id="wildcard-with-port",
    ),
    pytest.param(
        idms_entry(source="*.x.io/ns", mirrors=["m.local"]),
        IDMS_BAD,
        f"{FIELD_0}.source",
        "'*.x.io/ns'",
        id="wildcard-with-path",
    ),
    pytest.param(
        idms_entry(source="foo.*.com", mirrors=["m.local"]),
        IDMS_BAD,
        f"{FIELD_0}.source",
        "'foo.*.com'",
        id="wildcard-not-at-start",
    ),
    pytest.param(
        idms_entry(source="*", mirrors=["m.local"]),
        IDMS_BAD,
        f"{FIELD_0}.source",
        "'*'",
        id="bare-star",
    ),
    pytest.param(
        idms_entry(source="[::1]:5000", mirrors=["m.local"]),
        IDMS_BAD,
        f"{FIELD_0}.source",
        "'[::1]:5000'",
        id="ipv6-source",
    ),
    pytest.param(
        idms_entry(source="quay.io\n", mirrors=["m.local"]),
        IDMS_BAD,
        f"{FIELD_0}.source",
        "not a valid source",
        id="source-ending-in-newline-dollar-is-not-Z",
    ),
    pytest.param(
        idms_entry(source="quay.io/ns", mirrors=["m.local/NS"]),
        IDMS_BAD,
        f"{FIELD_0}.mirrors[0]",
        "'m.local/NS'",
        id="mirror-upper-case-path",
    ),
    pytest.param(
        itms_entry(source="quay.io/ns", mirrors=["m.local/ns", "*.m.local"]),
        ITMS_BAD,
        "spec.imageTagMirrors[0].mirrors[1]",
        "'*.m.local'",
        id="mirror-wildcard",
    ),
    pytest.param(
        idms_entry(source="quay.io/ns", mirrors=["m.local:/ns"]),
        IDMS_BAD,
        f"{FIELD_0}.mirrors[0]",
        "not a valid mirror",
        id="mirror-empty-port",
    ),
    pytest.param(
        idms_entry(source="quay.io/ns", mirrors=["m.local\n"]),
        IDMS_BAD,
        f"{FIELD_0}.mirrors[0]",
        "not a valid mirror",
        id="mirror-ending-in-newline",
    ),
    pytest.param(
        idms_entry(source="quay.io/ns", mirrors=["a.local", "b.local", "a.local"]),
        IDMS_BAD,
        f"{FIELD_0}.mirrors[2]",
        "Duplicate value",
        id="duplicate-mirror-list-type-set",
    ),
    pytest.param(
        itms_entry(source="quay.io/ns", mirrors=["m.local"], mirrorSourcePolicy="Never"),
        ITMS_BAD,
        "spec.imageTagMirrors[0].mirrorSourcePolicy",
        "Unsupported value",
        id="unknown-policy",
    ),
    pytest.param(
        idms_entry(mirrors=["m.local"]),
        IDMS_BAD,
        f"{FIELD_0}.source",
        "Required value",
        id="missing-source",
    ),
    pytest.param(
        idms_entry(source="quay.io/ns", mirrors="m.local"),
        IDMS_BAD,
        f"{FIELD_0}.mirrors",
        "list",
        id="mirrors-not-a-list",
    ),
    pytest.param(
        mirror_object("idms", "bad", [entry("quay.io/ok", "m.local/ok"), entry("quay.io/NS", "m")]),
        IDMS_BAD,
        "spec.imageDigestMirrors[1].source",
        "'quay.io/NS'",
        id="second-entry-bad-drops-the-first-too",
    ),
    pytest.param(
        raw("ImageDigestMirrorSet", "bad", ...),
        IDMS_BAD,
        "spec",
        "Required value",
        id="missing-spec",
    ),
    pytest.param(
        raw("ImageDigestMirrorSet", "bad", None),
        IDMS_BAD,
        "spec",
        "Required value",
        id="null-spec",
    ),
    pytest.param(
        raw("ImageTagMirrorSet", "bad", ["quay.io"]),
        ITMS_BAD,
        "spec",
        "object",
        id="spec-not-an-object",
    ),
    pytest.param(
        raw("ImageDigestMirrorSet", "bad", {"imageDigestMirrors": {"source": "quay.io"}}),
        IDMS_BAD,
        "spec.imageDigestMirrors",
        "must be a list",
        id="spec-list-not-a-list",
    ),
    pytest.param(
        raw("ImageDigestMirrorSet", "bad", {"imageDigestMirrors": ["quay.io"]}),
        IDMS_BAD,
        FIELD_0,
        "must be an object",
        id="entry-not-an-object",
    ),
    pytest.param(
        raw("ImageDigestMirrorSet", "bad", {}, api_version="config.openshift.io/v1alpha1"),
        IDMS_BAD,
        "apiVersion",
        "ImageDigestMirrorSet is config.openshift.io/v1",
        id="wrong-api-version",
    ),
    pytest.param(
        raw("ImageContentSourcePolicy", "bad", {}, api_version=IDMS_API),
        "ImageContentSourcePolicy/bad",
        "apiVersion",
        f"ImageContentSourcePolicy is {ICSP_API}",
        id="icsp-with-idms-api-version",
    ),
    pytest.param(
        {"kind": "ImageDigestMirrorSet", "metadata": {"name": "bad"}, "spec": {}},
        IDMS_BAD,
        "apiVersion",
        "ImageDigestMirrorSet is config.openshift.io/v1",
        id="missing-api-version",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
        "document #1",
        "kind",
        "'ConfigMap'",
        id="unknown-kind",
    ),
    pytest.param(
        {"apiVersion": IDMS_API, "metadata": {"name": "x"}, "spec": {}},
        "document #1",
        "kind",
        "None",
        id="missing-kind",
    ),
    pytest.param("just a string", "document #1", "", "str", id="non-mapping-string"),
    pytest.param(["a", "list"], "document #1", "", "list", id="non-mapping-list"),
    pytest.param(
        raw("ImageDigestMirrorSet", None, {}),
        "ImageDigestMirrorSet (document #1)",
        "metadata.name",
        "Required value",
        id="missing-metadata-name",
    ),
    pytest.param(
        {"apiVersion": IDMS_API, "kind": "ImageTagMirrorSet", "spec": {}},
        "ImageTagMirrorSet (document #1)",
        "metadata.name",
        "Required value",
        id="missing-metadata",
    ),
]


@pytest.mark.parametrize(("document", "named", "field", "words"), REFUSALS)
def test_crd_refusals_name_object_and_field(
    document: Any, named: str, field: str, words: str
) -> None:
    config = load_mirror_sets([document, GOOD])
    assert [(p.object, p.field, p.scope) for p in config.problems] == [
        (named, field, ProblemScope.OBJECT_REFUSED)
    ]
    problem = config.problems[0]
    assert words in problem.message
    assert str(problem).startswith(f"{named} {field}".strip() + ": ")
    assert config.excluded_objects == {named}
    assert config.mco_rejection is None
    assert rules_of(config) == [GOOD_RULE]


def test_refused_document_is_named_by_its_position_after_flattening() -> None:
    config = load_mirror_sets([GOOD, {"kind": "List", "items": [GOOD, "oops"]}])
    assert [p.object for p in config.problems] == ["document #3"]


def test_every_problem_of_an_object_is_reported() -> None:
    bad = mirror_object("idms", "bad", [entry("quay.io/NS", "m.local/NS", "m.local/NS")])
    config = load_mirror_sets([bad])
    assert [p.field for p in config.problems] == [
        f"{FIELD_0}.source",
        f"{FIELD_0}.mirrors[0]",
        f"{FIELD_0}.mirrors[1]",
    ]


def test_empty_string_mirrors_is_refused_like_any_non_array() -> None:
    config = load_mirror_sets([idms_entry(source="quay.io/ns", mirrors="")])
    assert [(p.object, p.field) for p in config.problems] == [(IDMS_BAD, f"{FIELD_0}.mirrors")]


# --------------------------------------------------------------------------------------
# What the schema accepts
# --------------------------------------------------------------------------------------

ACCEPTED = [
    pytest.param(raw("ImageDigestMirrorSet", "empty", {}), [], id="empty-spec-is-valid"),
    pytest.param(
        raw("ImageTagMirrorSet", "empty-list", {"imageTagMirrors": []}), [], id="empty-list"
    ),
    pytest.param(
        raw("ImageDigestMirrorSet", "null-list", {"imageDigestMirrors": None}), [], id="null-list"
    ),
    pytest.param(
        raw("ImageDigestMirrorSet", "x", {"imageDigestMirrors": [{"source": "quay.io/x"}]}),
        [("ImageDigestMirrorSet/x", "quay.io/x", (), False)],
        id="entry-without-mirrors-is-kept-as-a-rule",
    ),
    pytest.param(
        mirror_object("idms", "x", [entry("quay.io/x", never=True)]),
        [("ImageDigestMirrorSet/x", "quay.io/x", (), True)],
        id="never-without-mirrors",
    ),
    pytest.param(
        mirror_object("idms", "x", [entry("*.com", "m.local")]),
        [("ImageDigestMirrorSet/x", "*.com", ("m.local",), False)],
        id="wildcard-tld",
    ),
    pytest.param(
        mirror_object("itms", "x", [entry("Reg-1.Example.COM:5000/a__b/c--d", "mirror")]),
        [("ImageTagMirrorSet/x", "Reg-1.Example.COM:5000/a__b/c--d", ("mirror",), False)],
        id="upper-case-host-port-separators-single-label-mirror",
    ),
    pytest.param(
        mirror_object("icsp", "x", [entry("quay.io/x", "b.local", "a.local", "b.local")]),
        [("ImageContentSourcePolicy/x", "quay.io/x", ("b.local", "a.local", "b.local"), False)],
        id="icsp-duplicate-mirrors-accepted",
    ),
    pytest.param(
        mirror_object(
            "icsp",
            "x",
            [{"source": "quay.io/x", "mirrors": ["m"], "mirrorSourcePolicy": "Whatever"}],
        ),
        [("ImageContentSourcePolicy/x", "quay.io/x", ("m",), False)],
        id="icsp-has-no-policy-field-it-is-pruned",
    ),
    pytest.param(
        {**mirror_object("idms", "x", [entry("quay.io/x", "m")]), "status": {"a": 1}, "x": 2},
        [("ImageDigestMirrorSet/x", "quay.io/x", ("m",), False)],
        id="unknown-fields-ignored",
    ),
]


@pytest.mark.parametrize(("document", "rules"), ACCEPTED)
def test_accepted_objects(document: dict[str, Any], rules: list[Any]) -> None:
    config = load_mirror_sets([document])
    assert [p for p in config.problems if p.scope is not ProblemScope.FIELD_DROPPED] == []
    assert config.mco_rejection is None
    assert len(config.objects) == 1
    assert rules_of(config) == rules


# --------------------------------------------------------------------------------------
# MCO rejections (§3.4): exact upstream messages; only the offending objects are dropped
# --------------------------------------------------------------------------------------

MCO_REJECTIONS = [
    # (objects, exact MCO error, excluded objects, surviving (origin, source) pairs)
    pytest.param(
        [mirror_object("icsp", "bad", [entry("quay.io/NS/", "m.local/ns")])],
        'invalid format for source "quay.io/NS/"',
        {"ImageContentSourcePolicy/bad"},
        [],
        id="icsp-bad-source-is-an-mco-rejection-V37",
    ),
    pytest.param(
        [mirror_object("icsp", "bad", [entry("*.x.io:5000", "m.local")])],
        'invalid format for source "*.x.io:5000"',
        {"ImageContentSourcePolicy/bad"},
        [],
        id="icsp-wildcard-with-port",
    ),
    pytest.param(
        [mirror_object("icsp", "bad", [entry("quay.io/ns", "m.local/ok", "m.local/NS")])],
        'invalid format for mirror "m.local/NS"',
        {"ImageContentSourcePolicy/bad"},
        [],
        id="icsp-bad-mirror",
    ),
    pytest.param(
        [mirror_object("icsp", "bad", [entry("", "m.local")])],
        'invalid format for source ""',
        {"ImageContentSourcePolicy/bad"},
        [],
        id="icsp-empty-source",
    ),
    pytest.param(
        [
            mirror_object("idms", "a", [entry("quay.io/acme", "a.example.com/acme", never=True)]),
            mirror_object("idms", "b", [entry("quay.io/acme", "b.example.com/acme")]),
        ],
        CONFLICT.format("quay.io/acme"),
        {"ImageDigestMirrorSet/b"},
        [("ImageDigestMirrorSet/a", "quay.io/acme")],
        id="conflict-idms-idms-V34",
    ),
    pytest.param(
        [
            mirror_object("idms", "d", [entry("quay.io/acme", "d.example.com/acme", never=True)]),
            mirror_object("itms", "t", [entry("quay.io/acme", "t.example.com/acme")]),
        ],
        CONFLICT.format("quay.io/acme"),
        {"ImageTagMirrorSet/t"},
        [("ImageDigestMirrorSet/d", "quay.io/acme")],
        id="conflict-across-kinds-idms-itms-V32",
    ),
    pytest.param(
        [
            mirror_object("idms", "d", [entry("quay.io/acme", "aa.example.com/acme", never=True)]),
            mirror_object("icsp", "c", [entry("quay.io/acme", "zz.example.com/acme")]),
        ],
        CONFLICT.format("quay.io/acme"),
        {"ImageContentSourcePolicy/c"},
        [("ImageDigestMirrorSet/d", "quay.io/acme")],
        id="conflict-icsp-counts-as-allow-V31",
    ),
    pytest.param(
        [
            mirror_object("itms", "t", [entry("quay.io/acme", "t.example.com/acme")]),
            mirror_object("itms", "u", [entry("quay.io/acme", "u.example.com/acme", never=True)]),
        ],
        CONFLICT.format("quay.io/acme"),
        {"ImageTagMirrorSet/u"},
        [("ImageTagMirrorSet/t", "quay.io/acme")],
        id="conflict-itms-itms",
    ),
    pytest.param(
        [
            mirror_object("idms", "a", [entry("quay.io/acme", never=True)]),
            mirror_object("idms", "b", [entry("quay.io/acme", "m.example.com/acme")]),
        ],
        CONFLICT.format("quay.io/acme"),
        {"ImageDigestMirrorSet/b"},
        [("ImageDigestMirrorSet/a", "quay.io/acme")],
        id="conflict-counts-entries-without-mirrors-V35",
    ),
    pytest.param(
        [
            mirror_object(
                "idms", "bad", [entry("quay.io/acme", "quay.io/acme", "m.example.com", never=True)]
            )
        ],
        NEVER_IN_MIRRORS.format("quay.io/acme"),
        {"ImageDigestMirrorSet/bad"},
        [],
        id="never-with-source-among-mirrors-V36",
    ),
    pytest.param(
        [
            mirror_object(
                "itms", "bad", [entry("quay.io/acme", "m.example.com", "quay.io/acme", never=True)]
            )
        ],
        NEVER_IN_MIRRORS.format("quay.io/acme"),
        {"ImageTagMirrorSet/bad"},
        [],
        id="never-with-source-as-last-mirror-itms",
    ),
]


@pytest.mark.parametrize(("objects", "message", "excluded", "surviving"), MCO_REJECTIONS)
def test_mco_rejections(
    objects: list[dict[str, Any]],
    message: str,
    excluded: set[str],
    surviving: list[tuple[str, str]],
) -> None:
    config = load_mirror_sets([*objects, GOOD])
    assert config.mco_rejection == message
    assert [p.message for p in config.problems] == [message]
    assert all(p.scope is ProblemScope.CONFIG_REJECTED for p in config.problems)
    assert config.excluded_objects == excluded
    kept = [(str(rule.origin), rule.source) for rule in config.rules]
    assert kept == [*surviving, ("ImageDigestMirrorSet/good", "quay.io/good")]
    # Every object is still listed as read, even the excluded ones.
    assert len(config.objects) == len(objects) + 1


def test_mco_rejection_field_names_the_source() -> None:
    config = load_mirror_sets([mirror_object("icsp", "bad", [entry("quay.io/NS/", "m")])])
    (problem,) = config.problems
    assert (problem.object, problem.field) == (
        "ImageContentSourcePolicy/bad",
        "spec.repositoryDigestMirrors[source=quay.io/NS/]",
    )


def test_icsp_source_ending_in_newline_is_an_mco_rejection() -> None:
    config = load_mirror_sets([mirror_object("icsp", "bad", [entry("quay.io\n", "m")]), GOOD])
    assert config.mco_rejection is not None
    assert config.mco_rejection.startswith("invalid format for source ")
    assert config.excluded_objects == {"ImageContentSourcePolicy/bad"}
    assert rules_of(config) == [GOOD_RULE]


def test_mco_message_quotes_control_characters_like_go() -> None:
    config = load_mirror_sets([mirror_object("icsp", "bad", [entry("quay.io\n", "m")])])
    assert config.mco_rejection == 'invalid format for source "quay.io\\n"'


def test_first_problem_in_mco_order_is_the_reported_rejection() -> None:
    """The MCO walks IDMS, then ICSP, then ITMS; the policy first seen for a source wins."""
    config = load_mirror_sets(
        [
            mirror_object("itms", "t", [entry("quay.io/acme", "t.local")]),
            mirror_object("icsp", "c", [entry("quay.io/NS/", "m")]),
            mirror_object("idms", "d", [entry("quay.io/acme", "d.local", never=True)]),
        ]
    )
    assert config.mco_rejection == 'invalid format for source "quay.io/NS/"'
    assert [p.object for p in config.problems] == [
        "ImageContentSourcePolicy/c",
        "ImageTagMirrorSet/t",
    ]
    assert [str(rule.origin) for rule in config.rules] == ["ImageDigestMirrorSet/d"]


NOT_CONFLICTS = [
    pytest.param(
        [
            mirror_object("idms", "d", [entry("quay.io/acme", "d.example.com/acme", never=True)]),
            mirror_object("itms", "t", [entry("quay.io", "t.example.com/quay")]),
        ],
        id="exact-strings-only-V55",
    ),
    pytest.param(
        [
            mirror_object("idms", "a", [entry("quay.io/acme", "a.example.com", never=False)]),
            mirror_object(
                "idms",
                "b",
                [
                    {
                        "source": "quay.io/acme",
                        "mirrors": ["b.example.com"],
                        "mirrorSourcePolicy": "AllowContactingSource",
                    }
                ],
            ),
            mirror_object("icsp", "c", [entry("quay.io/acme", "c.example.com")]),
        ],
        id="unset-explicit-allow-and-icsp-agree-V27",
    ),
    pytest.param(
        [
            mirror_object("idms", "d", [entry("quay.io/acme", "d.example.com", never=True)]),
            mirror_object("itms", "t", [entry("quay.io/acme", "t.example.com", never=True)]),
        ],
        id="never-on-both-kinds",
    ),
    pytest.param(
        [
            mirror_object("idms", "d", [entry("Quay.io/acme", "d", never=True)]),
            mirror_object("idms", "e", [entry("quay.io/acme", "e")]),
        ],
        id="case-differs-so-no-conflict",
    ),
    pytest.param(
        [mirror_object("idms", "d", [entry("quay.io/acme", "quay.io/acme", "m")])],
        id="source-among-mirrors-is-fine-without-never-V28",
    ),
]


@pytest.mark.parametrize("objects", NOT_CONFLICTS)
def test_configurations_the_mco_accepts(objects: list[dict[str, Any]]) -> None:
    config = load_mirror_sets(objects)
    assert config.problems == ()
    assert config.mco_rejection is None
    assert len(config.rules) == sum(len(next(iter(o["spec"].values()))) for o in objects)


# --------------------------------------------------------------------------------------
# Lists
# --------------------------------------------------------------------------------------

A = mirror_object("idms", "a", [entry("a.io", "m.local/a")])
B = mirror_object("itms", "b", [entry("b.io", "m.local/b")])
C = mirror_object("icsp", "c", [entry("c.io", "m.local/c")])

LISTS = [
    pytest.param([{"apiVersion": "v1", "kind": "List", "items": [A, B, C]}], id="kind-List"),
    pytest.param(
        [{"apiVersion": IDMS_API, "kind": "ImageDigestMirrorSetList", "items": [A]}, B, C],
        id="ImageDigestMirrorSetList",
    ),
    pytest.param(
        [
            {"kind": "ImageTagMirrorSetList", "items": []},
            {"kind": "List", "items": [A, {"kind": "List", "items": [B]}]},
            {"kind": "ImageContentSourcePolicyList", "items": [C]},
        ],
        id="nested-and-empty-lists",
    ),
    pytest.param([None, A, None, {"kind": "List", "items": None}, B, C], id="empty-documents"),
]


@pytest.mark.parametrize("documents", LISTS)
def test_lists_are_flattened(documents: list[Any]) -> None:
    config = load_mirror_sets(documents)
    assert config.problems == ()
    assert [str(o) for o in config.objects] == [
        "ImageDigestMirrorSet/a",
        "ImageTagMirrorSet/b",
        "ImageContentSourcePolicy/c",
    ]
    assert [rule.source for rule in config.rules] == ["a.io", "b.io", "c.io"]


def test_flatten_lists_keeps_a_kind_named_list_without_items() -> None:
    odd = {"kind": "ShoppingList", "metadata": {"name": "x"}}
    assert flatten_lists([odd]) == [odd]


# --------------------------------------------------------------------------------------
# The patterns themselves: same language as the CRD regexes, with Go's `$`
# --------------------------------------------------------------------------------------


def _crd_pattern(file_name: str, field: str) -> re.Pattern[str]:
    crd = yaml.safe_load((CRDS / file_name).read_text())
    item = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["imageDigestMirrors"]["items"]["properties"]
    pattern = (
        item["source"]["pattern"] if field == "source" else item["mirrors"]["items"]["pattern"]
    )
    # Go's `$` is end of text; Python's also matches before a final "\n" (spec §1.1).
    return re.compile(pattern.replace("$", r"\Z"))


_IDMS_CRD = "0000_10_config-operator_01_imagedigestmirrorsets.crd.yaml"
CRD_SOURCE = _crd_pattern(_IDMS_CRD, "source")
CRD_MIRROR = _crd_pattern(_IDMS_CRD, "mirror")

SCOPE_EXAMPLES = [
    # (text, valid source, valid mirror)
    pytest.param("quay.io", True, True, id="host"),
    pytest.param("localhost", True, True, id="single-label"),
    pytest.param("quay.io:443", True, True, id="host-port"),
    pytest.param("quay.io/ns/sub/repo", True, True, id="deep-path"),
    pytest.param("Quay.IO/ns", True, True, id="upper-case-host"),
    pytest.param("*.com", True, False, id="wildcard-tld"),
    pytest.param("*.a-b.example.com", True, False, id="wildcard"),
    pytest.param("quay.io/a___b", False, False, id="triple-underscore"),
    pytest.param("quay.io/a.-b", False, False, id="dot-dash"),
    pytest.param("quay.io/-a", False, False, id="leading-dash"),
    pytest.param("a..b", False, False, id="empty-label"),
    pytest.param("quay.io//a", False, False, id="empty-component"),
    pytest.param("quay.io:", False, False, id="empty-port"),
    pytest.param("quay.io/ns:tag", False, False, id="tag"),
    pytest.param("quay.io\n", False, False, id="trailing-newline"),
    pytest.param("", False, False, id="empty"),
]


@pytest.mark.parametrize(("text", "source_ok", "mirror_ok"), SCOPE_EXAMPLES)
def test_scope_patterns(text: str, source_ok: bool, mirror_ok: bool) -> None:
    assert valid_source(text) is source_ok
    assert valid_mirror(text) is mirror_ok
    assert (CRD_SOURCE.search(text) is not None) is source_ok
    assert (CRD_MIRROR.search(text) is not None) is mirror_ok


@settings(max_examples=400, deadline=None)
@given(st.text("aZ0-._/:*\n", max_size=12))
def test_property_patterns_match_the_crd_regexes(text: str) -> None:
    assert valid_source(text) is (CRD_SOURCE.search(text) is not None)
    assert valid_mirror(text) is (CRD_MIRROR.search(text) is not None)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        pytest.param(
            mirror_object("icsp", "x", [{"source": "quay.io/x", "mirrors": ["m"],
                                          "mirrorSourcePolicy": "NeverContactSource"}]),
            "spec.repositoryDigestMirrors[0].mirrorSourcePolicy",
            id="icsp-has-no-mirror-source-policy",
        ),
        pytest.param(
            {"apiVersion": "config.openshift.io/v1", "kind": "ImageDigestMirrorSet",
             "metadata": {"name": "x"},
             "spec": {"repositoryDigestMirrors": [{"source": "quay.io/x", "mirrors": ["m"]}]}},
            "spec.repositoryDigestMirrors",
            id="icsp-field-name-in-an-idms",
        ),
    ],
)  # fmt: skip
def test_fields_the_api_server_would_drop_are_named_and_the_object_kept(
    document: dict[str, Any], field: str
) -> None:
    config = load_mirror_sets([document])
    (problem,) = config.problems
    assert (problem.field, problem.scope) == (field, ProblemScope.FIELD_DROPPED)
    assert "dropped by the API server" in problem.message
    assert config.excluded_objects == frozenset()

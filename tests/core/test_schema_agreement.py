"""Our CRD-level checks refuse exactly what the real CRD schemas refuse."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.crd_schema import crd_schema_errors
from tests.support.mirror_objects import mirror_object
from webhook.core.mirror_set_schema import ProblemScope, read_object

# Short strings, valid and not; no trailing newline, where Python's `$` (used by
# jsonschema) and Go's differ (covered in test_mirror_sets).
SCOPES = st.sampled_from(
    [
        "quay.io",
        "quay.io/acme",
        "mirror.local:5000/a/b",
        "localhost",
        "*.example.com",
        "*.com",
        "Quay.IO/acme",
        "quay.io/Acme",
        "quay.io/acme/",
        "https://quay.io",
        "quay.io:/x",
        "*",
        "*.x.io/ns",
        "a..b",
        "quay.io/a___b",
        "quay.io/a-b__c.d",
        "",
    ]
)
POLICIES = st.sampled_from([None, "NeverContactSource", "AllowContactingSource", "Sometimes"])


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    entry: dict[str, Any] = {"source": draw(SCOPES), "mirrors": draw(st.lists(SCOPES, max_size=3))}
    policy = draw(POLICIES)
    if policy is not None:
        entry["mirrorSourcePolicy"] = policy
    return entry


@settings(max_examples=300, derandomize=True)
@given(kind=st.sampled_from(["idms", "itms"]), items=st.lists(entries(), max_size=3))
def test_refusals_agree_with_the_crd_schema(kind: str, items: list[dict[str, Any]]) -> None:
    document = mirror_object(kind, "generated", items)
    refused = any(p.scope is ProblemScope.OBJECT_REFUSED for p in read_object(document, 0).problems)
    assert refused == bool(crd_schema_errors(document)), crd_schema_errors(document)


@settings(max_examples=100, derandomize=True)
@given(items=st.lists(entries(), max_size=3))
def test_icsp_patterns_are_left_to_the_operator_like_its_crd_does(
    items: list[dict[str, Any]],
) -> None:
    document = mirror_object("icsp", "generated", items)
    scopes = {problem.scope for problem in read_object(document, 0).problems}
    assert scopes <= {ProblemScope.FIELD_DROPPED}  # a policy field is dropped, nothing refused
    assert crd_schema_errors(document) == []

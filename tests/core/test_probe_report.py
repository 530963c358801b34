"""Which candidate the node ends up pulling from, and the first problem to fix."""

from __future__ import annotations

from tests.support.mirror_objects import entry, image_config, mirror_object
from webhook.core.lookups import Lookup, LookupOutcome
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.probe_report import first_problem, probe_lines, pulls_from

D = "sha256:" + "7" * 64
INDEX = MirrorIndex.from_config(
    load_mirror_sets(
        [mirror_object("idms", "a", [entry("quay.io/a", "m1.local/a", "m2.local/a", never=True)])]
    )
)
PLAN = INDEX.explain(f"quay.io/a/x@{D}")
M1, M2 = f"m1.local/a/x@{D}", f"m2.local/a/x@{D}"


def answer(spec: str, outcome: LookupOutcome) -> Lookup:
    return Lookup(spec, outcome, D if outcome is LookupOutcome.FOUND else None, detail="HTTP")


def test_the_first_candidate_that_has_the_image_is_where_the_node_pulls_from() -> None:
    probes = {M1: answer(M1, LookupOutcome.NOT_FOUND), M2: answer(M2, LookupOutcome.FOUND)}
    chosen = pulls_from(PLAN, probes)
    assert chosen is not None
    assert chosen.pull_spec == M2
    assert first_problem(PLAN, probes) == ""


def test_when_nothing_has_it_the_first_problem_in_pull_order_is_named() -> None:
    probes = {M1: answer(M1, LookupOutcome.UNAUTHORIZED), M2: answer(M2, LookupOutcome.NOT_FOUND)}
    assert pulls_from(PLAN, probes) is None
    assert first_problem(PLAN, probes) == (
        f"mirror {M1} refuses the credentials: check the pull secret for m1.local"
    )


def test_blocked_candidates_are_shown_as_never_contacted() -> None:
    lines = probe_lines(PLAN, {M1: answer(M1, LookupOutcome.FOUND)})
    assert lines[3].endswith("blocked (never contacted)")
    assert lines[-1] == f"  the node pulls from {M1}"


def test_when_no_mirror_is_even_tried_the_policy_advice_comes_first() -> None:
    """A tag whose source has only digest mirrors: contacting the source is not the fix."""
    plan = INDEX.explain("quay.io/a/x:1")
    advice = "pulled by tag, and no ImageTagMirrorSet serves quay.io/a/x; pin it"
    assert first_problem(plan, {}, advice) == advice


def test_a_find_the_signature_policy_rejects_is_no_pull_and_is_the_problem() -> None:
    image = image_config(blockedRegistries=["quay.io"])
    idms = mirror_object("idms", "a", [entry("quay.io/a", "m1.local/a")])
    plan = MirrorIndex.from_config(load_mirror_sets([idms, image])).explain(f"quay.io/a/x@{D}")
    probes = {M1: answer(M1, LookupOutcome.FOUND)}
    assert pulls_from(plan, probes) is None
    assert first_problem(plan, probes) == (
        f"the node fetches {M1}, then refuses it: "
        'rejected: policy.json transports.docker["quay.io"] requires reject'
    )
    lines = probe_lines(plan, probes)
    assert lines[-2] == (
        f"  quay.io/a/x@{D}: signature policy: rejected: policy.json "
        'transports.docker["quay.io"] requires reject; the node fetches the manifest, '
        "then refuses the image, even from a mirror"
    )
    assert lines[-1].startswith("  the pull fails; fix first: the node fetches")

"""The mirror sets shipped inside the package are ones a cluster would accept."""

from __future__ import annotations

import yaml

from tests.support.crd_schema import crd_schema_errors
from webhook.main import example_mirror_sets_text, load_example_mirror_sets


def test_example_mirror_sets_pass_their_crd_schemas() -> None:
    documents = list(yaml.safe_load_all(example_mirror_sets_text()))
    assert documents
    assert {d["kind"] for d in documents} == {
        "ImageDigestMirrorSet",
        "ImageTagMirrorSet",
        "ImageContentSourcePolicy",
    }
    assert [crd_schema_errors(d) for d in documents] == [[] for _ in documents]


def test_example_mirror_sets_are_accepted_by_the_operator_rules() -> None:
    config = load_example_mirror_sets()
    assert config.problems == ()
    assert config.mco_rejection is None
    assert len(config.rules) == 6


def test_crd_schema_check_catches_what_the_api_server_refuses() -> None:
    bad = {
        "apiVersion": "config.openshift.io/v1",
        "kind": "ImageDigestMirrorSet",
        "metadata": {"name": "x"},
        "spec": {
            "imageDigestMirrors": [{"source": "quay.io/NS", "mirrors": ["m.local", "m.local"]}]
        },
    }
    errors = crd_schema_errors(bad)
    assert any("source" in e for e in errors)
    assert any("non-unique" in e for e in errors)

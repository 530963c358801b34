"""Fuzzing: whatever arrives, the webhook answers with a valid review or a 400, never a 500."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.reviews import pod_review, sample
from tests.support.sources import serving
from webhook.adapters.http_app import AppSettings, create_app
from webhook.core.mirror_index import MirrorIndex
from webhook.core.policy import PolicySettings
from webhook.main import load_example_mirror_sets

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
SAMPLES = [
    "validate-pod-create-kubectl-run",
    "validate-pod-update-set-image",
    "validate-pod-create-replicaset-controller",
    "validate-pod-create-dryrun",
]
MODES = st.sampled_from(["enforce", "warn", "audit"])
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,  # a loaded CI machine is no reason to fail: the property is the answer
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    index = MirrorIndex.from_config(load_example_mirror_sets())
    return create_app(AppSettings(PolicySettings()), serving(index)).test_client()


def assert_valid_answer(client: FlaskClient, mode: str, body: bytes) -> None:
    reply = client.post(f"/validate/{mode}", data=body, content_type="application/json")
    assert reply.status_code in (200, 400), reply.get_data(as_text=True)
    answer = reply.get_json()
    if reply.status_code == 400:
        assert isinstance(answer["error"], str)
        return
    request = json.loads(body)["request"]
    response = answer["response"]
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert response["uid"] == request["uid"]
    assert isinstance(response["allowed"], bool)
    assert "patch" not in response
    for warning in response.get("warnings", []):
        assert len(warning) <= 120
    assert sum(len(w) for w in response.get("warnings", [])) <= 4096
    for key in response.get("auditAnnotations", {}):
        assert "/" not in key
        assert len(key) <= 63


@FUZZ
@given(mode=MODES, body=JSON)
def test_any_json_gets_a_review_or_a_400(client: FlaskClient, mode: str, body: Any) -> None:
    assert_valid_answer(client, mode, json.dumps(body).encode())


@FUZZ
@given(mode=MODES, raw=st.binary(max_size=200))
def test_any_bytes_get_a_review_or_a_400(client: FlaskClient, mode: str, raw: bytes) -> None:
    reply = client.post(f"/validate/{mode}", data=raw, content_type="application/json")
    assert reply.status_code in (200, 400)


@st.composite
def mutilated_reviews(draw: st.DrawFn) -> Any:
    """A real review with one subtree replaced by arbitrary JSON, or one key removed."""
    body = copy.deepcopy(sample(draw(st.sampled_from(SAMPLES))))
    node: Any = body
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if draw(st.booleans()) or not isinstance(node[key], dict | list):
                if draw(st.booleans()):
                    node[key] = draw(JSON)
                else:
                    del node[key]
                return body
            node = node[key]
        elif isinstance(node, list) and node:
            index = draw(st.integers(min_value=0, max_value=len(node) - 1))
            if not isinstance(node[index], dict | list):
                node[index] = draw(JSON)
                return body
            node = node[index]
    return body


@FUZZ
@given(mode=MODES, body=mutilated_reviews())
def test_mutilated_real_reviews_get_a_review_or_a_400(
    client: FlaskClient, mode: str, body: Any
) -> None:
    assert_valid_answer(client, mode, json.dumps(body).encode())


IMAGES = st.text(max_size=80) | st.from_regex(
    r"[a-zA-Z0-9.:/@_-]{1,60}(:[a-zA-Z0-9._-]{1,20})?(@sha256:[0-9a-f]{64})?", fullmatch=True
)


@FUZZ
@given(mode=MODES, images=st.dictionaries(st.text(min_size=1, max_size=10), IMAGES, max_size=6))
def test_any_image_strings_in_a_pod_are_judged(
    client: FlaskClient, mode: str, images: dict[str, str]
) -> None:
    body = pod_review(images or {"c": "x"})
    assert_valid_answer(client, mode, json.dumps(body).encode())

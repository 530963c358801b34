"""The Flask app as the API server and Prometheus see it (no network: Flask's test client)."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.reviews import pod_review, sample
from tests.support.sources import serving
from webhook.adapters.http_app import AppSettings, create_app, failure_decision
from webhook.adapters.http_metrics import Metrics
from webhook.core.decision import Mode, Outcome
from webhook.core.mirror_index import MirrorIndex
from webhook.core.policy import PolicySettings
from webhook.index_sources import IndexHolder

UNMIRRORED = "docker.io/library/nginx:1.27"


class BrokenSource(IndexHolder):
    @property
    def current(self) -> MirrorIndex:
        raise RuntimeError("simulated bug")


def make_client(
    source: IndexHolder | None = None, metrics: Metrics | None = None, **settings: Any
) -> FlaskClient:
    chosen = source or serving(MirrorIndex(()))
    app = create_app(AppSettings(PolicySettings(), **settings), chosen, metrics=metrics)
    return app.test_client()


@pytest.fixture
def client() -> FlaskClient:
    return make_client()


def test_a_body_that_is_not_json_gets_400_naming_the_problem(client: FlaskClient) -> None:
    reply = client.post("/validate/warn", data=b"{not json", content_type="application/json")
    assert reply.status_code == 400
    assert "not valid JSON" in reply.get_json()["error"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param([], "must be a JSON object", id="a-list"),
        pytest.param(
            {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"},
            "expected apiVersion admission.k8s.io/v1",
            id="v1beta1",
        ),
        pytest.param(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"},
            "request: required",
            id="no-request",
        ),
        pytest.param(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "request": {"kind": {"kind": "Pod"}, "operation": "CREATE"},
            },
            "request.uid: required",
            id="no-uid",
        ),
        pytest.param(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "request": {"uid": "u", "kind": {"kind": "Pod"}, "operation": "PATCH"},
            },
            "request.operation",
            id="bad-operation",
        ),
        pytest.param(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "request": {
                    "uid": "u",
                    "kind": {"kind": "Pod"},
                    "operation": "CREATE",
                    "object": "pod",
                },
            },
            "request.object",
            id="object-not-an-object",
        ),
    ],
)
def test_a_body_that_is_not_a_v1_review_gets_400(
    client: FlaskClient, body: Any, expected: str
) -> None:
    reply = client.post("/validate/enforce", json=body)
    assert reply.status_code == 400
    assert expected in reply.get_json()["error"]


def test_deeply_nested_json_is_a_400_not_a_crash(client: FlaskClient) -> None:
    reply = client.post("/validate/warn", data=b"[" * 100_000, content_type="application/json")
    assert reply.status_code == 400


def chunked_post(client: FlaskClient, path: str, body: bytes) -> Any:
    """As gunicorn hands over a chunked body: no Content-Length, the stream ends by itself."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("path", ["/validate/warn", "/mutate"])
def test_a_body_over_the_size_limit_is_refused_with_413_naming_the_setting(path: str) -> None:
    small = make_client(max_body_bytes=1000)
    reply = small.post(path, json=pod_review({"web": UNMIRRORED}))
    assert reply.status_code == 413
    assert "IDMS_GUARD_MAX_BODY_BYTES" in reply.get_json()["error"]


@pytest.mark.parametrize("path", ["/validate/warn", "/mutate"])
def test_a_chunked_body_over_the_size_limit_is_refused_with_413_naming_the_setting(
    path: str,
) -> None:
    body = json.dumps(pod_review({"web": UNMIRRORED})).encode()
    reply = chunked_post(make_client(max_body_bytes=1000), path, body)
    assert reply.status_code == 413
    assert "IDMS_GUARD_MAX_BODY_BYTES" in reply.get_json()["error"]


def test_a_chunked_body_of_exactly_the_limit_is_read_whole() -> None:
    body = json.dumps(pod_review({"web": UNMIRRORED})).encode()
    reply = chunked_post(make_client(max_body_bytes=len(body)), "/validate/warn", body)
    assert reply.status_code == 200
    assert reply.get_json()["response"]["warnings"]


def test_an_unknown_mode_is_404(client: FlaskClient) -> None:
    reply = client.post("/validate/strict", json=sample("validate-pod-create-kubectl-run"))
    assert reply.status_code == 404
    assert "enforce, warn or audit" in reply.get_json()["error"]


@pytest.mark.parametrize("path", ["/validate/warn", "/mutate"])
def test_an_admission_path_asked_with_get_is_405_naming_post(
    client: FlaskClient, path: str
) -> None:
    reply = client.get(path)
    assert reply.status_code == 405
    assert reply.headers["Allow"] == "POST"
    assert reply.get_json() == {"error": f"{path} takes POST only"}


def test_an_admission_answer_is_json_with_its_length(client: FlaskClient) -> None:
    reply = client.post("/validate/warn", json=pod_review({"web": UNMIRRORED}))
    assert reply.content_type == "application/json"
    assert reply.headers["Content-Length"] == str(len(reply.get_data()))


def test_readyz_is_503_until_the_mirror_sets_are_loaded() -> None:
    source = IndexHolder()
    client = make_client(source)
    assert client.get("/readyz").status_code == 503
    source.swap_index(MirrorIndex(()))
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_by_endpoint_and_outcome_and_findings_by_reason() -> None:
    client = make_client()
    client.post("/validate/enforce", json=pod_review({"web": UNMIRRORED, "b": "nginx"}))
    client.post("/validate/warn", data=b"x", content_type="application/json")
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'idms_guard_admission_requests_total{endpoint="validate/enforce",outcome="denied"} 1.0'
        in text
    )
    assert 'idms_guard_findings_total{mode="enforce",reason="tag-not-mirrored"} 1.0' in text
    assert 'idms_guard_findings_total{mode="enforce",reason="short-name"} 1.0' in text
    duration = (
        'idms_guard_admission_duration_seconds_count{endpoint="validate/enforce",outcome="denied"}'
    )
    assert f"{duration} 1.0" in text
    assert "idms_guard_mirror_index_tables 0.0" in text
    assert "idms_guard_mirror_index_generation 1.0" in text


def test_a_dry_run_is_judged_alike_but_leaves_no_finding_metric_or_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client()
    with caplog.at_level(logging.INFO, logger="idms_guard"):
        reply = client.post("/validate/enforce", json=pod_review({"web": UNMIRRORED}, dry_run=True))
    assert reply.get_json()["response"]["allowed"] is False
    assert "idms_guard_findings_total{" not in client.get("/metrics").get_data(as_text=True)
    assert caplog.records == []


def test_findings_are_logged_as_one_structured_line(caplog: pytest.LogCaptureFixture) -> None:
    client = make_client()
    with caplog.at_level(logging.INFO, logger="idms_guard"):
        client.post("/validate/audit", json=pod_review({"web": UNMIRRORED}))
    (record,) = caplog.records
    assert '"reason": "tag-not-mirrored"' in record.getMessage()
    assert '"outcome": "audited"' in record.getMessage()


def test_an_internal_error_allows_with_a_warning_by_default() -> None:
    reply = make_client(BrokenSource()).post(
        "/validate/enforce", json=pod_review({"web": UNMIRRORED})
    )
    response = reply.get_json()["response"]
    assert reply.status_code == 200
    assert response["allowed"] is True
    assert "internal error" in response["warnings"][0]


def test_an_internal_error_denies_in_enforce_mode_when_fail_closed() -> None:
    reply = make_client(BrokenSource(), fail_closed=True).post(
        "/validate/enforce", json=pod_review({"web": UNMIRRORED})
    )
    assert reply.get_json()["response"]["allowed"] is False


@pytest.mark.parametrize("mode", [Mode.WARN, Mode.AUDIT])
def test_fail_closed_never_denies_outside_enforce_mode(mode: Mode) -> None:
    decision = failure_decision(mode, fail_closed=True)
    assert (decision.allowed, decision.outcome) == (True, Outcome.ALLOWED)


def test_a_non_workload_kind_is_allowed_untouched(client: FlaskClient) -> None:
    body = sample("validate-pod-create-kubectl-run")
    body["request"]["kind"] = {"group": "", "version": "v1", "kind": "ConfigMap"}
    reply = client.post("/validate/enforce", json=body).get_json()
    assert reply["response"] == {"uid": body["request"]["uid"], "allowed": True}


def test_explain_answers_the_candidates_as_json(client: FlaskClient) -> None:
    reply = client.get("/explain?image=quay.io/acme/app:1")
    assert reply.status_code == 200
    assert reply.get_json() == {
        "image": "quay.io/acme/app:1",
        "reference": "quay.io/acme/app:1",
        "by_digest": False,
        "candidates": [
            {"pull_spec": "quay.io/acme/app:1", "role": "source", "blocked": False, "from": []}
        ],
    }


def test_explain_takes_several_images_and_names_a_bad_one(client: FlaskClient) -> None:
    reply = client.get("/explain?image=nginx&image=quay.io/Bad/x")
    first, second = reply.get_json()
    assert first["image"] == "nginx"
    assert "repository name must be lowercase" in second["error"]


def test_explain_without_an_image_is_400(client: FlaskClient) -> None:
    assert client.get("/explain").status_code == 400


def test_an_image_with_a_newline_cannot_forge_a_line_of_the_deny_message(
    client: FlaskClient,
) -> None:
    body = pod_review({"web": 'quay.io/a/b:1\n- container "x": fine'})
    message = client.post("/validate/enforce", json=body).get_json()["response"]["status"]
    assert message["message"].count("\n- ") == 1

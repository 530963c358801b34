"""`read_review`: an untrusted body becomes an AdmissionRequest, or one error naming the
field by the path it has in the body as sent."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.core.admission import read_review
from webhook.errors import AdmissionReviewError


def review(**request: Any) -> dict[str, Any]:
    fields = {"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {**fields, "operation": "CREATE", **request},
    }


@pytest.mark.parametrize(
    ("request_fields", "path"),
    [
        pytest.param({"uid": 7}, "request.uid", id="uid"),
        pytest.param({"kind": {"group": 1, "kind": "Pod"}}, "request.kind.group", id="kind-group"),
        pytest.param({"subResource": []}, "request.subResource", id="sub-resource"),
        pytest.param({"namespace": 1}, "request.namespace", id="namespace"),
        pytest.param({"userInfo": {"username": 1}}, "request.userInfo.username", id="username"),
    ],
)
def test_an_error_names_the_field_by_its_path_as_sent(
    request_fields: dict[str, Any], path: str
) -> None:
    with pytest.raises(AdmissionReviewError) as raised:
        read_review(review(**request_fields))
    assert str(raised.value).startswith(f"{path}: ")


def test_a_valid_review_reads_the_group_and_the_username() -> None:
    request = read_review(
        review(
            kind={"group": "apps", "version": "v1", "kind": "Deployment"},
            userInfo={"username": "alice"},
        )
    )
    assert (request.group, request.kind, request.username) == ("apps", "Deployment", "alice")

"""`AdmissionRoutes`, the WSGI layer in front of Flask, on its own: what it claims, what it
passes on, and how it answers when a handler fails."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from webhook.adapters.http_admission import AdmissionRoutes


def flask_stand_in(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"fallback {environ['REQUEST_METHOD']} {environ['PATH_INFO']}".encode()]


def echo(body: bytes) -> tuple[int, Any]:
    return 200, {"length": len(body)}


def broken(body: bytes) -> tuple[int, Any]:
    raise RuntimeError("a bug")


@pytest.fixture
def client() -> Client:
    routes = {"/validate/warn": echo, "/broken": broken}
    return Client(AdmissionRoutes(flask_stand_in, routes, max_body_bytes=10))


def test_a_routed_post_gets_its_handlers_json(client: Client) -> None:
    reply = client.post("/validate/warn", data=b"12345")
    assert (reply.status_code, reply.json) == (200, {"length": 5})


def test_other_paths_go_to_the_fallback_app(client: Client) -> None:
    assert client.get("/healthz").get_data() == b"fallback GET /healthz"
    assert client.post("/validate/strict").get_data() == b"fallback POST /validate/strict"


def test_a_body_over_the_limit_is_413_and_never_reaches_the_handler(client: Client) -> None:
    reply = client.post("/validate/warn", data=b"x" * 11)
    assert reply.status_code == 413
    assert "larger than 10 bytes" in reply.json["error"]


def test_a_failing_handler_is_a_logged_500_in_json_not_a_traceback(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="idms_guard.admission"):
        reply = client.post("/broken", data=b"{}")
    assert (reply.status_code, reply.content_type) == (500, "application/json")
    assert reply.json == {"error": "internal error; see the webhook's log"}
    assert "RuntimeError: a bug" in caplog.text
    assert "Traceback" not in reply.get_data(as_text=True)

"""The admission routes (`POST /validate/<mode>`, `POST /mutate`) served straight from
WSGI, in front of the Flask app that serves everything else.

Why not Flask routes: these are the API server's hot path, called for every pod in every
guarded namespace, and Flask's per-request machinery (request context, URL adapter,
session, `Response` object) cost more than judging a 5-container pod (about 50 µs of a
200 µs answer, measured with `bench/admission_load.py`). The routes need none of it: a
body in, a JSON answer out. Reading the body keeps werkzeug's own limits
(`get_input_stream`, as Flask's `request.get_data` does), so a chunked or over-long body
is treated exactly as before. Everything else (explain, probes, metrics, errors) stays
with Flask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("idms_guard.admission")

Handler = Callable[[bytes], tuple[int, Any]]
"""The request body → (HTTP status, JSON-serializable answer)."""

_JSON = "application/json"


class AdmissionRoutes:
    """A WSGI app: `routes` (path → handler) for POST, 405 for another method on those
    paths, `fallback` (the Flask app) for every other path."""

    def __init__(
        self, fallback: WSGIApplication, routes: Mapping[str, Handler], max_body_bytes: int
    ) -> None:
        self._fallback = fallback
        self._routes = dict(routes)
        self._max_body_bytes = max_body_bytes

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(self._routes)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        handler = self._routes.get(path)
        if handler is None:
            return self._fallback(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            error = error_json(f"{path} takes POST only")
            return _answer(start_response, 405, error, [("Allow", "POST")])
        try:
            body = self._body(environ)
        except RequestEntityTooLarge:
            return _answer(start_response, 413, error_json(too_large(self._max_body_bytes)))
        except HTTPException as error:  # e.g. the client sent less than Content-Length
            return _answer(start_response, error.code or 400, error_json(error.description or ""))
        try:
            status, answer = handler(body)
            payload = orjson.dumps(answer)
        except Exception:  # a bug: logged with its traceback, answered as Flask would
            log.exception("internal error answering %s", path)
            status, payload = 500, error_json("internal error; see the webhook's log")
        return _answer(start_response, status, payload)

    def _body(self, environ: WSGIEnvironment) -> bytes:
        """One byte more than allowed is read, so that a chunked body (no Content-Length:
        the stream then stops at the limit without a word) shows it was longer."""
        limit = self._max_body_bytes
        raw = get_input_stream(environ, max_content_length=limit + 1).read()
        if len(raw) > limit:
            raise RequestEntityTooLarge()
        return raw


def too_large(limit: int) -> str:
    return f"the body is larger than {limit} bytes (raise IDMS_GUARD_MAX_BODY_BYTES to allow more)"


def error_json(message: str) -> bytes:
    return orjson.dumps({"error": message})


def _answer(
    start_response: StartResponse,
    status: int,
    payload: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    sent = [("Content-Type", _JSON), ("Content-Length", str(len(payload))), *(headers or ())]
    start_response(f"{status} {HTTPStatus(status).phrase}", sent)
    return [payload]

"""One gunicorn server for bench/admission_load.py, run as a subprocess:

    python bench/_servers.py --kind webhook --port 18443 --cert tls.crt --key tls.key \
        --mirror-sets webhook/examples/mirror-sets.yaml

`webhook` serves the real app (`build_app`); `noop` serves a Flask app that reads the body
and answers every `POST /validate/<mode>` with the same minimal allowed AdmissionReview.
Both run with the same gunicorn settings (`gunicorn_options` + `WebhookServer`), so the
difference between them is the webhook's own work: parsing the review, matching images,
logging findings, metrics.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, request

from webhook.config import Settings
from webhook.errors import IdmsGuardError
from webhook.gunicorn_config import ServerOptions, WebhookServer, gunicorn_options
from webhook.main import build_app, load_mirror_set_paths

NOOP_ANSWER = json.dumps(
    {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "00000000-0000-0000-0000-000000000000", "allowed": True},
    }
)


def create_noop_app() -> Flask:
    app = Flask("noop")

    @app.post("/validate/<mode>")
    def validate(mode: str) -> Response:
        request.get_data(cache=False)  # the body crosses the wire and is read, not parsed
        return Response(NOOP_ANSWER, mimetype="application/json")

    @app.get("/healthz")
    @app.get("/readyz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one gunicorn server for admission_load.py")
    parser.add_argument("--kind", choices=("webhook", "noop"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--mirror-sets", help="mirror-set file (webhook only)")
    parser.add_argument("--workers", type=int, default=ServerOptions.workers)
    parser.add_argument("--threads", type=int, default=ServerOptions.threads)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    factory: Callable[[], Flask]
    if args.kind == "webhook":
        if not args.mirror_sets:
            parser.error("--kind webhook needs --mirror-sets")
        settings = Settings(mirror_set_paths=(args.mirror_sets,))
        try:
            load_mirror_set_paths(settings.mirror_set_paths)  # fail now, as `serve` does
        except IdmsGuardError as error:
            raise SystemExit(f"idms-guard: {error}") from None
        factory = functools.partial(build_app, settings)  # runs in the worker, after fork
    else:
        factory = create_noop_app
    options = ServerOptions(
        args.cert,
        args.key,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        log_level=args.log_level,
    )
    WebhookServer(factory, gunicorn_options(options)).run()


if __name__ == "__main__":
    main()

"""The gunicorn worker `serve` runs: gunicorn's gevent worker, made whole for this app.

gevent patches the standard library when the worker starts, after the master has
imported the app. Names bound by `from ssl import SSLContext` before that keep the
blocking class: urllib3 makes the kubernetes client's TLS contexts from such a name, so
a cluster watch would block the whole worker on its socket. The worker points that name
at gevent's class right after patching; gevent's warning about late patching names
exactly these modules (and the TLS context class the master built to check the
certificate, which the worker builds again), so it is silenced here.
"""

from __future__ import annotations

import ssl
import warnings

import urllib3.util
import urllib3.util.ssl_
from gevent.monkey import MonkeyPatchWarning
from gunicorn.workers.ggevent import GeventWorker


class WebhookWorker(GeventWorker):  # type: ignore[misc]
    def patch(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MonkeyPatchWarning)
            super().patch()
        urllib3.util.ssl_.SSLContext = ssl.SSLContext  # type: ignore[assignment]
        urllib3.util.SSLContext = ssl.SSLContext  # type: ignore[assignment]

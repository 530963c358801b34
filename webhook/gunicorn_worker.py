"""The gunicorn worker `serve` runs: gunicorn's gevent worker, made whole for this app.

gevent patches the standard library when the worker starts, after the master has
imported the app. Names bound by `from ssl import SSLContext` before that keep the
blocking class: urllib3 makes the kubernetes client's TLS contexts from such a name, so
a cluster watch would block the whole worker on its socket. The worker points that name
at gevent's class right after patching; gevent's warning about late patching names
exactly these modules (and the TLS context class the master built to check the
certificate, which the worker builds again), so it is silenced here.

Building the mirror index is CPU work of up to seconds; `off_the_loop` moves it to a
native thread so that the worker's greenlets keep answering meanwhile.
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Callable
from typing import TypeVar

import gevent
import urllib3.util
import urllib3.util.ssl_
from gevent.monkey import MonkeyPatchWarning, is_module_patched
from gunicorn.workers.ggevent import GeventWorker

T = TypeVar("T")


class WebhookWorker(GeventWorker):  # type: ignore[misc]
    def patch(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MonkeyPatchWarning)
            super().patch()
        urllib3.util.ssl_.SSLContext = ssl.SSLContext  # type: ignore[assignment]
        urllib3.util.SSLContext = ssl.SSLContext  # type: ignore[assignment]


def off_the_loop(work: Callable[[], T]) -> T:
    """Run CPU-bound `work` on a native thread when gevent runs this process, and wait for
    it cooperatively. A greenlet that computes for a second stops every request of its
    worker; a native thread shares the interpreter in 5 ms slices, so requests go on while
    a 10 000-rule index is built. Elsewhere (the CLI, tests) it simply runs `work`."""
    if not is_module_patched("threading"):
        return work()
    result: T = gevent.get_hub().threadpool.apply(work)
    return result

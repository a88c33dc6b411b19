"""The requests other threads are still serving (live_server answering a sandbox's hang
that our client gave up on), and a wait that ends when they are done.

A test whose client timed out while the sandbox hung waits for the server to finish that
request: what it did upstream is then recorded, and it no longer holds a server thread
or a database connection. A fixed sleep as long as the hang waited the whole time even
when the request had finished, or had never hung; `wait_until_served(at_most)` returns
as soon as no request is being served, and never waits longer than the sleep it
replaces.

The request signals are connected when this module is imported, that is when pytest
collects a test module that imports it, before any test runs.
"""

import threading
import time

from django.core.signals import request_finished, request_started

_serving: dict[int, threading.Thread] = {}
_lock = threading.Lock()


def _started(sender, **kwargs):
    thread = threading.current_thread()
    if thread is not threading.main_thread():
        with _lock:
            _serving[thread.ident] = thread


def _finished(sender, **kwargs):
    with _lock:
        _serving.pop(threading.get_ident(), None)


request_started.connect(_started, dispatch_uid="tests.live_support.started")
request_finished.connect(_finished, dispatch_uid="tests.live_support.finished")


def serving() -> int:
    """How many requests threads other than the test's are serving now."""
    with _lock:
        return sum(1 for thread in _serving.values() if thread.is_alive())


def wait_until_served(at_most: float) -> None:
    """Return once no other thread is serving a request, or after `at_most` seconds."""
    deadline = time.monotonic() + at_most
    while serving() and time.monotonic() < deadline:
        time.sleep(0.02)

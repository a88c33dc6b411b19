"""A hard deadline for one HTTP try of a webhook (core/webhooks.py's `post`).

urllib3's timeouts bound each read, not the whole answer: a receiver that sends a byte
every few seconds would hold the sender (and a scheduler's pass) for ever, and a name
server that never answers holds the lookup before it. `Pool` and `TLSPool` make
connections that are cut at the deadline given (`TooSlow`), and `within` gives up
waiting for a piece of work (the lookup) at it.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import urllib3
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection


class TooSlow(urllib3.exceptions.HTTPError):
    """The answer had not all come when the try's time was spent."""


class _CutOff:
    """A connection cut when its try's time is spent: a timer armed when it opens shuts
    its socket at the deadline, which ends any read under way."""

    def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline
        self._timer: threading.Timer | None = None
        self._was_cut = False

    def connect(self) -> None:
        self._timer = threading.Timer(max(0.0, self._deadline - time.monotonic()), self._cut)
        self._timer.daemon = True
        self._timer.start()
        super().connect()  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().getresponse(*args, **kwargs)  # type: ignore[misc]
        except Exception:
            if self._was_cut:  # the read the cut ended, not the receiver
                raise TooSlow() from None
            raise
        if self._was_cut:  # what came before the cut may parse as a whole answer
            raise TooSlow()
        return response

    def _cut(self) -> None:
        self._was_cut = True
        sock = getattr(self, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                # The plain socket's shutdown: SSLSocket.shutdown() first drops its TLS
                # layer, and the reads after it would take the raw ciphertext as headers.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        super().close()  # type: ignore[misc]


class _CutHTTPConnection(_CutOff, HTTPConnection):
    pass


class _CutHTTPSConnection(_CutOff, HTTPSConnection):
    pass


class Pool(HTTPConnectionPool):
    ConnectionCls = _CutHTTPConnection


class TLSPool(HTTPSConnectionPool):
    ConnectionCls = _CutHTTPSConnection


def within[T](seconds: float, work: Callable[[], T]) -> T:
    """`work()`'s answer, or TooSlow when it has none within `seconds`. A name lookup
    cannot be interrupted: it runs on in a daemon thread and its answer is dropped."""
    answer: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            answer.append((True, work()))
        except BaseException as exc:  # handed to the caller, whatever it is
            answer.append((False, exc))

    thread = threading.Thread(target=run, daemon=True, name="webhook-lookup")
    thread.start()
    thread.join(seconds)
    if not answer:
        raise TooSlow()
    done, value = answer[0]
    if not done:
        raise value
    return value  # type: ignore[no-any-return]

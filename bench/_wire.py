"""What our upstream clients really send, counted and timed at the transport (bench only).

`meter(pool)` mounts a `WireMeter` on the shared `requests.Session` of one of the
clients' `core.client.SessionPool`s (PipedreamClient.pool, BitBadgesClient.pool).
It is an `HTTPAdapter` like the one the pool mounts, with the same pool sizes: every
request still goes over a real socket to a real server; the adapter only notes, for each
one, the method, the path and how long it took from the first byte sent to the last byte
of the body read (so the wait includes the body, which `requests` would otherwise read
after the adapter returns). Nothing is answered here: this counts, it does not mock.

`Recorder.thread_upstream()` is the upstream time the calling thread has spent so far:
read it before and after a request to learn the upstream part of that request.
`meter_sleep(recorder)` does the same for `time.sleep` (a poll interval is a wait too); it
must run before the clients are imported, since they bind `time.sleep` as a default.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from requests.adapters import HTTPAdapter


@dataclass(frozen=True)
class Call:
    kind: str  # "http" or "sleep"
    method: str
    path: str
    status: int | None
    start: float  # time.time(): comparable across processes
    seconds: float


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def add(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
        attribute = "upstream" if call.kind == "http" else "slept"
        setattr(self._local, attribute, getattr(self._local, attribute, 0.0) + call.seconds)

    def thread_upstream(self) -> float:
        return getattr(self._local, "upstream", 0.0)

    def thread_slept(self) -> float:
        return getattr(self._local, "slept", 0.0)

    def http(self) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.kind == "http"]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()


class WireMeter(HTTPAdapter):
    def __init__(self, recorder: Recorder, **kwargs) -> None:
        self.recorder = recorder
        super().__init__(**kwargs)

    def send(self, request, **kwargs):
        wall, started = time.time(), time.perf_counter()
        status = None
        try:
            response = super().send(request, **kwargs)
            status = response.status_code
            response.content  # noqa: B018 - read the body inside the timed window
            return response
        finally:
            self.recorder.add(
                Call(
                    "http",
                    request.method,
                    request.path_url.split("?")[0],
                    status,
                    wall,
                    time.perf_counter() - started,
                )
            )


def meter(pool, recorder: Recorder) -> None:
    """Mount a WireMeter on the pool's session (the sizes SessionPool.get uses)."""
    session = pool.get()
    adapter = WireMeter(recorder, pool_connections=4, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


def meter_sleep(recorder: Recorder) -> None:
    """Count time.sleep as a wait (call before importing the upstream clients)."""
    real_sleep = time.sleep

    def sleep(seconds):
        wall, started = time.time(), time.perf_counter()
        try:
            real_sleep(seconds)
        finally:
            recorder.add(Call("sleep", "", "", None, wall, time.perf_counter() - started))

    time.sleep = sleep

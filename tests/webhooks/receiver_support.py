"""Webhook receivers on 127.0.0.1 for the tests of the webhooks the site sends (the
host site's, tests/webhooks/; the operators' alerts, tests/operations/).

- `Receiver(statuses)`: answers each POST with the next status given (then 200; a
  (status, {header: value}) pair adds headers) and keeps each request's headers and
  body; `wait_for(n)` polls until n have come. `hold()` makes it keep each answer back
  until `release()` (a try in flight, for as long as a test needs); `arrived` is set
  when a request has come.
  `receivers()` is the body of a fixture making them.
- `dripping()`: a receiver that sends a status line, then a header byte every 50 ms for
  as long as the caller listens (each read gets a byte: no read timeout ever fires).
- `flooding(kind)`: answers 200 and then an endless body ("body") or endless headers
  ("headers"), to show the sender reads neither.
"""

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, statuses=(), path="/hooks/connect"):
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, bytes]] = []
        self.arrived = threading.Event()
        self._answer = threading.Event()
        self._answer.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((dict(self.headers.items()), body))
                receiver.arrived.set()
                receiver._answer.wait(10)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                status, headers = status if isinstance(status, tuple) else (status, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        # A short poll: shutdown() waits for the loop's next look (0.5 s by default).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def wait_for(self, count: int, seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def hold(self) -> None:
        self._answer.clear()

    def release(self) -> None:
        self._answer.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


def receivers():
    """For a fixture: yields make(statuses) -> a new Receiver; closes them all after."""
    made: list[Receiver] = []

    def make(statuses=()):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for each in made:
        each.close()


class _Raw:
    """A one-connection server that reads the request, then runs `answer(conn, stop)`."""

    def __init__(self, answer):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()

        def serve():
            with contextlib.suppress(OSError):
                conn, _ = self.listener.accept()
                with conn:
                    conn.recv(65536)
                    with contextlib.suppress(OSError):  # the caller hung up: as wanted
                        answer(conn, self.stop)

        threading.Thread(target=serve, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks/connect"

    def close(self):
        self.stop.set()
        self.listener.close()


def _drip(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not stop.is_set():
        conn.sendall(b"a")
        time.sleep(0.05)


def _endless_body(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n")
    chunk = b"x" * 65536
    while not stop.is_set():
        conn.sendall(chunk)


def _endless_headers(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    n = 0
    while not stop.is_set():
        conn.sendall(b"X-Header-%d: %s\r\n" % (n, b"y" * 1000))
        n += 1


def dripping() -> _Raw:
    return _Raw(_drip)


def flooding(kind: str) -> _Raw:
    return _Raw(_endless_body if kind == "body" else _endless_headers)

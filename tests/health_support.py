"""Upstreams for /healthz's reachability probe: one that answers, one nobody listens on.

Outside a live server the test settings' upstream URLs (the sandbox under PUBLIC_URL,
http://127.0.0.1:8000) point where nothing listens, and /healthz rightly says so. Tests
that want a healthy site point both at `answering_upstreams()`, a real HTTP server.
"""

import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Answering(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.server.requests.append((self.command, self.path))  # type: ignore[attr-defined]
        self.send_response(404)  # any answer at all means "reachable"
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = _answer

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@contextlib.contextmanager
def answering_server(port: int = 0) -> Iterator[tuple[str, list]]:
    """(base URL, the requests it got as (method, path)) of an HTTP server on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Answering)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def answering_upstreams(settings) -> Iterator[list]:
    """Pipedream's and BitBadges' API URLs on an answering server; its requests."""
    with answering_server() as (url, requests):
        settings.PIPEDREAM_API_URL = f"{url}/pipedream"
        settings.BITBADGES_API_URL = f"{url}/bitbadges"
        yield requests


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 at a port that was free a moment ago (so refused now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"

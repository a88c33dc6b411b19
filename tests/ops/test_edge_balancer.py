"""nginx behind a load balancer (README, "Running it at scale"): with
EDGE_BALANCER_ADDRESSES it answers only the balancer (and loopback's /healthz), and the
client's address and scheme gunicorn receives are the balancer's word, never a client's.

nginx runs from deploy/nginx.conf as deploy/edge.py renders it from the environment; in
gunicorn's place, a server of the test's own answers each request with the headers it
received (what gunicorn would read). The balancer is 127.0.0.3, a client reaching nginx
directly 127.0.0.2: Linux answers all of 127.0.0.0/8 on loopback.
"""

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from deploy import edge
from tests.ops.edge_support import ROOT, free_port

pytestmark = pytest.mark.own_process

BALANCER = "127.0.0.3"
DIRECT = "127.0.0.2"


class _Echo(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({name.lower(): value for name, value in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


class _Nginx:
    def __init__(self, tmp, upstream: int, environ: dict[str, str]):
        self.port = free_port()
        conf = edge.render_nginx(
            tmp / f"nginx-{self.port}", listen=f"127.0.0.1:{self.port}",
            upstream=f"127.0.0.1:{upstream}", **edge.balancer_settings(environ),
        )  # fmt: skip
        self.errors = (tmp / f"nginx-{self.port}.log").open("w")
        self.process = edge.start_nginx(conf, self.errors, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not start")

    def request(self, path: str, source: str, headers: dict[str, str] | None = None):
        """(status, headers gunicorn would have received or None) of one GET from `source`."""
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        with socket.create_connection(
            ("127.0.0.1", self.port), timeout=5, source_address=(source, 0)
        ) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        upstream = json.loads(body) if b"application/json" in head else None
        return status, upstream

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        self.errors.close()


@pytest.fixture(scope="module")
def edges(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("balancer")
    tmp.chmod(0o755)  # nginx started by root writes as nobody
    echo = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    port = echo.server_address[1]
    started = {}
    try:
        started["forwarded"] = _Nginx(
            tmp, port, {"TRUSTED_PROXY_COUNT": "2", "EDGE_BALANCER_ADDRESSES": f"{BALANCER}/32"}
        )
        started["header"] = _Nginx(
            tmp, port,
            {"TRUSTED_CLIENT_IP_HEADER": "X-Real-IP", "EDGE_BALANCER_ADDRESSES": BALANCER},
        )  # fmt: skip
        started["open"] = _Nginx(tmp, port, {"TRUSTED_PROXY_COUNT": "1"})
        yield started
    finally:
        for running in started.values():
            running.stop()
        echo.shutdown()


def test_only_the_balancer_is_answered(edges):
    for name in ("forwarded", "header"):
        nginx = edges[name]
        assert nginx.request("/claims/", BALANCER)[0] == 200, name
        # A client that reaches nginx around the balancer gets nothing, headers or not.
        refused = nginx.request("/claims/", DIRECT, {"X-Forwarded-For": "203.0.113.9"})
        assert refused == (403, None), name
        assert nginx.request("/healthz", DIRECT) == (403, None), name
        assert nginx.request("/claims/", "127.0.0.1")[0] == 403, name
        # A supervisor on the host itself may ask /healthz.
        assert nginx.request("/healthz", "127.0.0.1")[0] == 200, name
    # Without a balancer, nginx is the edge and answers everyone.
    assert edges["open"].request("/claims/", DIRECT)[0] == 200


def test_the_client_address_is_the_one_the_balancer_appended(edges):
    # A client sent "198.51.100.66" itself; the balancer appended what it saw.
    status, upstream = edges["forwarded"].request(
        "/", BALANCER, {"X-Forwarded-For": "198.51.100.66, 203.0.113.9"}
    )

    assert status == 200
    entries = [entry.strip() for entry in upstream["x-forwarded-for"].split(",")]
    # TRUSTED_PROXY_COUNT=2: the second entry from the right.
    assert entries[-2] == "203.0.113.9", entries
    assert entries[-1] == BALANCER, entries


def test_the_client_address_header_is_the_balancers(edges):
    header = edges["header"]
    status, upstream = header.request("/", BALANCER, {"X-Real-IP": "203.0.113.9"})
    assert status == 200
    assert upstream["x-real-ip"] == "203.0.113.9"
    # The balancer sent none (or no address): nginx says the peer's own address.
    assert header.request("/", BALANCER)[1]["x-real-ip"] == BALANCER
    assert header.request("/", BALANCER, {"X-Real-IP": "not-an-ip"})[1]["x-real-ip"] == BALANCER


def test_the_balancers_scheme_is_passed_on(edges):
    """Behind a TLS-terminating balancer, https (else SECURE_SSL_REDIRECT loops)."""
    for name in ("forwarded", "header"):
        nginx = edges[name]
        https = nginx.request("/", BALANCER, {"X-Forwarded-Proto": "https"})[1]
        assert https["x-forwarded-proto"] == "https", name
        odd = nginx.request("/", BALANCER, {"X-Forwarded-Proto": "gopher"})[1]
        assert odd["x-forwarded-proto"] == "http", name
    # nginx as the edge says what it saw itself, whatever a client claims.
    alone = edges["open"].request("/", DIRECT, {"X-Forwarded-Proto": "https"})[1]
    assert alone["x-forwarded-proto"] == "http"


def test_each_client_behind_the_balancer_has_its_own_connection_limit(edges):
    nginx = edges["forwarded"]
    held = []
    try:
        for _ in range(34):
            sock = socket.create_connection(
                ("127.0.0.1", nginx.port), timeout=5, source_address=(BALANCER, 0)
            )
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.9\r\n"
                b"Content-Length: 100000\r\n\r\nx"
            )
            held.append(sock)
        time.sleep(0.5)
        other = nginx.request("/", BALANCER, {"X-Forwarded-For": "203.0.113.10"})[0]
        same = nginx.request("/", BALANCER, {"X-Forwarded-For": "203.0.113.9"})[0]
    finally:
        for sock in held:
            sock.close()

    assert other == 200
    assert same == 429


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        ({"TRUSTED_PROXY_COUNT": "2"}, "EDGE_BALANCER_ADDRESSES is unset"),
        ({"TRUSTED_CLIENT_IP_HEADER": "X-Real-IP"}, "EDGE_BALANCER_ADDRESSES is unset"),
        ({"EDGE_BALANCER_ADDRESSES": "10.0.0.0/8"}, "set TRUSTED_PROXY_COUNT=2"),
        (
            {"TRUSTED_PROXY_COUNT": "2", "EDGE_BALANCER_ADDRESSES": "10.0.0.0/8; deny all"},
            "must list addresses or networks",
        ),
        (
            {"TRUSTED_PROXY_COUNT": "3", "EDGE_BALANCER_ADDRESSES": "10.0.0.0/8"},
            "two or more proxies before nginx",
        ),
    ],
    ids=[
        "count-without-addresses",
        "header-without-addresses",
        "addresses-alone",
        "garbage",
        "two-proxies-before-nginx",
    ],
)
def test_the_edge_refuses_a_balancer_it_cannot_tell_apart(environ, said):
    env = {
        "PATH": "/usr/bin:/bin",
        "PORT": str(free_port()),
        "HOST": "127.0.0.1",
        "ENV_FILE": "",
        **environ,
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "edge.py")],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=20,
    )  # fmt: skip

    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr

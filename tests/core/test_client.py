"""core.client.BaseApiClient on its own: the retry loop's decisions, Retry-After,
redirects, redaction and logging, against a real HTTP server on 127.0.0.1.

A toy client uses the base's defaults; only `final_answer` and `secrets` are its own.
"""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from core.client import REDACTED, BaseApiClient, SessionPool, UpstreamError

SECRET = "toy-secret-never-shown-4242"
HANG_UP = "hang up"  # read the request, then close the connection without answering


@dataclass
class Server:
    """Answers each path from a script, in order; the last answer repeats."""

    url: str = ""
    scripts: dict[str, list[Any]] = field(default_factory=dict)
    received: list[tuple[str, str]] = field(default_factory=list)

    def script(self, path: str, *answers: Any) -> None:
        self.scripts[path] = list(answers)

    def hits(self, path: str) -> int:
        return sum(1 for _, seen in self.received if seen.split("?")[0] == path)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            server.received.append((self.command, self.path))
            answers = server.scripts.get(self.path.split("?")[0]) or [(404, {}, {})]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if answer == HANG_UP:
                self.close_connection = True
                return
            status, headers, body = answer
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


class ToyClient(BaseApiClient):
    service = "Toy"
    logger = logging.getLogger("tests.core.toy")
    pool = SessionPool()
    secret_keys = frozenset({"token"})
    max_retry_after = 30.0

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        self.sleeps: list[float] = []
        super().__init__(
            base_url=base_url,
            max_retries=2,
            timeout=2.0,
            session=requests.Session(),
            sleep=self.sleeps.append,
            **kwargs,
        )

    def secrets(self) -> tuple[str, ...]:
        return (SECRET,)

    def final_answer(self, response: requests.Response) -> bool:
        return "final" in response.text


@pytest.fixture
def client(server: Server) -> ToyClient:
    return ToyClient(server.url)


def _send(client: ToyClient, method: str, path: str, **kwargs: Any) -> requests.Response:
    return client.send(method, client.api_url + path, operation="toy call", **kwargs)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- 5xx and 408 ---------------------------------------------------------------------


def test_an_idempotent_call_is_retried_on_a_5xx(client, server):
    server.script("/r", (503, {}, {"error": "busy"}), (200, {}, {"ok": True}))
    response = _send(client, "GET", "/r", idempotent=True)
    assert response.status_code == 200
    assert server.hits("/r") == 2
    assert len(client.sleeps) == 1


def test_an_idempotent_call_is_retried_on_a_408(client, server):
    server.script("/r", (408, {}, {}), (200, {}, {"ok": True}))
    assert _send(client, "PUT", "/r", idempotent=True).status_code == 200
    assert server.hits("/r") == 2


def test_a_call_that_is_not_idempotent_is_not_retried_on_a_5xx(client, server):
    server.script("/r", (502, {}, {"error": "bad gateway"}), (200, {}, {}))
    with pytest.raises(UpstreamError) as caught:
        _send(client, "POST", "/r", idempotent=False)
    assert server.hits("/r") == 1
    assert client.sleeps == []
    assert caught.value.status == 502
    assert caught.value.transient is True
    assert caught.value.outcome_unknown is True  # it may have been acted on


def test_the_retries_stop_after_max_retries(client, server):
    server.script("/r", (500, {}, {}))
    with pytest.raises(UpstreamError) as caught:
        _send(client, "GET", "/r", idempotent=True)
    assert server.hits("/r") == 3  # max_retries=2: three tries in all
    assert len(client.sleeps) == 2
    assert caught.value.outcome_unknown is False  # a read acts on nothing


def test_a_5xx_the_client_calls_final_is_not_retried(client, server):
    server.script("/r", (500, {}, {"error": "final: the claim is closed"}), (200, {}, {}))
    with pytest.raises(UpstreamError):
        _send(client, "GET", "/r", idempotent=True)
    assert server.hits("/r") == 1


def test_a_4xx_is_never_retried(client, server):
    server.script("/r", (404, {}, {"error": "none"}), (200, {}, {}))
    with pytest.raises(UpstreamError) as caught:
        _send(client, "GET", "/r", idempotent=True)
    assert server.hits("/r") == 1
    assert caught.value.transient is False
    assert caught.value.outcome_unknown is False


def test_raise_for_status_false_returns_the_error_answer(client, server):
    server.script("/r", (404, {}, {"error": "none"}))
    assert _send(client, "GET", "/r", idempotent=True, raise_for_status=False).status_code == 404


# --- 429 and Retry-After -------------------------------------------------------------


def test_429_is_retried_even_when_not_idempotent_after_retry_after_seconds(client, server):
    server.script("/r", (429, {"Retry-After": "2"}, {}), (201, {}, {"made": True}))
    response = _send(client, "POST", "/r", idempotent=False)
    assert response.status_code == 201
    assert server.hits("/r") == 2
    assert client.sleeps == [2.0]


def test_retry_after_as_an_http_date_is_honoured(client, server):
    when = email.utils.formatdate(time.time() + 6, usegmt=True)
    server.script("/r", (429, {"Retry-After": when}, {}), (200, {}, {}))
    assert _send(client, "GET", "/r", idempotent=True).status_code == 200
    [slept] = client.sleeps
    assert 3.0 < slept <= 6.0


def test_429_without_retry_after_backs_off(client, server):
    server.script("/r", (429, {}, {}), (200, {}, {}))
    assert _send(client, "GET", "/r", idempotent=True).status_code == 200
    [slept] = client.sleeps
    assert 0 < slept <= client.backoff_cap


def test_a_retry_after_over_the_cap_is_not_slept_through(client, server):
    server.script("/r", (429, {"Retry-After": "3600"}, {"error": "slow down"}), (200, {}, {}))
    with pytest.raises(UpstreamError) as caught:
        _send(client, "GET", "/r", idempotent=True)
    assert server.hits("/r") == 1
    assert client.sleeps == []
    assert caught.value.status == 429
    assert caught.value.transient is True
    assert caught.value.outcome_unknown is False  # a throttled call was not processed


# --- Redirects -----------------------------------------------------------------------


def test_a_redirect_is_returned_not_followed(client, server):
    server.script("/r", (302, {"Location": f"{server.url}/elsewhere"}, {}))
    server.script("/elsewhere", (200, {}, {}))
    response = _send(client, "POST", "/r", idempotent=False, json={"a": 1})
    assert response.status_code == 302
    assert server.hits("/elsewhere") == 0


# --- Transport failures --------------------------------------------------------------


def test_a_refused_connection_is_retried_even_for_a_post_and_says_nothing_was_sent():
    client = ToyClient(f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(UpstreamError) as caught:
        _send(client, "POST", "/r", idempotent=False)
    assert len(client.sleeps) == 2  # nothing reached a server: safe to send again
    assert caught.value.transient is True
    assert caught.value.outcome_unknown is False
    assert "after 3 attempts" in str(caught.value)
    assert "could not reach Toy at 127.0.0.1" in str(caught.value)


def test_a_post_that_was_sent_and_got_no_answer_is_not_retried(client, server):
    server.script("/r", HANG_UP, (200, {}, {}))
    with pytest.raises(UpstreamError) as caught:
        _send(client, "POST", "/r", idempotent=False)
    assert server.hits("/r") == 1
    assert caught.value.outcome_unknown is True  # it may have been acted on


def test_an_idempotent_call_that_got_no_answer_is_retried(client, server):
    server.script("/r", HANG_UP, (200, {}, {"ok": True}))
    assert _send(client, "GET", "/r", idempotent=True).status_code == 200
    assert server.hits("/r") == 2


# --- Redaction and logging -----------------------------------------------------------


def test_secrets_stay_out_of_the_error_and_the_log(client, server, caplog):
    caplog.set_level(logging.DEBUG, logger="tests.core.toy")
    path = f"/users/{SECRET}/things"
    server.script(path, (500, {}, {"error": f"no, {SECRET}", "token": "tok-123"}))
    with pytest.raises(UpstreamError) as caught:
        client.send(
            "POST",
            f"{server.url}{path}",
            operation="toy call",
            idempotent=False,
            params={"q": "private-query-value"},
        )
    exc = caught.value
    assert SECRET not in str(exc)
    assert SECRET not in json.dumps(exc.body)
    assert exc.body["token"] == REDACTED
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert SECRET not in text and "tok-123" not in text
    assert "private-query-value" not in text  # the query string is never logged
    assert f"127.0.0.1:{server.url.rsplit(':', 1)[1]}/users/{REDACTED}/things" in text


def test_a_calls_own_secret_is_redacted_too(client, server):
    server.script("/r", (400, {}, {"error": "bad password hunter2-xyz"}))
    with pytest.raises(UpstreamError) as caught:
        _send(client, "POST", "/r", idempotent=False, secrets=("hunter2-xyz",))
    assert "hunter2-xyz" not in str(caught.value)
    assert "hunter2-xyz" not in json.dumps(caught.value.body)


def test_a_failure_is_logged_once_with_its_context(client, server, caplog):
    caplog.set_level(logging.INFO, logger="tests.core.toy")
    server.script("/r", (503, {}, {}))
    with pytest.raises(UpstreamError):
        _send(client, "POST", "/r", idempotent=False)
    [failure] = [record for record in caplog.records if hasattr(record, "upstream")]
    assert failure.levelno == logging.WARNING
    assert (failure.upstream, failure.operation, failure.status) == ("Toy", "toy call", 503)
    assert (failure.error, failure.outcome_unknown) == ("UpstreamError", True)


def test_a_missing_record_is_logged_at_info(client, server, caplog):
    caplog.set_level(logging.INFO, logger="tests.core.toy")
    server.script("/r", (404, {}, {}))
    with pytest.raises(UpstreamError):
        _send(client, "GET", "/r", idempotent=True)
    [failure] = [record for record in caplog.records if hasattr(record, "upstream")]
    assert failure.levelno == logging.INFO


# --- The error base ------------------------------------------------------------------


def test_transient_and_outcome_unknown_have_class_defaults_an_instance_can_override():
    class Down(UpstreamError):
        transient = True

    assert Down().transient is True and Down().outcome_unknown is False
    assert Down(transient=False).transient is False
    assert Down(outcome_unknown=True).outcome_unknown is True
    assert str(Down("it broke.", operation="read", status=500, hint="Later")) == (
        "read: it broke (HTTP 500). Later"
    )

"""Connection webhooks over real HTTP: sent from a thread once the page has answered."""

import threading
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections

from sandbox.pipedream import webhooks
from sandbox.pipedream.models import Account, WebhookDelivery
from tests.sandbox import urls_support as test_urls
from tests.sandbox.contract_support import CREDENTIALS, LivePipedream

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.sandbox.urls_support"),
]


@pytest.fixture(autouse=True)
def _received():
    test_urls.reset()
    yield test_urls.RECEIVED
    webhooks.wait_for_deliveries()
    test_urls.reset()


def _mint(base_url: str, **fields) -> dict:
    live = LivePipedream(base_url)
    live.token = live.request("POST", "/v1/oauth/token", json=CREDENTIALS).json()["access_token"]
    response = live.request(
        "POST", "/v1/connect/{pid}/tokens", json={"external_user_id": "user-1", **fields}
    )
    assert response.status_code == 200
    return response.json()


def test_webhook_arrives_after_the_page_answers(live_server, _received):
    hook = f"{live_server.url}/test-hooks/?s=session-1"
    body = _mint(live_server.url, webhook_uri=hook)

    page = requests.post(
        f"{body['connect_link_url']}&app=github",
        data={"action": "allow", "name": "octo"},
        allow_redirects=False,
        timeout=10,
    )
    assert page.status_code == 302

    [delivery] = webhooks.wait_for_deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    [received] = _received
    assert received["path"] == "/test-hooks/?s=session-1"
    assert received["content_type"] == "application/json"
    assert received["body"]["event"] == "CONNECTION_SUCCESS"
    assert received["body"]["connect_token"] == body["token"]
    assert received["body"]["account"]["id"] == Account.objects.get().account_id


def test_a_refused_delivery_is_retried(live_server, _received):
    test_urls.FAILURES["remaining"] = 1
    body = _mint(live_server.url, webhook_uri=f"{live_server.url}/test-hooks/")

    requests.post(f"{body['connect_link_url']}&app=github", data={"action": "deny"}, timeout=10)

    [delivery] = webhooks.wait_for_deliveries()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert [r["body"]["event"] for r in _received] == ["CONNECTION_ERROR"]


def test_an_unreachable_receiver_fails_after_retries(live_server, settings):
    settings.SANDBOX_WEBHOOK_TIMEOUT = 1
    body = _mint(live_server.url, webhook_uri="http://127.0.0.1:9/nobody-listens")

    requests.post(f"{body['connect_link_url']}&app=github", data={"action": "allow"}, timeout=10)

    [delivery] = webhooks.wait_for_deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, None)
    assert "ConnectionError" in delivery.last_error


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def test_a_single_worker_server_does_not_wait_on_itself(_received):
    """The webhook points back at the same one-request-at-a-time server: sent from the
    page's own request, it would deadlock until it timed out."""
    server = make_server("127.0.0.1", 0, WSGIHandler(), handler_class=_QuietHandler)

    def serve():
        try:
            server.serve_forever()
        finally:
            connections.close_all()  # this thread's own database connection

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        body = _mint(base, webhook_uri=f"{base}/test-hooks/")
        query = urlencode({"token": body["token"], "app": "github", "connectLink": "true"})

        page = requests.post(
            f"{base}/sandbox/pipedream/_static/connect.html?{query}",
            data={"action": "allow"},
            allow_redirects=False,
            timeout=3,
        )

        assert page.status_code == 302
        [delivery] = webhooks.wait_for_deliveries(timeout=10)
        assert delivery.status == "delivered" and delivery.attempts == 1
        assert [r["body"]["event"] for r in _received] == ["CONNECTION_SUCCESS"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert WebhookDelivery.objects.count() == 1

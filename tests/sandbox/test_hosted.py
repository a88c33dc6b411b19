"""The hosted Connect page: Allow and Deny in both modes, webhooks, reconnect, bad tokens."""

import datetime
import json
import re
from urllib.parse import urlencode

import pytest
import responses
import time_machine
from django.test import Client

from sandbox.pipedream import services, webhooks
from sandbox.pipedream.models import Account, ConnectToken, WebhookDelivery
from tests.sandbox.contract_support import validate_schema

pytestmark = pytest.mark.django_db

HOOK = "https://site.example/connect/webhook/?s=signed-session"
ORIGIN = "https://site.example"


def page_url(ctok: str, app: str = "github", *, link=False, **extra) -> str:
    params = {"token": ctok, "app": app, **extra}
    if link:
        params["connectLink"] = "true"
    return f"/sandbox/pipedream/_static/connect.html?{urlencode(params)}"


def pd_data(response) -> dict:
    match = re.search(
        rb'<script id="pd-data" type="application/json">(.*?)</script>', response.content
    )
    assert match, "the page carries no pd-data"
    return json.loads(match.group(1))


def deliver_captured(status: int = 200) -> list[dict]:
    """Run the pending webhooks against a mocked receiver; the bodies it got."""
    with responses.RequestsMock() as mock:
        mock.post(re.compile(r"https://site\.example/.*"), status=status)
        webhooks.wait_for_deliveries()
        return [json.loads(call.request.body) for call in mock.calls]


@pytest.fixture
def csrf_client():
    """A browser that enforces CSRF like a real one: the page must not need a cookie."""
    return Client(enforce_csrf_checks=True)


def test_the_page_shows_app_user_name_and_buttons(client, mint):
    ctok = mint("user-1", allowed_origins=[ORIGIN], webhook_uri=HOOK)["token"]

    response = client.get(page_url(ctok))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Connect GitHub" in html
    assert 'src="http://testserver/static/sandbox/logos/github.svg"' in html
    assert "<code>user-1</code>" in html
    assert 'name="name" value="user-1&#x27;s GitHub"' in html
    assert 'value="allow"' in html and ">Allow<" in html
    assert 'value="deny"' in html and ">Deny<" in html
    # Other sites embed it: framable by the token's origins, its script under the nonce.
    assert "X-Frame-Options" not in response.headers
    csp = response["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {ORIGIN}" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'src="/static/sandbox/connect.js" nonce="{nonce}"' in html


def test_allow_in_an_iframe_posts_success_then_close(csrf_client, mint):
    ctok = mint("user-1", allowed_origins=[ORIGIN, "http://localhost:8000"], webhook_uri=HOOK)[
        "token"
    ]

    response = csrf_client.post(page_url(ctok), {"action": "allow", "name": "octo-pro"})

    assert response.status_code == 200
    account = Account.objects.get()
    assert account.name == "octo-pro"
    assert account.user.external_id == "user-1"
    assert account.profile["public_repos"] >= 25
    assert pd_data(response) == {
        "origins": [ORIGIN, "http://localhost:8000"],
        "messages": [
            {"type": "success", "authProvisionId": account.account_id},
            {"type": "close"},
        ],
    }
    token = ConnectToken.objects.get()
    assert token.used_at is not None and token.account == account


def test_the_empty_error_quirk_creates_the_account_but_posts_an_empty_error(
    csrf_client, mint, settings
):
    # PipedreamHQ/pipedream-sdk-typescript#280: the account exists, the page says error "".
    settings.SANDBOX_PIPEDREAM_CONNECT_QUIRK = "empty-error"
    ctok = mint("user-1", allowed_origins=[ORIGIN], webhook_uri=HOOK)["token"]

    response = csrf_client.post(page_url(ctok), {"action": "allow", "name": "octo-pro"})

    assert response.status_code == 200
    account = Account.objects.get()
    assert account.name == "octo-pro"
    assert pd_data(response) == {"origins": [ORIGIN], "messages": [{"type": "error", "error": ""}]}
    assert "Connection failed. Please retry or contact support" in response.content.decode()
    [payload] = deliver_captured()
    assert payload["event"] == "CONNECTION_SUCCESS"
    assert payload["account"]["id"] == account.account_id


def test_the_quirk_leaves_connect_link_and_deny_alone(csrf_client, mint, settings):
    settings.SANDBOX_PIPEDREAM_CONNECT_QUIRK = "empty-error"
    ctok = mint("user-1", allowed_origins=[ORIGIN], success_redirect_uri=f"{ORIGIN}/ok")["token"]
    link = csrf_client.post(page_url(ctok, link=True), {"action": "allow", "name": "octo"})
    assert link.status_code == 302 and link["Location"] == f"{ORIGIN}/ok"
    ctok = mint("user-2", allowed_origins=[ORIGIN])["token"]
    denied = csrf_client.post(page_url(ctok), {"action": "deny"})
    assert pd_data(denied)["messages"][0] == {
        "type": "error",
        "error": "The user denied the connection request.",
    }


def test_allow_sends_connection_success(client, mint):
    ctok = mint("user-1", allowed_origins=[ORIGIN], webhook_uri=HOOK)["token"]
    client.post(page_url(ctok), {"action": "allow", "name": "octo"})
    # The test's transaction is open when the response closes: the delivery waits.
    assert WebhookDelivery.objects.get().status == "pending"

    [payload] = deliver_captured()

    account = Account.objects.get()
    assert set(payload) == {
        "event",
        "connect_token",
        "environment",
        "connect_session_id",
        "account",
    }
    assert payload["event"] == "CONNECTION_SUCCESS"
    assert payload["connect_token"] == ctok
    assert payload["environment"] == "development"
    assert isinstance(payload["connect_session_id"], int)
    assert payload["connect_session_id"] > 2**64  # a 128-bit number, as the real ones
    assert payload["account"]["id"] == account.account_id
    assert payload["account"]["external_id"] == "user-1"
    assert payload["account"]["app"]["name_slug"] == "github"
    assert "credentials" not in payload["account"]
    validate_schema("Account", payload["account"])
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_deny_in_an_iframe_posts_error_then_close(client, mint):
    ctok = mint("user-1", allowed_origins=[ORIGIN], webhook_uri=HOOK)["token"]

    response = client.post(page_url(ctok), {"action": "deny"})

    assert response.status_code == 200
    assert pd_data(response)["messages"] == [
        {"type": "error", "error": "The user denied the connection request."},
        {"type": "close"},
    ]
    assert not Account.objects.exists()
    assert ConnectToken.objects.get().used_at is None
    [payload] = deliver_captured()
    assert payload == {
        "event": "CONNECTION_ERROR",
        "connect_token": ctok,
        "environment": "development",
        "connect_session_id": payload["connect_session_id"],
        "error": "The user denied the connection request.",
    }


def test_without_allowed_origins_nothing_is_posted_and_the_page_says_so(client, mint):
    ctok = mint("user-1")["token"]

    shown = client.get(page_url(ctok))
    answered = client.post(page_url(ctok), {"action": "allow"})

    assert "no <code>allowed_origins</code>" in shown.content.decode()
    assert pd_data(answered)["origins"] == []
    assert "nothing was posted" in answered.content.decode()
    assert "frame-ancestors 'self';" in answered["Content-Security-Policy"]


def test_connect_link_allow_redirects_to_success_uri(csrf_client, mint):
    body = mint(
        "user-1",
        success_redirect_uri="https://site.example/connect/done/?s=1",
        error_redirect_uri="https://site.example/connect/done/?s=0",
        webhook_uri=HOOK,
    )

    shown = csrf_client.get(f"{body['connect_link_url']}&app=slack")
    response = csrf_client.post(f"{body['connect_link_url']}&app=slack", {"action": "allow"})

    assert shown.status_code == 200
    assert "data-pd-close" not in shown.content.decode()  # a page of its own, no close button
    # The redirect leaves the site after a form POST: form-action must allow it.
    assert "form-action 'self' https://site.example" in shown["Content-Security-Policy"]
    assert response.status_code == 302
    assert response["Location"] == "https://site.example/connect/done/?s=1"
    assert Account.objects.get().app_slug == "slack"
    assert [p["event"] for p in deliver_captured()] == ["CONNECTION_SUCCESS"]


def test_connect_link_deny_redirects_to_error_uri(client, mint):
    body = mint("user-1", error_redirect_uri="https://site.example/connect/done/?s=0")

    response = client.post(f"{body['connect_link_url']}&app=github", {"action": "deny"})

    assert response.status_code == 302
    assert response["Location"] == "https://site.example/connect/done/?s=0"
    assert not Account.objects.exists()


@pytest.mark.parametrize(
    ("action", "text"), [("allow", "Account connected"), ("deny", "not connected")]
)
def test_connect_link_without_redirects_ends_on_sandbox_pages(client, mint, action, text):
    link = mint("user-1")["connect_link_url"] + "&app=github"

    response = client.post(link, {"action": action}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[0][0].startswith("/sandbox/pipedream/_static/connect-")
    assert text in response.content.decode()


def test_reconnect_in_place(client, mint, make_account):
    account = make_account("user-1", "github", "octo")
    account.healthy, account.error = False, "token expired"
    account.save()
    ctok = mint("user-1", allowed_origins=[ORIGIN], webhook_uri=HOOK)["token"]
    url = page_url(ctok, accountId=account.account_id)

    shown = client.get(url)
    response = client.post(url, {"action": "allow", "name": "octo"})

    assert "Reconnect GitHub" in shown.content.decode()
    assert response.status_code == 200
    account.refresh_from_db()
    assert (account.healthy, account.dead, account.error) == (True, False, "")
    assert Account.objects.count() == 1
    assert pd_data(response)["messages"][0] == {
        "type": "success",
        "authProvisionId": account.account_id,
    }
    [payload] = deliver_captured()
    assert payload["account"]["id"] == account.account_id
    assert payload["account"]["healthy"] is True


def test_reconnecting_someone_elses_account_is_refused(client, mint, make_account):
    theirs = make_account("user-2", "github")
    ctok = mint("user-1")["token"]

    shown = client.get(page_url(ctok, accountId=theirs.account_id))
    posted = client.post(page_url(ctok, accountId=theirs.account_id), {"action": "allow"})

    assert shown.status_code == posted.status_code == 404
    assert services.connect_token_lookup(ctok).used_at is None


def test_a_used_link_says_so(client, mint):
    ctok = mint("user-1")["token"]
    client.post(page_url(ctok), {"action": "allow"})

    shown = client.get(page_url(ctok))
    again = client.post(page_url(ctok), {"action": "allow"})

    assert shown.status_code == again.status_code == 410
    assert "already been used" in shown.content.decode()
    assert Account.objects.count() == 1


def test_an_expired_link_says_so(client, mint):
    ctok = mint("user-1", expires_in=60)["token"]
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        response = client.get(page_url(ctok))
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()


@pytest.mark.parametrize(
    ("token", "app", "status", "text"),
    [
        ("ctok_" + "0" * 32, "github", 400, "token is invalid"),
        (None, "github", 400, "token is invalid"),
        ("good", "myspace", 404, "App not found. Please check your app id."),
        ("good", None, 404, "App not found"),
    ],
    ids=["unknown-token", "no-token", "unknown-app", "no-app"],
)
def test_bad_links_get_a_clear_page(client, mint, token, app, status, text):
    params = {"token": mint("user-1")["token"] if token == "good" else token, "app": app}
    query = urlencode({k: v for k, v in params.items() if v is not None})

    response = client.get(f"/sandbox/pipedream/_static/connect.html?{query}")

    assert response.status_code == status
    assert text in response.content.decode()
    assert "<form" not in response.content.decode()


def test_key_based_app_asks_for_its_fields(client, mint):
    ctok = mint("user-1")["token"]
    url = page_url(ctok, "openai")

    missing = client.post(url, {"action": "allow", "name": "key"})
    given = client.post(url, {"action": "allow", "name": "key", "field_api_key": "sk-test"})

    assert missing.status_code == 400
    assert "API Key is required." in missing.content.decode()
    assert given.status_code == 200
    assert Account.objects.get().custom_fields == {"api_key": "sk-test"}


def test_an_unknown_answer_is_refused(client, mint):
    ctok = mint("user-1")["token"]
    assert client.post(page_url(ctok), {"action": "maybe"}).status_code == 400
    assert not Account.objects.exists()


def test_a_failing_webhook_is_retried_then_recorded_as_failed(client, mint):
    ctok = mint("user-1", webhook_uri=HOOK)["token"]
    client.post(page_url(ctok), {"action": "allow"})

    bodies = deliver_captured(status=503)

    delivery = WebhookDelivery.objects.get()
    assert len(bodies) == 3  # a first attempt and two retries
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, 503)
    assert "HTTP 503" in delivery.last_error

    webhooks.retry(delivery)
    assert len(deliver_captured(status=200)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_the_page_is_public(client, mint):
    # LoginRequiredMiddleware is on; the hosted page must not send people to /login/.
    ctok = mint("user-1")["token"]
    assert client.get(page_url(ctok)).status_code == 200

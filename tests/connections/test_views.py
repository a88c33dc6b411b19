"""The member's connections views: access, CSRF, ownership, bad input, upstream failures.

Pipedream answers through `responses` (nothing reaches the network); a failure must
come back as a sentence, never a 500, and write nothing.
"""

import json
import re

import pytest
import requests
from django.test import Client
from django.utils import timezone

from connections import services
from connections.models import App, ConnectedAccount, ConnectSession
from tests.connections.pipedream_support import (
    account_body,
    connect_token_body,
    page_body,
)
from tests.connections.views_support import ACCOUNTS_URL, API, CTOK, PROJECT, TOKENS_URL, post_json
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pipedream(settings):
    settings.PIPEDREAM_API_URL = API
    settings.PIPEDREAM_CONNECT_URL = "https://connect.pipedream.test"
    settings.PIPEDREAM_PROJECT_ID = PROJECT
    settings.PIPEDREAM_CLIENT_ID = "client-id"
    settings.PIPEDREAM_CLIENT_SECRET = "client-secret"
    settings.PIPEDREAM_MAX_RETRIES = 0
    settings.PIPEDREAM_TIMEOUT = 0.5


@pytest.fixture
def github(db):
    return App.objects.create(slug="github", name="GitHub", enabled=True, order=1)


@pytest.fixture
def slack(db):
    return App.objects.create(slug="slack", name="Slack", enabled=True, order=2)


@pytest.fixture
def bob(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(
            username="bob", email="bob@example.com", password="connect-demo"
        )
    )


@pytest.fixture
def alice_client(client, member):
    client.force_login(member)
    return client


def make_account(member, app, pipedream_id="apn_alice1", **fields):
    return ConnectedAccount.objects.create(
        member=member,
        app=app,
        pipedream_id=pipedream_id,
        name=fields.pop("name", "octocat"),
        last_synced_at=fields.pop("last_synced_at", timezone.now()),  # not stale: no re-read
        **fields,
    )


# --- Access --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/accounts/"),
        ("get", "/accounts/1/disconnect/"),
        ("post", "/accounts/1/disconnect/"),
        ("post", "/connect/token/"),
        ("post", "/connect/callback/"),
        ("get", "/connect/github/"),
    ],
)
def test_anonymous_members_are_sent_to_log_in(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize(
    "method, url, data",
    [
        ("post", "/accounts/{pk}/disconnect/", {}),
        ("post", "/connect/token/", {"app": "github"}),
        ("post", "/connect/callback/", {"session": "x", "account": "apn_1"}),
    ],
)
def test_posts_need_the_csrf_token(member, github, api, method, url, data):
    account = make_account(member, github)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(url.format(pk=account.pk), data)
    assert response.status_code == 403
    assert ConnectedAccount.objects.filter(pk=account.pk).exists()
    assert not ConnectSession.objects.exists()
    assert len(api.calls) == 0


def test_the_pages_csrf_token_lets_connect_js_post(member, github, api):
    """connect.js sends the token from the body's hx-headers as X-CSRFToken."""
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    page = client.get("/accounts/").text
    token = re.search(r'"x-csrftoken": "([^"]+)"', page).group(1)
    response = post_json(client, "/connect/token/", {"app": "github"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content


# --- The accounts page ----------------------------------------------------------------


def test_accounts_page_shows_empty_states(alice_client):
    response = alice_client.get("/accounts/")
    assert response.status_code == 200
    assert "No accounts connected yet." in response.text
    assert "No apps to connect yet." in response.text


def test_accounts_page_lists_apps_and_accounts_with_health(alice_client, member, github, slack):
    App.objects.create(slug="notion", name="Notion", enabled=False)
    make_account(member, github, "apn_ok", name="octocat")
    make_account(member, slack, "apn_bad", name="team", healthy=False, error="token_expired")
    response = alice_client.get("/accounts/")
    text = response.text
    assert 'href="/connect/github/"' in text and 'href="/connect/slack/"' in text
    assert "/connect/notion/" not in text
    assert "Healthy" in text and "Unhealthy" in text and "Reconnect it to use it again" in text
    assert "token_expired" not in text  # Pipedream's code stays with staff
    bad = ConnectedAccount.objects.get(pipedream_id="apn_bad")
    ok = ConnectedAccount.objects.get(pipedream_id="apn_ok")
    assert f'href="/connect/slack/?account={bad.pk}"' in text
    assert f"?account={ok.pk}" not in text  # a healthy account needs no Reconnect
    assert 'src="/static/js/connect.js"' in text


def test_accounts_page_shows_only_the_members_accounts(alice_client, member, bob, github):
    make_account(bob, github, "apn_bob", name="bobs-github")
    assert "bobs-github" not in alice_client.get("/accounts/").text


def test_htmx_gets_the_accounts_fragment(alice_client, member, github):
    make_account(member, github)
    response = alice_client.get("/accounts/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="accounts"')
    assert "<html" not in response.text
    assert 'id="messages"' in response.text and 'hx-swap-oob="true"' in response.text


@pytest.mark.parametrize("count", [1, 50])
def test_accounts_page_queries_do_not_grow_with_accounts(
    alice_client, member, github, slack, count, django_assert_num_queries, settings
):
    settings.PAGE_CACHE = False  # the render's own queries (the cache's: tests/perf)
    for i in range(count):
        make_account(member, github if i % 2 else slack, f"apn_{i}", healthy=bool(i % 3))
    # session, member, accounts (with apps), apps, the member's email addresses (banner),
    # the member's latest Connect session (why it failed, if it did), the brand (each test
    # starts with an empty cache; once cached, pages read it without a query), and the
    # enabled claims that may need the broken accounts (none here: claims/needs.py)
    with django_assert_num_queries(8):
        response = alice_client.get("/accounts/")
    assert response.text.count("data-pipedream-id=") == count


# --- Disconnect -------------------------------------------------------------------------


def test_disconnect_asks_first_without_javascript(alice_client, member, github):
    account = make_account(member, github)
    response = alice_client.get(f"/accounts/{account.pk}/disconnect/")
    assert response.status_code == 200
    assert "Yes, disconnect" in response.text and "<html" in response.text
    assert ConnectedAccount.objects.filter(pk=account.pk).exists()


def test_disconnect_confirm_is_inline_for_htmx(alice_client, member, github):
    account = make_account(member, github)
    response = alice_client.get(
        f"/accounts/{account.pk}/disconnect/", headers={"HX-Request": "true"}
    )
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<form class="confirm"')


def test_disconnect_deletes_upstream_then_here(alice_client, member, github, api):
    account = make_account(member, github)
    api.delete(f"{ACCOUNTS_URL}/apn_alice1", status=204)
    response = alice_client.post(f"/accounts/{account.pk}/disconnect/", follow=True)
    assert response.redirect_chain == [("/accounts/", 302)]
    assert not ConnectedAccount.objects.exists()
    assert "GitHub account octocat is disconnected." in response.text


def test_disconnect_with_htmx_answers_the_list_and_a_message(alice_client, member, github, api):
    account = make_account(member, github)
    api.delete(f"{ACCOUNTS_URL}/apn_alice1", status=204)
    response = alice_client.post(
        f"/accounts/{account.pk}/disconnect/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "No accounts connected yet." in response.text
    assert "is disconnected" in response.text


def test_disconnect_keeps_the_account_when_pipedream_fails(alice_client, member, github, api):
    account = make_account(member, github)
    api.delete(f"{ACCOUNTS_URL}/apn_alice1", status=500, json={"error": "boom"})
    response = alice_client.post(f"/accounts/{account.pk}/disconnect/", follow=True)
    assert response.status_code == 200
    assert ConnectedAccount.objects.filter(pk=account.pk).exists()
    assert "Nothing was changed" in response.text


def test_disconnect_failure_with_htmx_still_swaps_the_message(alice_client, member, github, api):
    account = make_account(member, github)
    api.delete(f"{ACCOUNTS_URL}/apn_alice1", status=503, json={"error": "down"})
    response = alice_client.post(
        f"/accounts/{account.pk}/disconnect/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "Nothing was changed" in response.text and "octocat" in response.text
    assert ConnectedAccount.objects.filter(pk=account.pk).exists()


def test_bob_cannot_see_or_disconnect_alices_account(client, member, bob, github, api):
    account = make_account(member, github)
    client.force_login(bob)
    assert client.get(f"/accounts/{account.pk}/disconnect/").status_code == 404
    assert client.post(f"/accounts/{account.pk}/disconnect/").status_code == 404
    assert client.get(f"/connect/github/?account={account.pk}").status_code == 404
    response = post_json(client, "/connect/token/", {"app": "github", "account": account.pk})
    assert response.status_code == 404
    assert response.json()["error"]
    assert ConnectedAccount.objects.filter(pk=account.pk, member=member).exists()
    assert not ConnectSession.objects.exists()
    assert len(api.calls) == 0


# --- The token endpoint ------------------------------------------------------------------


def test_token_mints_for_the_iframe(alice_client, member, github, api):
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    response = post_json(alice_client, "/connect/token/", {"app": "github"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert {"token", "expires_at", "connect_link_url", "iframe_url", "session"} <= body.keys()
    assert body["token"] == CTOK
    assert "app=github" in body["connect_link_url"]
    assert body["iframe_url"].startswith("https://connect.pipedream.test/_static/connect.html?")
    session = ConnectSession.objects.get()
    assert session.mode == ConnectSession.Mode.IFRAME and session.member == member
    assert services.connect_session_for_reference(body["session"]) == session
    sent = json.loads(api.calls[-1].request.body)
    assert sent["external_user_id"] == str(member.external_id)


def test_token_accepts_a_form_and_a_reconnect(alice_client, member, github, api):
    account = make_account(member, github, healthy=False)
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    response = alice_client.post("/connect/token/", {"app": "github", "account": account.pk})
    assert response.status_code == 200
    assert "accountId=apn_alice1" in response.json()["iframe_url"]
    assert ConnectSession.objects.get().reconnect_account == account


@pytest.mark.parametrize(
    "body, content_type, sentence",
    [
        ({}, "application/json", "missing"),
        ({"app": "nope"}, "application/json", "not available"),
        ({"app": "notion"}, "application/json", "not available"),
        ({"app": ""}, "application/json", "missing"),
        ({"app": "../etc"}, "application/json", "not available"),
        ({"app": ["github"]}, "application/json", "missing"),
        ({"app": "github", "account": "x"}, "application/json", "account"),
        ({"app": "github", "account": -3}, "application/json", "account"),
        ("{not json", "application/json", "not valid JSON"),
        ('["github"]', "application/json", "JSON object"),
        ("\xff\xfe", "application/json", "not valid JSON"),
        ({"app": "x" * 40_000}, "application/json", "too large"),
        ("app=", "application/x-www-form-urlencoded", "missing"),
    ],
)
def test_token_refuses_bad_requests_with_a_sentence(
    alice_client, github, api, body, content_type, sentence
):
    App.objects.create(slug="notion", name="Notion", enabled=False)
    data = body if isinstance(body, str) else json.dumps(body)
    response = alice_client.post("/connect/token/", data=data, content_type=content_type)
    assert response.status_code == 400, response.content
    assert sentence in response.json()["error"]
    assert not ConnectSession.objects.exists()
    assert len(api.calls) == 0


def test_token_refuses_a_huge_body(alice_client, github):
    response = alice_client.post(
        "/connect/token/", data="a" * (3 * 1024 * 1024), content_type="application/json"
    )
    assert response.status_code == 400
    assert "too large" in response.json()["error"]


def test_token_refuses_an_account_of_another_app(alice_client, member, github, slack, api):
    account = make_account(member, slack)
    response = post_json(alice_client, "/connect/token/", {"app": "github", "account": account.pk})
    assert response.status_code == 400
    assert "not a GitHub account" in response.json()["error"]


def test_token_only_answers_post(alice_client):
    assert alice_client.get("/connect/token/").status_code == 405


@pytest.mark.parametrize(
    "reply, status",
    [
        ({"status": 500, "json": {"error": "boom"}}, 503),
        ({"status": 503, "json": {"error": "down"}}, 503),
        ({"status": 429, "json": {"error": "Throttled"}, "headers": {"Retry-After": "7"}}, 503),
        ({"body": requests.ConnectTimeout("no answer")}, 503),
        ({"body": requests.ReadTimeout("hang")}, 503),
        ({"status": 200, "body": "<html>"}, 502),
        ({"status": 401, "json": {"error": "bad"}}, 502),
    ],
)
def test_token_upstream_failures_are_sentences(alice_client, github, api, reply, status):
    api.post(TOKENS_URL, **reply)
    response = post_json(alice_client, "/connect/token/", {"app": "github"})
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error.endswith(".") and "Traceback" not in error
    assert not ConnectSession.objects.exists()
    if status == 503 and reply.get("headers"):
        assert response["Retry-After"]


def test_token_rate_limits_a_member(alice_client, github, api, settings):
    settings.CONNECT_TOKEN_RATE_LIMIT = (2, 60)
    tokens = iter(f"ctok_{n:032x}" for n in range(10))
    api.add_callback(
        "POST",
        TOKENS_URL,
        callback=lambda _: (200, {}, json.dumps(connect_token_body(next(tokens)))),
    )
    for _ in range(2):
        assert post_json(alice_client, "/connect/token/", {"app": "github"}).status_code == 200
    response = post_json(alice_client, "/connect/token/", {"app": "github"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Try again" in response.json()["error"]
    assert ConnectSession.objects.count() == 2


# --- The iframe callback -----------------------------------------------------------------


def start_session(member, app, api, mode=ConnectSession.Mode.IFRAME):
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    session, _ = services.connect_session_start(member=member, app=app, mode=mode)
    return session, services.session_reference(session)


def test_callback_records_the_account_and_answers_json(alice_client, member, github, api):
    session, ref = start_session(member, github, api)
    api.get(f"{ACCOUNTS_URL}/apn_new", json=account_body("apn_new", str(member.external_id)))
    response = post_json(alice_client, "/connect/callback/", {"session": ref, "account": "apn_new"})
    assert response.status_code == 200, response.content
    assert "is connected" in response.json()["message"]
    account = ConnectedAccount.objects.get(pipedream_id="apn_new")
    assert account.member == member
    session.refresh_from_db()
    assert session.status == ConnectSession.Status.CONNECTED and session.account == account


def test_callback_for_htmx_answers_the_list(alice_client, member, github, api):
    _, ref = start_session(member, github, api)
    api.get(f"{ACCOUNTS_URL}/apn_new", json=account_body("apn_new", str(member.external_id)))
    response = alice_client.post(
        "/connect/callback/", {"session": ref, "account": "apn_new"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'id="accounts"' in response.text and "is connected" in response.text


def test_callback_refuses_someone_elses_account(alice_client, member, github, api):
    _, ref = start_session(member, github, api)
    api.get(f"{ACCOUNTS_URL}/apn_x", json=account_body("apn_x", "someone-else"))
    response = post_json(alice_client, "/connect/callback/", {"session": ref, "account": "apn_x"})
    assert response.status_code == 403
    assert "someone else" in response.json()["error"]
    assert not ConnectedAccount.objects.exists()


def test_callback_refuses_bobs_session(client, member, bob, github, api):
    _, ref = start_session(member, github, api)
    client.force_login(bob)
    response = post_json(client, "/connect/callback/", {"session": ref, "account": "apn_new"})
    assert response.status_code == 400
    assert not ConnectedAccount.objects.exists()


@pytest.mark.parametrize(
    "body", [{}, {"session": "tampered", "account": "apn_1"}, {"account": "apn_1"}]
)
def test_callback_refuses_bad_references(alice_client, body):
    response = post_json(alice_client, "/connect/callback/", body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_callback_upstream_failure_is_a_sentence(alice_client, member, github, api):
    _, ref = start_session(member, github, api)
    api.get(f"{ACCOUNTS_URL}/apn_new", status=502, json={"error": "bad gateway"})
    response = post_json(alice_client, "/connect/callback/", {"session": ref, "account": "apn_new"})
    assert response.status_code in (502, 503)
    assert response.json()["error"]
    assert not ConnectedAccount.objects.exists()


# --- Connect Link ------------------------------------------------------------------------


def test_connect_link_redirects_to_the_hosted_page(alice_client, member, github, api):
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    response = alice_client.get("/connect/github/")
    assert response.status_code == 302
    assert response["Location"].startswith("https://pipedream.com/_static/connect.html?")
    assert "app=github" in response["Location"]
    assert ConnectSession.objects.get().mode == ConnectSession.Mode.LINK


def test_connect_link_reconnect_passes_the_account(alice_client, member, github, api):
    account = make_account(member, github, healthy=False)
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    response = alice_client.get(f"/connect/github/?account={account.pk}")
    assert "accountId=apn_alice1" in response["Location"]


@pytest.mark.parametrize("path", ["/connect/nope/", "/connect/notion/"])
def test_connect_link_unknown_app_goes_back_with_a_message(alice_client, github, path):
    App.objects.create(slug="notion", name="Notion", enabled=False)
    response = alice_client.get(path, follow=True)
    assert response.redirect_chain == [("/accounts/", 302)]
    assert "not available" in response.text


def test_connect_link_upstream_failure_goes_back_with_a_message(alice_client, github, api):
    api.post(TOKENS_URL, status=500, json={"error": "boom"})
    response = alice_client.get("/connect/github/", follow=True)
    assert response.redirect_chain == [("/accounts/", 302)]
    assert "Nothing was changed" in response.text
    assert not ConnectSession.objects.exists()


# --- Coming back: /connect/done/ ----------------------------------------------------------


def test_done_syncs_and_marks_the_session(alice_client, member, github, api):
    session, ref = start_session(member, github, api, ConnectSession.Mode.LINK)
    body = account_body("apn_new", str(member.external_id))
    api.get(ACCOUNTS_URL, json=page_body([body]))
    api.get(f"{ACCOUNTS_URL}/apn_new", json=body)
    response = alice_client.get(f"/connect/done/?s={ref}&result=success", follow=True)
    assert response.redirect_chain == [("/accounts/", 302)]
    assert "account is connected" in response.text
    account = ConnectedAccount.objects.get(pipedream_id="apn_new")
    session.refresh_from_db()
    assert session.status == ConnectSession.Status.CONNECTED and session.account == account


def test_done_after_a_reconnect_marks_the_session_with_that_account(
    alice_client, member, github, api
):
    account = make_account(member, github, healthy=False, error="expired")
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    session, _ = services.connect_session_start(
        member=member, app=github, mode=ConnectSession.Mode.LINK, reconnect_account=account
    )
    ref = services.session_reference(session)
    body = account_body("apn_alice1", str(member.external_id))
    api.get(ACCOUNTS_URL, json=page_body([body]))
    api.get(f"{ACCOUNTS_URL}/apn_alice1", json=body)
    alice_client.get(f"/connect/done/?s={ref}&result=success")
    session.refresh_from_db()
    account.refresh_from_db()
    assert session.status == ConnectSession.Status.CONNECTED and session.account == account
    assert account.healthy


def test_accounts_page_marks_connected_apps(alice_client, member, github, slack):
    make_account(member, github)
    assert alice_client.get("/accounts/").text.count("app-connected") == 1


def test_done_with_error_marks_the_session_failed(alice_client, member, github, api):
    session, ref = start_session(member, github, api, ConnectSession.Mode.LINK)
    response = alice_client.get(f"/connect/done/?s={ref}&result=error", follow=True)
    assert "Your GitHub account was not connected. Connect it whenever" in response.text
    session.refresh_from_db()
    assert session.status == ConnectSession.Status.FAILED


def test_done_with_a_bad_reference_is_a_clear_400(client):
    response = client.get("/connect/done/?s=tampered&result=success")
    assert response.status_code == 400
    assert "not valid" in response.text


def test_done_asks_anonymous_members_to_log_in_and_come_back(client, member, github, api):
    _, ref = start_session(member, github, api, ConnectSession.Mode.LINK)
    response = client.get(f"/connect/done/?s={ref}&result=success", follow=True)
    assert response.redirect_chain[0][0].startswith("/login/?next=/connect/done/")
    assert "Log in to finish connecting your GitHub account." in response.text


def test_done_refuses_another_members_session(client, member, bob, github, api):
    session, ref = start_session(member, github, api, ConnectSession.Mode.LINK)
    client.force_login(bob)
    response = client.get(f"/connect/done/?s={ref}&result=error")
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.status == ConnectSession.Status.ISSUED


def test_done_when_the_sync_fails_still_goes_back_with_a_message(alice_client, member, github, api):
    _, ref = start_session(member, github, api, ConnectSession.Mode.LINK)
    api.get(ACCOUNTS_URL, status=500, json={"error": "boom"})
    response = alice_client.get(f"/connect/done/?s={ref}&result=success", follow=True)
    assert response.redirect_chain == [("/accounts/", 302)]
    assert "appear shortly" in response.text


# --- Emailed links -------------------------------------------------------------------------


def emailed(member, app, **kwargs):
    import datetime

    link = services.emailed_link_make(
        member=member, app=app, expires=kwargs.get("expires", datetime.timedelta(days=3))
    )
    return link.split("/connect/l/")[1].rstrip("/")


def test_emailed_link_mints_then_redirects(alice_client, member, github, api):
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    response = alice_client.get(f"/connect/l/{emailed(member, github)}/")
    assert response.status_code == 302
    assert "app=github" in response["Location"]
    assert ConnectSession.objects.get().mode == ConnectSession.Mode.EMAILED


def test_emailed_link_asks_to_log_in_first(client, member, github, api):
    signed = emailed(member, github)
    response = client.get(f"/connect/l/{signed}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/connect/l/")
    assert not ConnectSession.objects.exists()


def test_emailed_link_for_another_member_is_refused(client, member, bob, github, api):
    client.force_login(bob)
    response = client.get(f"/connect/l/{emailed(member, github)}/")
    assert response.status_code == 403
    assert "Log out" in response.text
    assert not ConnectSession.objects.exists()


def test_emailed_link_tampered_is_400(client):
    response = client.get("/connect/l/not-a-link/")
    assert response.status_code == 400
    assert "not valid" in response.text


def test_emailed_link_expired_is_410(client, member, github, time_machine):
    import datetime

    signed = emailed(member, github, expires=datetime.timedelta(hours=1))
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2))
    response = client.get(f"/connect/l/{signed}/")
    assert response.status_code == 410
    assert "expired" in response.text


def test_the_webhook_is_routed_and_needs_no_login(client):
    response = client.post("/connect/webhook/", data="{}", content_type="application/json")
    assert response.status_code != 302
    assert response.status_code < 500

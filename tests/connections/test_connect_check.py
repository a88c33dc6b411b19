"""The iframe's second question: after Pipedream's page posted an empty error, did this
attempt produce an account? (PipedreamHQ/pipedream-sdk-typescript#280: the page may
post `{type: "error", error: ""}` instead of success although the account exists.)

The answer comes from Pipedream (a sync), never from the browser."""

import re

import pytest

from connections import services
from connections.models import App, ConnectedAccount, ConnectSession
from tests.connections.pipedream_support import (
    account_body,
    connect_token_body,
    page_body,
)
from tests.connections.views_support import ACCOUNTS_URL, API, CTOK, PROJECT, TOKENS_URL, post_json

pytestmark = pytest.mark.django_db
LIST = re.compile(re.escape(ACCOUNTS_URL) + r"(\?.*)?$")


@pytest.fixture(autouse=True)
def _pipedream(settings):
    settings.PIPEDREAM_API_URL = API
    settings.PIPEDREAM_PROJECT_ID = PROJECT
    settings.PIPEDREAM_CLIENT_ID = "client-id"
    settings.PIPEDREAM_CLIENT_SECRET = "client-secret"
    settings.PIPEDREAM_MAX_RETRIES = 0


@pytest.fixture
def github(db):
    return App.objects.create(slug="github", name="GitHub", enabled=True, order=1)


@pytest.fixture
def alice_client(client, member):
    client.force_login(member)
    return client


def start(member, app, api):
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    session, _ = services.connect_session_start(
        member=member, app=app, mode=ConnectSession.Mode.IFRAME
    )
    return session, services.session_reference(session)


def upstream_account(member, pid="apn_new"):
    body = account_body(pid, str(member.external_id))
    body["app"]["name_slug"] = "github"
    return body


def test_an_account_that_appeared_is_recorded_and_reported(alice_client, member, github, api):
    session, ref = start(member, github, api)
    api.get(LIST, json=page_body([upstream_account(member)]))
    api.get(f"{ACCOUNTS_URL}/apn_new", json=upstream_account(member))

    response = post_json(alice_client, "/connect/callback/", {"session": ref, "check": "1"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["connected"] is True and "is connected" in body["message"]
    session.refresh_from_db()
    account = ConnectedAccount.objects.get(pipedream_id="apn_new")
    assert session.status == ConnectSession.Status.CONNECTED and session.account == account


def test_no_account_means_not_connected_and_nothing_recorded(alice_client, member, github, api):
    session, ref = start(member, github, api)
    api.get(LIST, json=page_body([]))

    response = post_json(alice_client, "/connect/callback/", {"session": ref, "check": "1"})

    assert response.status_code == 200
    assert response.json() == {
        "connected": False,
        "message": "The connection was not completed.",
    }
    session.refresh_from_db()
    assert session.status == ConnectSession.Status.ISSUED
    assert not ConnectedAccount.objects.exists()


def test_an_account_older_than_the_attempt_is_not_taken_for_it(alice_client, member, github, api):
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_old")
    session, ref = start(member, github, api)
    ConnectedAccount.objects.filter(pipedream_id="apn_old").update(
        created_at=session.created_at.replace(year=2020)
    )
    api.get(LIST, json=page_body([upstream_account(member, "apn_old")]))

    response = post_json(alice_client, "/connect/callback/", {"session": ref, "check": "1"})

    assert response.json()["connected"] is False


def test_the_check_is_for_the_members_own_session_only(
    client, member, github, api, django_user_model
):
    _, ref = start(member, github, api)
    client.force_login(django_user_model.objects.create_user(username="bob", password="x"))

    response = post_json(client, "/connect/callback/", {"session": ref, "check": "1"})

    assert response.status_code == 400
    assert response.json()["error"]


def test_an_upstream_failure_is_a_sentence(alice_client, member, github, api):
    _, ref = start(member, github, api)
    api.get(LIST, status=502, json={"error": "bad gateway"})

    response = post_json(alice_client, "/connect/callback/", {"session": ref, "check": "1"})

    assert response.status_code in (502, 503)
    assert response.json()["error"]

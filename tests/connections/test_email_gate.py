"""No Connect token without a verified email address: every way of connecting says so."""

import datetime
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from connections import services
from connections.models import App, ConnectSession
from tests.connections.pipedream_support import connect_token_body
from tests.connections.views_support import API, CTOK, PROJECT, TOKENS_URL, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pipedream(settings):
    settings.PIPEDREAM_API_URL = API
    settings.PIPEDREAM_CONNECT_URL = "https://connect.pipedream.test"
    settings.PIPEDREAM_PROJECT_ID = PROJECT
    settings.PIPEDREAM_CLIENT_ID = "client-id"
    settings.PIPEDREAM_CLIENT_SECRET = "client-secret"
    settings.PIPEDREAM_MAX_RETRIES = 0


@pytest.fixture
def github(db):
    return App.objects.create(slug="github", name="GitHub", enabled=True, order=1)


@pytest.fixture
def carol_client(client, unverified_member):
    client.force_login(unverified_member)
    return client


def tokens_asked(api) -> int:
    return sum(1 for call in api.calls if call.request.url.startswith(TOKENS_URL))


def test_unverified_member_cannot_mint_a_token(carol_client, github, api):
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    response = post_json(carol_client, "/connect/token/", {"app": "github"})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error.startswith("Confirm your email address first")
    assert "carol@example.com" in error
    assert set(response.json()) == {"error"}
    assert not ConnectSession.objects.exists()
    assert tokens_asked(api) == 0


def test_the_form_post_is_refused_the_same_way(carol_client, github, api):
    response = carol_client.post("/connect/token/", {"app": "github"})
    assert response.status_code == 403
    assert "confirm your email" in response.json()["error"].lower()
    assert not ConnectSession.objects.exists()


def test_connect_link_hand_off_shows_a_403_page(carol_client, github, api):
    response = carol_client.get("/connect/github/")
    assert response.status_code == 403
    assert "Confirm your email first" in response.text
    assert "carol@example.com" in response.text
    assert 'name="action_send"' in response.text  # a button to send the link again
    assert not ConnectSession.objects.exists()
    assert tokens_asked(api) == 0


def test_emailed_link_hand_off_shows_a_403_page(carol_client, unverified_member, github, api):
    link = services.emailed_link_make(
        member=unverified_member, app=github, expires=datetime.timedelta(days=3)
    )
    response = carol_client.get(urlsplit(link).path)
    assert response.status_code == 403
    assert "Confirm your email first" in response.text
    assert not ConnectSession.objects.exists()
    assert tokens_asked(api) == 0


def test_a_member_without_any_email_is_told_to_add_one(client, django_user_model, github, api):
    nobody = django_user_model.objects.create_user(username="dave", password="x")
    client.force_login(nobody)
    response = post_json(client, "/connect/token/", {"app": "github"})
    assert response.status_code == 403
    assert "Add an email address" in response.json()["error"]
    assert not ConnectSession.objects.exists()


def test_the_refusal_does_not_use_up_the_rate_limit(
    carol_client, unverified_member, github, api, settings
):
    settings.CONNECT_TOKEN_RATE_LIMIT = (1, 60)
    for _ in range(3):
        assert post_json(carol_client, "/connect/token/", {"app": "github"}).status_code == 403
    EmailAddress.objects.filter(user=unverified_member).update(verified=True)
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    response = post_json(carol_client, "/connect/token/", {"app": "github"})
    assert response.status_code == 200, response.content
    assert ConnectSession.objects.count() == 1


def test_after_confirming_the_link_the_member_can_connect(
    carol_client, unverified_member, github, api
):
    carol_client.post("/email/", {"email": "carol@example.com", "action_send": ""})
    link = next(m for m in mail.outbox if "/confirm-email/" in m.body)
    path = "/confirm-email/" + link.body.split("/confirm-email/")[1].split("/")[0] + "/"
    carol_client.post(path)
    assert EmailAddress.objects.get(user=unverified_member).verified
    api.post(TOKENS_URL, json=connect_token_body(CTOK))
    response = post_json(carol_client, "/connect/token/", {"app": "github"})
    assert response.status_code == 200, response.content
    assert ConnectSession.objects.filter(member=unverified_member).count() == 1


def test_the_service_refuses_before_asking_pipedream(unverified_member, github, api):
    with pytest.raises(services.EmailNotVerified) as caught:
        services.connect_session_start(
            member=unverified_member, app=github, mode=ConnectSession.Mode.IFRAME
        )
    assert caught.value.pending_email == "carol@example.com"
    assert tokens_asked(api) == 0
    assert not ConnectSession.objects.exists()


def test_the_accounts_page_shows_the_banner(carol_client):
    page = carol_client.get("/accounts/").text
    assert "Confirm your email to connect accounts" in page
    assert "carol@example.com" in page


def test_a_verified_member_sees_no_banner(client, member):
    client.force_login(member)
    assert "Confirm your email" not in client.get("/accounts/").text

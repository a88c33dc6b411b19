"""The host login on /profile/: connecting it (after the password), one host account per
member and per host account, disconnecting it unless it is the only way in."""

import time

import pytest
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from tests.hostsso.host_support import (
    ALICE_SUB,
    at_host,
    back,
    messages_of,
    page_text,
    sign_on,
)
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "carol-Pa55word-here"


@pytest.fixture
def carol(client, host, django_user_model):
    """A member with a password and a confirmed email, logged in."""
    member = verify_email(
        django_user_model.objects.create_user(
            username="carol", email="carol@example.com", password=PASSWORD
        )
    )
    assert client.login(username="carol", password=PASSWORD)
    return member


def connect(client, *, member: str):
    response = client.post(
        "/auth/oidc/host/login/", {"process": "connect", "next": "/profile/#host"}
    )
    if response["Location"].startswith("/reauthenticate/"):
        response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return back(client, at_host(response["Location"], member=member))


def test_the_section_offers_to_connect_then_shows_the_login(client, carol):
    text = page_text(client.get("/profile/"))
    assert 'id="host"' in text and "Connect your Sandbox Community account" in text
    assert 'name="process" value="connect"' in text
    response = connect(client, member="alice")
    assert response["Location"] == "/profile/#host"
    text = page_text(client.get("/profile/"))
    assert "You can log in here with your Sandbox Community account" in text
    assert ALICE_SUB in text and 'action="/auth/oidc/host/disconnect/"' in text


def test_a_host_account_of_another_member_is_not_connected(client, carol):
    sign_on(Client(), member="alice")  # alice signed up from the host
    response = connect(client, member="alice")
    assert response.status_code == 302
    assert "connected to another account on this site" in " ".join(messages_of(response))
    assert not SocialAccount.objects.filter(user=carol).exists()


def test_a_second_host_account_is_not_connected_the_host_id_stays(client, carol):
    connect(client, member="alice")
    response = connect(client, member="bob")
    assert "already connected to another Sandbox Community account" in " ".join(
        messages_of(response)
    )
    assert list(SocialAccount.objects.values_list("uid", flat=True)) == [ALICE_SUB]


def test_disconnecting_with_a_password_and_the_notice(client, carol):
    connect(client, member="alice")
    mail.outbox.clear()
    login = SocialAccount.objects.get()
    response = client.post("/auth/oidc/host/disconnect/", {"account": login.pk})
    assert response.status_code == 302 and response["Location"] == "/profile/#host"
    assert "Sandbox Community is disconnected" in " ".join(messages_of(response))
    assert not SocialAccount.objects.exists()
    [notice] = mail.outbox
    assert "Log in with Sandbox Community was disconnected" in notice.body


def test_the_only_way_in_cannot_be_disconnected(client, host):
    sign_on(client, member="alice")
    login = SocialAccount.objects.get()
    text = page_text(client.get("/profile/"))
    assert "Set a password to be able to disconnect Sandbox Community" in text
    assert "You log in with Sandbox Community and have no password" in text
    # Even posted by hand (after confirming with the host):
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "socialaccount", "at": time.time(), "reauthenticated": True}
    ]
    session.save()
    response = client.post("/auth/oidc/host/disconnect/", {"account": login.pk})
    assert "is the only way you log in here" in " ".join(messages_of(response))
    assert SocialAccount.objects.get() == login
    # Nor through allauth's own connections page (/auth/social/).
    assert client.post("/auth/social/", {"account": login.pk}).status_code == 200
    assert SocialAccount.objects.get() == login
    assert get_user_model().objects.get().socialaccount_set.count() == 1

"""Confirm with <host>: a member who logs in only from the host site (no password)
confirms it is them with the host before anything sensitive, and only their own host
login counts."""

from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client

from tests.hostsso.host_support import (
    ALICE_SUB,
    CONFIRM_PATH,
    at_host,
    back,
    page_text,
    query,
    sign_on,
)

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-new-Pa55word-for-alice"


@pytest.fixture
def alice(client, host):
    """A member made by signing on from the host: no password, no authenticator."""
    sign_on(client, member="alice")
    member = get_user_model().objects.get()
    assert not member.has_usable_password()
    return member


# Every route that asks "confirm it is you" (as tests/siwbb/test_reauth.py lists them).
GUARDED = [
    ("post", "/profile/data/", {}),
    ("get", "/profile/delete/", {}),
    ("post", "/profile/delete/", {"confirm": "@username"}),
    ("post", "/auth/oidc/host/login/", {"process": "connect", "next": "/profile/"}),
    ("post", "/auth/bitbadges/login/", {"process": "connect", "next": "/profile/"}),
    ("post", "/auth/oidc/host/disconnect/", {"account": "@login"}),
    ("post", "/auth/social/", {"account": "@login"}),
    ("get", "/password/set/", {}),
    ("post", "/password/set/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}),
    ("post", "/email/", {"action_add": "", "email": "thief@example.com"}),
    ("post", "/email/", {"action_remove": "", "email": "alice@community.example"}),
    ("get", "/2fa/totp/activate/", {}),
]


def _held_at_confirm(client, response) -> str:
    """The guarded route answered with the way to Confirm with <host>: its URL."""
    assert response.status_code == 302, response.content[:300]
    location = response["Location"]
    assert urlsplit(location).path == CONFIRM_PATH, location
    page = page_text(client.get(location))
    assert (
        "Confirm with Sandbox Community" in page
        and "You log in here with Sandbox Community" in page
        and "Not now: back to your profile" in page
    )
    return location


def _confirm(client, location: str, member: str = "alice"):
    data = {"next": query(location)["next"]} if "next" in query(location) else {}
    started = client.post(CONFIRM_PATH, data)
    assert started.status_code == 302 and "/sandbox/host/authorize" in started["Location"]
    return back(client, at_host(started["Location"], member=member))


def test_each_guarded_route_asks_to_confirm_with_the_host_and_does_not_run(client, alice, settings):
    settings.BITBADGES_CLIENT_ID = "bb-client"  # its connect is one of the routes
    settings.BITBADGES_CLIENT_SECRET = "bb-secret"
    values = {"@username": alice.username, "@login": str(SocialAccount.objects.get().pk)}
    for method, path, data in GUARDED:
        data = {key: values.get(value, value) for key, value in data.items()}
        response = getattr(client, method)(path, data)
        assert urlsplit(response.get("Location", "")).path == CONFIRM_PATH, (method, path)
    _held_at_confirm(client, client.post("/profile/data/"))
    alice.refresh_from_db()
    assert not alice.has_usable_password() and SocialAccount.objects.count() == 1
    assert list(EmailAddress.objects.values_list("email", flat=True)) == ["alice@community.example"]
    assert not Authenticator.objects.exists() and get_user_model().objects.count() == 1


def test_reauthenticate_sends_a_host_only_member_to_confirm_with_the_host(client, alice):
    response = client.get("/reauthenticate/?next=/profile/")
    assert response.status_code == 302
    assert response["Location"] == f"{CONFIRM_PATH}?next=%2Fprofile%2F"


def test_after_confirming_as_themselves_the_held_post_runs(client, alice):
    location = _held_at_confirm(client, client.post("/profile/data/"))
    download = _confirm(client, location)
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    # Within the timeout, the next guarded action goes through at once.
    assert client.get("/password/set/").status_code == 200


def test_confirming_as_another_host_member_counts_for_nothing(client, alice):
    sign_on(Client(), member="bob")  # bob has an account here too
    location = _held_at_confirm(client, client.post("/profile/data/"))
    for member in ("bob", "new"):
        refused = _confirm(client, location, member=member)
        assert refused.status_code == 403
        text = page_text(refused)
        assert "This is not your Sandbox Community account" in text
        assert "attachment" not in refused.get("Content-Disposition", "")
        assert client.get("/profile/").wsgi_request.user.pk == alice.pk
        _held_at_confirm(client, client.post("/profile/data/"))
    # No account for the new host member, and the logins are where they were.
    assert get_user_model().objects.count() == 2
    assert SocialAccount.objects.get(user=alice).uid == ALICE_SUB


def test_the_login_itself_is_no_confirmation(client, alice):
    client.logout()
    sign_on(client, member="alice")
    _held_at_confirm(client, client.post("/profile/data/"))


def test_the_confirm_page_wants_a_member_with_a_host_login(client, host, django_user_model):
    carol = django_user_model.objects.create_user(username="carol", password="carol-Pa55word")
    client.force_login(carol)
    response = client.post(CONFIRM_PATH, {"next": "/profile/"})
    assert response.status_code == 302 and response["Location"].startswith("/reauthenticate/")


def test_a_member_with_both_logins_is_offered_both_ways(client, alice, settings):
    settings.BITBADGES_CLIENT_ID = "bb-client"
    settings.BITBADGES_CLIENT_SECRET = "bb-secret"
    SocialAccount.objects.create(user=alice, provider="bitbadges", uid="bb1" + "q" * 38)
    for path in (CONFIRM_PATH, "/auth/bitbadges/reauthenticate/"):
        text = page_text(client.get(path + "?next=/profile/"))
        assert "Confirm with Sandbox Community" in text and "Confirm with BitBadges" in text, path

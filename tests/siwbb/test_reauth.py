"""Confirm with BitBadges: members who log in with BitBadges only confirm it is them too.

allauth treats a member with no password and no authenticator as always "recently
re-authenticated". Here every guarded route sends such a member to Confirm with
BitBadges first and does not run; confirming with the member's own BitBadges address
lets it run (the held POST goes on); another address confirms nothing and logs nobody in.
"""

import time
from urllib.parse import urlsplit

import pytest
from allauth.account.internal.flows import reauthentication
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client

from tests.siwbb.siwbb_support import (
    ALICE_0X,
    ALICE_BB,
    BOB_BB,
    at_bitbadges,
    back,
    page_text,
    query,
    sign_in,
)
from users.siwbb import reauth

pytestmark = pytest.mark.django_db(transaction=True)

CONFIRM_PATH = "/auth/bitbadges/reauthenticate/"
NEW_PASSWORD = "a-new-Pa55word-for-alice"


@pytest.fixture
def alice(client, siwbb):
    """A member made by Sign in with BitBadges: no password, no email, no authenticator."""
    sign_in(client, address=ALICE_0X)
    member = get_user_model().objects.get()
    assert not member.has_usable_password()
    return member


def _login_id():
    return str(SocialAccount.objects.get(uid=ALICE_BB).pk)


# (method, path, data, "it did not run") for every guarded route.
GUARDED = [
    ("post", "/profile/data/", {}, lambda m: True),
    ("get", "/profile/delete/", {}, lambda m: True),
    ("post", "/profile/delete/", {"confirm": "@username"}, lambda m: m.__class__.objects.exists()),
    (
        "post",
        "/auth/bitbadges/login/",
        {"process": "connect", "next": "/profile/"},
        lambda m: SocialAccount.objects.count() == 1,
    ),
    (
        "post",
        "/profile/bitbadges/disconnect/",
        {"account": "@login"},
        lambda m: SocialAccount.objects.count() == 1,
    ),
    ("post", "/auth/social/", {"account": "@login"}, lambda m: SocialAccount.objects.count() == 1),
    ("get", "/password/set/", {}, lambda m: True),
    (
        "post",
        "/password/set/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        lambda m: not m.__class__.objects.get().has_usable_password(),
    ),
    (
        "post",
        "/email/",
        {"action_add": "", "email": "thief@example.com"},
        lambda m: not EmailAddress.objects.exists(),
    ),
    ("get", "/2fa/totp/activate/", {}, lambda m: not Authenticator.objects.exists()),
]


def _fill(data: dict, member) -> dict:
    values = {"@username": member.username, "@login": _login_id()}
    return {key: values.get(value, value) for key, value in data.items()}


def _held_at_confirm(client, response) -> str:
    """The guarded route answered with the way to Confirm with BitBadges: its URL."""
    assert response.status_code == 302, response.content[:300]
    location = response["Location"]
    assert urlsplit(location).path == CONFIRM_PATH, location
    page = client.get(location)
    assert page.status_code == 200
    assert "Confirm with BitBadges" in page_text(page) and ALICE_BB in page_text(page)
    return location


def _confirm(client, location: str, address: str = ALICE_0X):
    """Press Confirm with BitBadges, approve at BitBadges as `address`, come back."""
    data = {"next": query(location)["next"]} if "next" in query(location) else {}
    started = client.post(CONFIRM_PATH, data)
    assert (
        started.status_code == 302 and "/sandbox/bitbadges/siwbb/authorize" in started["Location"]
    )
    return back(client, at_bitbadges(started["Location"], address=address))


def test_the_wrap_is_in_place():
    # allauth's guards look did_recently_reauthenticate up in its module at call time.
    assert reauthentication.did_recently_reauthenticate is reauth.did_recently_reauthenticate


@pytest.mark.parametrize(
    ("method", "path", "data", "did_not_run"),
    GUARDED,
    ids=lambda v: None if callable(v) else str(v),
)
def test_each_guarded_route_asks_to_confirm_with_bitbadges_and_does_not_run(
    client, alice, method, path, data, did_not_run
):
    response = getattr(client, method)(path, _fill(data, alice))
    _held_at_confirm(client, response)
    alice.refresh_from_db()
    assert did_not_run(alice)
    assert SocialAccount.objects.count() == 1 and alice.address_proven
    assert not isinstance(response, type(None)) and "attachment" not in response.get(
        "Content-Disposition", ""
    )


def test_reauthenticate_offers_confirm_with_bitbadges_instead_of_403(client, alice):
    response = client.get("/reauthenticate/?next=/profile/")
    assert response.status_code == 302
    assert response["Location"] == f"{CONFIRM_PATH}?next=%2Fprofile%2F"
    _held_at_confirm(client, response)


def test_after_confirming_with_the_same_address_the_held_post_runs(client, alice):
    location = _held_at_confirm(client, client.post("/profile/data/"))
    download = _confirm(client, location)
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    assert alice.username in b"".join(download.streaming_content).decode()
    # Within the timeout, the next guarded action goes through at once.
    assert (
        client.post("/email/", {"action_add": "", "email": "alice@example.com"}).status_code == 302
    )
    assert EmailAddress.objects.filter(user=alice, email="alice@example.com").exists()


def test_confirming_then_setting_a_password(client, alice):
    location = _held_at_confirm(client, client.get("/password/set/"))
    landed = _confirm(client, location)
    assert landed.status_code == 302 and landed["Location"] == "/password/set/"
    done = client.post("/password/set/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_a_held_connect_goes_on_to_bitbadges_after_confirming(client, alice):
    response = client.post("/auth/bitbadges/login/", {"process": "connect", "next": "/profile/"})
    started = _confirm(client, _held_at_confirm(client, response))
    assert (
        started.status_code == 302 and "/sandbox/bitbadges/siwbb/authorize" in started["Location"]
    )
    assert query(started["Location"])["client_id"]
    finished = back(client, at_bitbadges(started["Location"], address=BOB_BB))
    assert finished.status_code == 302
    assert sorted(SocialAccount.objects.values_list("uid", flat=True)) == sorted([ALICE_BB, BOB_BB])


def test_confirming_with_another_address_counts_for_nothing(client, alice):
    other = Client()
    sign_in(other, address=BOB_BB)  # BOB's account exists here too
    bob = get_user_model().objects.get(address=BOB_BB)
    for address in (BOB_BB, "0x0000000000000000000000000000000000000002"):
        location = _held_at_confirm(client, client.post("/profile/data/"))
        refused = _confirm(client, location, address=address)
        assert refused.status_code == 403
        assert "This is not your BitBadges address" in page_text(refused)
        assert "attachment" not in refused.get("Content-Disposition", "")
        # Still alice, and still not confirmed: the route asks again.
        assert client.get("/profile/").wsgi_request.user.pk == alice.pk
        _held_at_confirm(client, client.post("/profile/data/"))
    assert get_user_model().objects.count() == 2  # no account made for the new address
    assert list(SocialAccount.objects.filter(user=bob).values_list("uid", flat=True)) == [BOB_BB]


def test_a_confirmation_lasts_only_the_timeout(client, alice):
    _confirm(client, _held_at_confirm(client, client.post("/profile/data/")))
    assert client.get("/profile/delete/").status_code == 200
    session = client.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    for record in records:
        record["at"] = time.time() - 301
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()
    _held_at_confirm(client, client.get("/profile/delete/"))


def test_the_login_itself_is_no_confirmation(client, alice):
    # Signing in with BitBadges a moment ago is a login, not "confirm it is you".
    client.logout()
    sign_in(client, address=ALICE_0X)
    _held_at_confirm(client, client.post("/profile/data/"))


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", "/x" * 1500]
)
def test_a_hostile_next_is_dropped_or_refused(client, alice, next_url):
    page = client.get(CONFIRM_PATH, {"next": next_url})
    assert page.status_code in (200, 400)
    assert (
        "evil.example" not in page.content.decode() and "javascript:" not in page.content.decode()
    )
    started = client.post(CONFIRM_PATH, {"next": next_url})
    if started.status_code == 302:
        landed = back(client, at_bitbadges(started["Location"], address=ALICE_0X))
        assert landed.status_code == 302 and landed["Location"] == "/"
    else:
        assert started.status_code == 400


def test_the_confirm_page_wants_a_member_with_a_bitbadges_login(client, siwbb, django_user_model):
    assert client.get(CONFIRM_PATH).status_code == 302  # logged out: to the login page
    carol = django_user_model.objects.create_user(username="carol", password="carol-Pa55word")
    client.force_login(carol)
    response = client.post(CONFIRM_PATH, {"next": "/profile/"})
    assert response.status_code == 302 and response["Location"].startswith("/reauthenticate/")
    # A member with a password still confirms with it.
    assert client.post("/profile/data/")["Location"].startswith("/reauthenticate/")


def test_off_means_404(client, alice, settings):
    settings.BITBADGES_CLIENT_SECRET = ""
    assert client.get(CONFIRM_PATH).status_code == 404
    assert client.post(CONFIRM_PATH).status_code == 404
    assert client.put(CONFIRM_PATH).status_code == 405

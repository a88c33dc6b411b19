"""Signing up and logging in with BitBadges, against the sandbox over HTTP.

A newcomer gets an account with no password, no email, a username made from the
address and that address proven; logging in again is the same member; sign-ups follow
SIGNUP_OPEN and the sign-up rate limit; a member with an authenticator app still gives
its code; with no client id and secret there are no buttons and the URLs 404.
"""

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from tests.siwbb.siwbb_support import (
    ALICE_BB,
    ALICE_EIP55,
    BOB_BB,
    nothing_written,
    page_text,
    sign_in,
    start,
)
from tests.users.mfa_support import totp_code
from users.siwbb.selectors import signed_up_with_bitbadges

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_newcomer_signs_up_with_bitbadges_no_password_no_email_address_proven(client, siwbb):
    response = sign_in(client, next_url="/c/github-starter/")
    assert response.status_code == 302
    assert response["Location"] == "/c/github-starter/"
    member = get_user_model().objects.get()
    assert member.username == f"bb-{ALICE_BB[3:11]}"
    assert not member.has_usable_password()
    assert member.email == "" and not EmailAddress.objects.exists()
    # BitBadges answered the 0x spelling in lower case: stored in its EIP-55 spelling.
    assert member.address == ALICE_EIP55
    assert member.address_proven and member.address_proven_at is not None
    login = SocialAccount.objects.get()
    assert (login.user, login.provider, login.uid) == (member, "bitbadges", ALICE_BB)
    assert set(login.extra_data) <= {"bitbadgesAddress", "address", "chain"}
    assert signed_up_with_bitbadges(member)
    # Logged in: the profile says the address is proven.
    profile = page_text(client.get("/profile/"))
    assert "Proven" in profile and ALICE_EIP55 in profile
    assert "You log in with BitBadges and have no password." in profile


def test_logging_in_again_is_the_same_member_and_renews_the_proof(client, siwbb):
    sign_in(client)
    member = get_user_model().objects.get()
    first = member.address_proven_at
    client.logout()
    response = sign_in(client)
    assert response.status_code == 302
    assert get_user_model().objects.count() == 1 and SocialAccount.objects.count() == 1
    member.refresh_from_db()
    assert member.address_proven_at > first
    assert client.get("/profile/").wsgi_request.user == member


def test_two_addresses_make_two_members_with_distinct_usernames(client, siwbb):
    sign_in(client)
    client.logout()
    sign_in(client, address=BOB_BB)
    assert sorted(get_user_model().objects.values_list("address", flat=True)) == sorted(
        [ALICE_EIP55, BOB_BB]
    )
    assert get_user_model().objects.values("username").distinct().count() == 2


def test_with_signup_closed_a_newcomer_is_refused_and_nothing_is_written(client, siwbb, settings):
    settings.SIGNUP_OPEN = False
    response = sign_in(client)
    assert "Joining is closed" in page_text(response)
    nothing_written()
    assert not client.get("/profile/").wsgi_request.user.is_authenticated


def test_with_signup_closed_a_bitbadges_member_still_logs_in(client, siwbb, settings):
    sign_in(client)
    client.logout()
    settings.SIGNUP_OPEN = False
    assert sign_in(client).status_code == 302
    assert client.get("/profile/").wsgi_request.user.is_authenticated


def test_bitbadges_sign_ups_share_the_sign_up_rate_limit(client, siwbb, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "1/m/ip"}
    sign_in(client)
    client.logout()
    response = sign_in(client, address=BOB_BB)
    assert response.status_code == 429
    assert "Too many sign-ins or sign-ups from your connection" in page_text(response)
    assert get_user_model().objects.count() == 1 and SocialAccount.objects.count() == 1


def test_a_member_with_an_authenticator_app_gives_its_code_after_bitbadges(client, siwbb):
    sign_in(client)
    member = get_user_model().objects.get()
    secret = generate_totp_secret()
    TOTP.activate(member, secret)
    RecoveryCodes.activate(member)
    client.logout()
    response = sign_in(client)
    assert response.status_code == 302 and response["Location"].startswith("/2fa/authenticate/")
    assert not client.get("/profile/").wsgi_request.user.is_authenticated
    done = client.post("/2fa/authenticate/", {"code": totp_code(secret)})
    assert done.status_code == 302
    assert client.get("/profile/").wsgi_request.user == member


def test_the_buttons_are_on_the_login_and_signup_pages_and_keep_next(client, siwbb):
    for path in ("/login/?next=/c/github-starter/", "/signup/?next=/c/github-starter/"):
        text = page_text(client.get(path))
        assert 'action="/auth/bitbadges/login/"' in text
        assert "Sign in with BitBadges" in text
        assert 'name="next" value="/c/github-starter/"' in text


def test_a_get_of_the_start_shows_a_continue_button_and_sends_nobody_away(client, siwbb):
    response = client.get("/auth/bitbadges/login/?process=login")
    assert response.status_code == 200
    text = page_text(response)
    assert "Continue to BitBadges" in text and '<form method="post">' in text
    location = start(client)
    assert "/sandbox/bitbadges/siwbb/authorize?client_id=connect-claim-test" in location
    assert "scope" not in location and "client_secret" not in location


def test_an_unknown_process_is_refused_with_a_sentence(client, siwbb):
    response = client.post("/auth/bitbadges/login/", {"process": "redirect", "next": "/"})
    assert response.status_code == 400
    assert "This link does not start a sign-in this site knows" in page_text(response)


def test_without_client_id_and_secret_there_are_no_buttons_and_the_urls_404(client, settings):
    settings.BITBADGES_CLIENT_ID = ""
    settings.BITBADGES_CLIENT_SECRET = "set-but-alone"
    for path in ("/login/", "/signup/"):
        text = page_text(client.get(path))
        assert "/auth/bitbadges/" not in text and "Sign in with BitBadges" not in text
    assert client.post("/auth/bitbadges/login/", {"process": "login"}).status_code == 404
    assert client.get("/auth/bitbadges/login/").status_code == 404
    assert client.get("/auth/bitbadges/login/callback/?code=a&state=b").status_code == 404


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_a_next_to_another_site_is_dropped(client, siwbb, next_url):
    response = sign_in(client, next_url=next_url)
    assert response.status_code == 302
    assert "evil" not in response["Location"] and "javascript" not in response["Location"]


def test_an_oversized_next_is_refused_before_anything_is_kept(client, siwbb):
    response = client.post("/auth/bitbadges/login/", {"process": "login", "next": "/" * 5000})
    assert response.status_code == 400
    assert "socialaccount_states" not in client.session
    nothing_written()


def test_without_auto_sign_up_allauths_form_finishes_it(client, siwbb, settings):
    settings.SOCIALACCOUNT_AUTO_SIGNUP = False
    response = sign_in(client)
    assert response.status_code == 302 and response["Location"] == "/auth/social/signup/"
    page = page_text(client.get("/auth/social/signup/"))
    assert f"BitBadges proved that you hold {ALICE_BB}" in page
    refused = client.post("/auth/social/signup/", {"username": "a@b", "email": ""})
    assert refused.status_code == 200 and "cannot contain @" in page_text(refused)
    nothing_written()
    done = client.post("/auth/social/signup/", {"username": "alice-bb", "email": ""})
    assert done.status_code == 302
    member = get_user_model().objects.get()
    assert member.username == "alice-bb" and not member.has_usable_password()
    assert member.address == ALICE_EIP55 and member.address_proven
    assert SocialAccount.objects.get().user == member

"""Signing up and logging in from the host site, against the sandbox's provider over HTTP.

A member of the host site signing on for the first time gets an account here: no
password, a username made from their host name, signup_method "host", their host id the
login's uid, and their email verified here only when the host said it is. Logging in
again is the same member, whatever the host says about their email meanwhile.
"""

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core import mail

from sandbox.host.models import HostMember
from tests.hostsso.host_support import (
    ALICE_EMAIL,
    ALICE_SUB,
    BOB_EMAIL,
    BOB_SUB,
    messages_of,
    page_text,
    sign_on,
)
from tests.users.mfa_support import fresh_totp_code
from users.selectors import host_id_of, member_identity_confirmed

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_host_member_with_a_verified_email_gets_an_account_confirmed(client, host):
    response = sign_on(client, member="alice", next_url="/c/github-starter/")
    assert response.status_code == 302
    assert response["Location"] == "/c/github-starter/"
    member = get_user_model().objects.get()
    assert member.username == "alice"
    assert not member.has_usable_password()
    assert member.signup_method == "host"
    assert member.email == ALICE_EMAIL
    [address] = EmailAddress.objects.filter(user=member)
    assert (address.email, address.verified, address.primary) == (ALICE_EMAIL, True, True)
    login = SocialAccount.objects.get()
    assert (login.user, login.provider, login.uid) == (member, "host", ALICE_SUB)
    assert set(login.extra_data) == {"sub", "email", "email_verified", "name", "preferred_username"}
    assert host_id_of(member=member) == ALICE_SUB
    # The host vouched for the email: confirmed here, no link sent.
    assert member_identity_confirmed(member=member)
    assert mail.outbox == []
    assert "your username is alice" in " ".join(messages_of(response))
    # Logged in: the profile names the host login.
    profile = page_text(client.get("/profile/"))
    assert "You can log in here with your Sandbox Community account" in profile
    assert ALICE_SUB in profile


def test_an_unverified_email_is_kept_unconfirmed_and_sent_a_link(client, host):
    response = sign_on(client, member="bob")
    assert response.status_code == 302
    member = get_user_model().objects.get()
    assert member.username == "bob" and member.signup_method == "host"
    [address] = EmailAddress.objects.filter(user=member)
    assert (address.email, address.verified) == (BOB_EMAIL, False)
    # A login from the host alone confirms nothing: the member confirms the address.
    assert not member_identity_confirmed(member=member)
    [link] = mail.outbox
    assert link.to == [BOB_EMAIL] and "/confirm-email/" in link.body
    assert SocialAccount.objects.get().uid == BOB_SUB


def test_email_verified_as_text_is_not_verified(client, host, settings):
    # alice's host says "true" in quotes: only a JSON true counts (OpenID Connect Core 5.1).
    settings.SANDBOX_FAULTS = {"host.id_token.email_verified_string": {}}
    assert sign_on(client, member="alice").status_code == 302
    member = get_user_model().objects.get()
    [address] = EmailAddress.objects.filter(user=member)
    assert (address.email, address.verified) == (ALICE_EMAIL, False)
    assert SocialAccount.objects.get().extra_data["email_verified"] is False
    assert not member_identity_confirmed(member=member)
    [link] = mail.outbox
    assert link.to == [ALICE_EMAIL] and "/confirm-email/" in link.body


def test_logging_in_again_is_the_same_member_and_the_host_id_stays(client, host):
    sign_on(client, member="alice")
    member = get_user_model().objects.get()
    client.logout()
    # The host changes alice's email (and says it is verified): nothing changes here.
    HostMember.objects.filter(sub=ALICE_SUB).update(email="alice.new@community.example")
    response = sign_on(client, member="alice", next_url="/profile/")
    assert response.status_code == 302 and response["Location"] == "/profile/"
    assert get_user_model().objects.count() == 1 and SocialAccount.objects.count() == 1
    assert int(client.session["_auth_user_id"]) == member.pk
    member.refresh_from_db()
    assert member.email == ALICE_EMAIL
    assert list(EmailAddress.objects.values_list("email", flat=True)) == [ALICE_EMAIL]
    login = SocialAccount.objects.get()
    assert login.uid == ALICE_SUB and login.user_id == member.pk
    # What the host said last is recorded on the login, nowhere else.
    assert login.extra_data["email"] == "alice.new@community.example"


def test_host_sign_ups_share_the_sign_up_rate_limit(client, host, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "1/m/ip"}
    sign_on(client, member="alice")
    client.logout()
    response = sign_on(client, member="bob")
    assert response.status_code == 429
    assert "Too many sign-ins or sign-ups from your connection" in page_text(response)
    assert get_user_model().objects.count() == 1 and SocialAccount.objects.count() == 1
    # A member logging in again is no sign-up.
    client.logout()
    assert sign_on(client, member="alice").status_code == 302


def test_staff_without_an_authenticator_are_not_logged_in_by_the_host(
    client, host, django_user_model
):
    staff = django_user_model.objects.create_user(username="boss", is_staff=True)
    SocialAccount.objects.create(user=staff, provider="host", uid=ALICE_SUB)
    response = sign_on(client, member="alice")
    assert response.status_code == 403
    text = page_text(response)
    assert "Staff log in with their password and authenticator app" in text
    # The way on is the password: the host button would only lead here again.
    assert 'href="/login/"' in text and 'action="/auth/oidc/host/login/"' not in text
    assert not client.get("/profile/").wsgi_request.user.is_authenticated


def test_staff_without_an_authenticator_cannot_connect_the_host(client, host, django_user_model):
    staff = django_user_model.objects.create_user(username="boss", is_staff=True)
    client.force_login(staff)
    response = client.post("/auth/oidc/host/login/", {"process": "connect"})
    assert response.status_code == 403
    text = page_text(response)
    assert "Staff log in with their password and authenticator app" in text
    assert 'href="/2fa/"' in text and 'action="/auth/oidc/host/login/"' not in text
    assert not SocialAccount.objects.exists()


def test_staff_with_an_authenticator_give_its_code_after_the_host(client, host, django_user_model):
    # As with Sign in with BitBadges: the host login is the first step, never the last.
    staff = django_user_model.objects.create_user(username="boss", is_staff=True)
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    SocialAccount.objects.create(user=staff, provider="host", uid=ALICE_SUB)
    response = sign_on(client, member="alice")
    assert response.status_code == 302 and response["Location"].startswith("/2fa/authenticate/")
    assert not client.get("/profile/").wsgi_request.user.is_authenticated
    assert client.post("/2fa/authenticate/", {"code": fresh_totp_code(secret)}).status_code == 302
    assert client.get("/profile/").wsgi_request.user == staff

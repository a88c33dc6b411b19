"""The rules of host sign-on that need no provider: the usernames it makes, its system
checks, the admin's host id, and the staff rule it shares with Sign in with BitBadges."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialAccount
from django.core.management import call_command

from users.hostsso import checks
from users.hostsso.usernames import base, new_username
from users.social import staff_without_authenticator

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ({"preferred_username": "Alice"}, "alice"),
        ({"preferred_username": "ｂｏｂ"}, "bob"),  # full-width letters read as they look
        ({"preferred_username": "bo\u200bb"}, "bob"),  # a zero-width space
        ({"preferred_username": "Zoë Müller"}, "zoe-muller"),
        ({"preferred_username": "Алиса", "email": "alisa@x.example"}, "alisa"),
        ({"preferred_username": "admin"}, "member"),
        ({"preferred_username": "Administrator2", "email": "root@x.example"}, "member"),
        ({"preferred_username": "staff-team", "email": "jo@x.example"}, "jo"),
        ({"preferred_username": "a@b.example"}, "a-b.example"),
        ({"preferred_username": "", "email": ""}, "member"),
        ({"preferred_username": "x" * 200}, "x" * 24),
        ({"preferred_username": "<script>"}, "script"),
    ],
)
def test_the_username_is_plain_and_never_reserved(identity, expected):
    assert base(identity) == expected


def test_a_taken_username_gets_a_number_then_random_digits(django_user_model):
    django_user_model.objects.create_user(username="alice")
    django_user_model.objects.create_user(username="Alice-2")
    assert new_username({"preferred_username": "alice"}) == "alice-3"
    later = new_username({"preferred_username": "alice"}, attempt=1)
    assert later.startswith("alice-") and len(later) == len("alice-") + 6


def test_checks_warn_of_a_half_set_provider(settings):
    settings.SANDBOX = False
    settings.SIGNUP_OPEN = False
    settings.HOST_OIDC_ISSUER = "https://guild.example"
    settings.HOST_OIDC_CLIENT_ID = "claims-site"
    settings.HOST_OIDC_CLIENT_SECRET = ""
    [warning] = checks.settings_complete()
    assert warning.id == "hostsso.W001"
    assert "HOST_OIDC_CLIENT_SECRET empty" in warning.msg
    assert "nobody can join" in warning.msg
    settings.HOST_OIDC_CLIENT_SECRET = "s"
    assert checks.settings_complete() == []
    settings.HOST_OIDC_ISSUER = settings.HOST_OIDC_CLIENT_ID = settings.HOST_OIDC_CLIENT_SECRET = ""
    assert checks.settings_complete() == []


def test_checks_warn_of_members_locked_out_and_of_an_http_issuer(settings, django_user_model):
    settings.SANDBOX = False
    settings.HOST_OIDC_ISSUER = ""
    member = django_user_model.objects.create_user(username="hostonly")
    member.set_unusable_password()
    member.save()
    SocialAccount.objects.create(user=member, provider="host", uid="guild-1")
    [warning] = checks.host_only_members_can_log_in()
    assert warning.id == "hostsso.W002" and "1 active member(s)" in warning.msg
    member.set_password("now-a-Pa55word")
    member.save()
    assert checks.host_only_members_can_log_in() == []
    settings.DEBUG = False
    settings.HOST_OIDC_ISSUER = "http://guild.example"
    assert [w.id for w in checks.issuer_is_https()] == ["hostsso.W003"]
    settings.HOST_OIDC_ISSUER = "https://guild.example"
    assert checks.issuer_is_https() == []


def test_staff_need_an_authenticator_for_either_social_login(django_user_model):
    staff = django_user_model.objects.create_user(username="st", is_staff=True)
    plain = django_user_model.objects.create_user(username="pl")
    assert staff_without_authenticator(staff)
    assert not staff_without_authenticator(plain)
    assert not staff_without_authenticator(None)
    TOTP.activate(staff, generate_totp_secret())
    assert not staff_without_authenticator(staff)


def test_the_admin_shows_the_host_id_and_how_they_signed_up(admin_client, django_user_model):
    member = django_user_model.objects.create_user(username="hosted", signup_method="host")
    SocialAccount.objects.create(user=member, provider="host", uid="guild-7")
    page = admin_client.get(f"/admin/users/user/{member.pk}/change/").content.decode()
    assert "guild-7" in page and "Host site sign-on" in page
    assert 'name="signup_method"' not in page  # read-only
    found = admin_client.get("/admin/users/user/?q=guild-7").content.decode()
    assert "hosted" in found
    assert "Host site sign-on" in admin_client.get("/admin/users/user/").content.decode()


def test_manage_check_runs_the_checks(settings, capsys):
    settings.HOST_OIDC_CLIENT_ID = "only-the-id"
    settings.HOST_OIDC_CLIENT_SECRET = ""
    call_command("check")
    assert "hostsso.W001" in capsys.readouterr().err

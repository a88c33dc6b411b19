"""Staff without an authenticator app neither log in nor connect with BitBadges (a wallet
alone would be a one-factor way into the admin); `manage.py check` warns when Sign in
with BitBadges is off while members have no other way in."""

import io
import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from tests.members_support import verify_email
from tests.siwbb.siwbb_support import (
    ALICE_0X,
    ALICE_BB,
    BOB_BB,
    at_bitbadges,
    back,
    page_text,
    sign_in,
    start,
)
from tests.users.mfa_support import totp_code

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "staff-Pa55word-long"
REFUSED = "Staff log in with their password and authenticator app"


@pytest.fixture
def boss(django_user_model):
    member = django_user_model.objects.create_superuser(
        username="boss", email="boss@example.com", password=PASSWORD
    )
    return verify_email(member)


def _not_logged_in(client) -> bool:
    return client.get("/profile/").status_code == 302


def test_staff_without_an_authenticator_cannot_log_in_with_bitbadges(client, siwbb, boss):
    SocialAccount.objects.create(user=boss, provider="bitbadges", uid=ALICE_BB)
    response = sign_in(client, address=ALICE_0X)
    assert response.status_code == 403 and REFUSED in page_text(response)
    # The way on is the password, not the BitBadges button that led here.
    assert 'class="button primary" href="/login/' in response.content.decode()
    assert "/auth/bitbadges/login/" not in response.content.decode()
    assert _not_logged_in(client)
    assert client.get("/admin/").status_code == 302


def test_a_member_made_staff_after_a_bitbadges_sign_up_is_refused_too(client, siwbb):
    sign_in(client, address=ALICE_0X)
    get_user_model().objects.update(is_staff=True)
    client.logout()
    response = sign_in(client, address=ALICE_0X)
    assert response.status_code == 403 and REFUSED in page_text(response)
    assert _not_logged_in(client)


def test_staff_cannot_connect_bitbadges_without_an_authenticator(client, siwbb, boss):
    client.force_login(boss)
    client.post("/reauthenticate/", {"password": PASSWORD})
    response = client.post("/auth/bitbadges/login/", {"process": "connect", "next": "/profile/"})
    assert response.status_code == 403 and REFUSED in page_text(response)
    assert 'class="button primary" href="/2fa/"' in response.content.decode()
    assert not SocialAccount.objects.exists()


def test_a_connect_that_came_back_for_someone_made_staff_meanwhile_is_refused(
    client, siwbb, django_user_model
):
    carol = verify_email(django_user_model.objects.create_user(username="carol", password=PASSWORD))
    client.force_login(carol)
    client.post("/reauthenticate/", {"password": PASSWORD})
    location = at_bitbadges(start(client, process="connect"), address=BOB_BB)
    django_user_model.objects.filter(pk=carol.pk).update(is_staff=True)
    response = back(client, location)
    assert response.status_code == 403 and REFUSED in page_text(response)
    carol.refresh_from_db()
    assert not SocialAccount.objects.exists() and not carol.address_proven


def test_staff_with_an_authenticator_log_in_with_bitbadges_then_give_the_code(client, siwbb, boss):
    browser = Client()
    browser.post("/login/", {"login": "boss", "password": PASSWORD})
    browser.post("/reauthenticate/?next=/2fa/totp/activate/", {"password": PASSWORD})
    page = browser.get("/2fa/totp/activate/")
    secret = re.search(r'id="authenticator_secret" value="([A-Z2-7=]+)"', page.text)[1]
    assert browser.post("/2fa/totp/activate/", {"code": totp_code(secret)}).status_code == 302
    SocialAccount.objects.create(user=boss, provider="bitbadges", uid=ALICE_BB)
    response = sign_in(client, address=ALICE_0X)
    assert response.status_code == 302 and response["Location"].startswith("/2fa/authenticate/")
    assert _not_logged_in(client)


def _check() -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("check", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_check_warns_when_off_while_members_log_in_only_with_bitbadges(client, siwbb, settings):
    sign_in(client, address=ALICE_0X)
    assert "siwbb.W002" not in _check()  # on: fine
    settings.BITBADGES_CLIENT_ID = settings.BITBADGES_CLIENT_SECRET = ""
    said = _check()
    assert "siwbb.W002" in said and "1 active member(s) log in only with BitBadges" in said
    member = get_user_model().objects.get()
    member.set_password(PASSWORD)
    member.save()
    assert "siwbb.W002" not in _check()  # a password is another way in

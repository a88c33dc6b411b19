"""Where the "Log in with <host>" button is, and what the pages say around it. Host
sign-on is on by its settings alone here (no provider is reached)."""

import pytest
from allauth.socialaccount.models import SocialAccount

from tests.hostsso.host_support import page_text

pytestmark = [pytest.mark.django_db, pytest.mark.one_database]

BUTTON = 'action="/auth/oidc/host/login/"'


@pytest.fixture
def host_settings(settings):
    settings.SANDBOX = True
    settings.HOST_SITE_NAME = "Example Guild"
    settings.HOST_OIDC_ISSUER = "https://guild.example"
    settings.HOST_OIDC_CLIENT_ID = "claims-site"
    settings.HOST_OIDC_CLIENT_SECRET = "a-secret"
    settings.BITBADGES_CLIENT_ID = ""
    return settings


@pytest.fixture
def claim(make_claim, apps):
    return make_claim("github-starter", apps=[apps["github"]])


def test_login_and_signup_have_the_button_and_keep_next(client, host_settings):
    for path in ("/login/?next=/c/github-starter/", "/signup/?next=/c/github-starter/"):
        text = page_text(client.get(path))
        assert BUTTON in text and "Log in with Example Guild" in text, path
        assert 'name="next" value="/c/github-starter/"' in text


def test_the_claim_page_leads_with_the_host(client, host_settings, claim):
    text = page_text(client.get("/c/github-starter/"))
    assert BUTTON in text and "Log in with Example Guild" in text
    assert "Log in with Example Guild: the first time, your account here is made for you" in text
    assert 'name="next" value="/c/github-starter/"' in text
    assert "sign up with an email and password" in text
    host_settings.SIGNUP_OPEN = False
    text = page_text(client.get("/c/github-starter/"))
    assert "Only members of Example Guild can join" in text
    assert "administrator creates accounts" not in text


def test_with_sign_up_closed_the_signup_page_says_who_can_join(client, host_settings):
    host_settings.SIGNUP_OPEN = False
    text = page_text(client.get("/signup/?next=/c/github-starter/"))
    assert "Only members of Example Guild can join" in text and BUTTON in text
    assert 'name="next" value="/c/github-starter/"' in text
    host_settings.HOST_OIDC_CLIENT_SECRET = ""
    text = page_text(client.get("/signup/"))
    assert "Joining is closed" in text and BUTTON not in text


def test_the_name_defaults_to_the_issuer_host_or_the_sandbox(client, host_settings):
    host_settings.HOST_SITE_NAME = ""
    assert "Log in with guild.example" in page_text(client.get("/login/"))
    host_settings.HOST_OIDC_ISSUER = ""
    assert "Log in with Sandbox Community" in page_text(client.get("/login/"))
    host_settings.SANDBOX = False
    assert BUTTON not in page_text(client.get("/login/"))  # no issuer: off


def test_off_there_is_no_button_anywhere(client, host_settings, claim, django_user_model):
    host_settings.HOST_OIDC_CLIENT_ID = ""
    for path in ("/login/", "/signup/", "/c/github-starter/"):
        assert BUTTON not in page_text(client.get(path)), path
    member = django_user_model.objects.create_user(username="carol", password="x-Pa55word-1")
    client.force_login(member)
    assert 'id="host"' not in page_text(client.get("/profile/"))


def test_a_host_login_is_listed_while_off_without_disconnect(
    client, host_settings, django_user_model
):
    member = django_user_model.objects.create_user(username="carol", password="x-Pa55word-1")
    SocialAccount.objects.create(
        user=member, provider="host", uid="guild-42", extra_data={"email": "carol@guild.example"}
    )
    client.force_login(member)
    text = page_text(client.get("/profile/"))
    assert 'id="host"' in text and "carol@guild.example" in text and "guild-42" in text
    assert 'action="/auth/oidc/host/disconnect/"' in text
    host_settings.HOST_OIDC_CLIENT_ID = ""
    text = page_text(client.get("/profile/"))
    assert "guild-42" in text and 'action="/auth/oidc/host/disconnect/"' not in text

"""SIGNUP_OPEN=false with host sign-on on: only members of the host site can join.

A host member's first sign-on makes their account; the email and password form and a
sign-up with BitBadges stay closed (nothing written); a BitBadges member still logs in;
/signup/ says who can join, with the button.
"""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from tests.hostsso.host_support import nothing_written, page_text, sign_on
from tests.siwbb import siwbb_support as bitbadges

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def closed(settings, host):
    settings.SIGNUP_OPEN = False
    bitbadges.siwbb_on(settings, host)
    settings.PUBLIC_URL = host.url
    return host


def test_a_host_member_joins_while_sign_up_is_closed(client, closed):
    response = sign_on(client, member="alice", next_url="/c/github-starter/")
    assert response.status_code == 302 and response["Location"] == "/c/github-starter/"
    member = get_user_model().objects.get()
    assert member.signup_method == "host"
    assert client.get("/profile/").wsgi_request.user == member


def test_the_sign_up_form_is_closed_and_says_who_can_join(client, closed):
    page = page_text(client.get("/signup/?next=/c/github-starter/"))
    assert "Only members of Sandbox Community can join" in page
    assert 'action="/auth/oidc/host/login/"' in page and "Log in with Sandbox Community" in page
    assert 'name="next" value="/c/github-starter/"' in page
    assert 'name="password1"' not in page
    form = {
        "username": "mallory",
        "email": "mallory@example.com",
        "password1": "a-Strong-pass-4-mallory",
        "password2": "a-Strong-pass-4-mallory",
    }
    response = client.post("/signup/", form)
    assert "Only members of Sandbox Community can join" in page_text(response)
    # allauth's social sign-up form: nothing pending, nothing to sign up.
    for method in (client.get, client.post):
        response = method("/auth/social/signup/", form)
        assert response.status_code == 302 and response["Location"] == "/login/"
    nothing_written()


def test_a_bitbadges_newcomer_cannot_join_but_a_bitbadges_member_logs_in(client, closed, settings):
    response = bitbadges.sign_in(client)
    assert "Only members of Sandbox Community can join" in page_text(response)
    nothing_written()
    settings.SIGNUP_OPEN = True
    bitbadges.sign_in(client)
    client.logout()
    settings.SIGNUP_OPEN = False
    assert bitbadges.sign_in(client).status_code == 302
    assert client.get("/profile/").wsgi_request.user.is_authenticated
    assert SocialAccount.objects.get().provider == "bitbadges"

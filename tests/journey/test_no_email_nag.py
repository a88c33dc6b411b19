"""A member whose address Sign in with BitBadges proved is never asked to confirm an
email (banner, home, claim page, claim rows): they read once, quietly, on the home page
that an email is optional and what it is for. A member with neither still sees today's
requests to confirm one."""

import re

import pytest
from allauth.account.models import EmailAddress

from tests.journey.journey_support import address_for, html_text, proven_member
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db

BANNER = "verify-banner"
OPTIONAL = "to hear when you earn a badge or an account stops working"


@pytest.fixture
def starter(apps, make_claim):
    return make_claim("github-starter", apps=[apps["github"]])


def step_of(page: str) -> str:
    return re.search(r'id="landing-progress"[^>]*data-step="([a-z]+)"', page).group(1)


def test_a_proven_member_without_email_is_never_asked_for_one(client, starter):
    client.force_login(proven_member())
    for url in ("/accounts/", "/claims/", "/profile/"):
        page = html_text(client.get(url))
        assert BANNER not in page, url
        assert "Confirm your email" not in page, url
    home = html_text(client.get("/"))
    assert BANNER not in home and 'id="todo-email"' not in home
    assert "Claims and connections" not in home
    assert 'id="email-optional"' in home
    assert f'<a href="/email/">Add an email</a> {OPTIONAL}' in home
    assert home.count(OPTIONAL) == 1
    claims = html_text(client.get("/claims/"))
    assert 'data-fix="email"' not in claims
    landing = html_text(client.get("/c/github-starter/"))
    assert step_of(landing) == "connect"
    assert "Signed in with BitBadges" in landing
    assert 'data-key="email"' in landing and "Confirm your email." not in landing


def test_a_proven_member_with_an_unconfirmed_email_is_told_it_is_optional(client, starter):
    bea = proven_member(email="bea@example.com")
    EmailAddress.objects.create(user=bea, email="bea@example.com", verified=False, primary=True)
    client.force_login(bea)
    assert BANNER not in html_text(client.get("/accounts/"))
    home = html_text(client.get("/"))
    assert 'id="todo-email"' not in home
    assert f'<a href="/email/">Confirm bea@example.com</a> {OPTIONAL}' in home


def test_a_member_with_neither_sees_todays_requests(client, starter, django_user_model):
    tom = django_user_model.objects.create_user(
        username="tom", email="tom@example.com", address=address_for("tom")
    )
    EmailAddress.objects.create(user=tom, email="tom@example.com", verified=False, primary=True)
    client.force_login(tom)
    accounts = html_text(client.get("/accounts/"))
    assert BANNER in accounts and "Confirm your email to connect accounts" in accounts
    home = html_text(client.get("/"))
    assert 'id="todo-email"' in home and 'id="email-optional"' not in home
    assert 'data-fix="email"' in html_text(client.get("/claims/"))
    assert step_of(html_text(client.get("/c/github-starter/"))) == "email"


def test_a_member_with_a_confirmed_email_reads_no_note(client, starter, django_user_model):
    ada = verify_email(
        django_user_model.objects.create_user(
            username="ada", email="ada@example.com", address=address_for("ada")
        )
    )
    client.force_login(ada)
    home = html_text(client.get("/"))
    assert BANNER not in home and 'id="todo-email"' not in home
    assert 'id="email-optional"' not in home
    # Proven too: still no note (the email is there).
    both = verify_email(proven_member("both", email="both@example.com"))
    client.force_login(both)
    assert 'id="email-optional"' not in html_text(client.get("/"))

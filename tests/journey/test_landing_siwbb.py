"""The claim page /c/<slug>/ starts with "Sign in with BitBadges" for a newcomer when the
site has it (BITBADGES_CLIENT_ID and _SECRET), signing up and logging in below it; with it
off the page is as before. Its `next` is always the claim page itself. A member whose
address is not proven, on a claim that takes only a proven one, is shown that step."""

import re

import pytest
from allauth.account.models import EmailAddress

from tests.journey.journey_support import address_for, html_text, proven_member

pytestmark = pytest.mark.django_db

URL = "/c/github-starter/"
BUTTON = '<form method="post" action="/auth/bitbadges/login/" class="siwbb-form">'


@pytest.fixture
def siwbb(settings):
    settings.BITBADGES_CLIENT_ID = "journey-client"
    settings.BITBADGES_CLIENT_SECRET = "journey-secret-not-shown"
    return settings


@pytest.fixture
def starter(apps, make_claim):
    return make_claim("github-starter", apps=[apps["github"]])


def forms(page: str) -> list[dict]:
    """The BitBadges forms of the page: their hidden fields and button text."""
    found = []
    for form in re.findall(r'<form[^>]*class="siwbb-form">.*?</form>', page, flags=re.S):
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
        fields.pop("csrfmiddlewaretoken", None)
        fields["button"] = re.search(r"<button[^>]*>(.*?)</button>", form, flags=re.S).group(1)
        found.append(fields)
    return found


def test_a_newcomer_is_offered_sign_in_with_bitbadges_first(client, siwbb, starter):
    page = html_text(client.get(URL))
    assert forms(page) == [{"process": "login", "next": URL, "button": "Sign in with BitBadges"}]
    # First: before the password sign-up and the log-in, which stay as the alternative.
    progress = page[page.index('id="landing-progress"') :]
    signup = progress.index(f'href="/signup/?next={URL}"')
    login = progress.index(f'href="/login/?next={URL}"')
    assert progress.index(BUTTON) < signup < login
    assert "sign up with an email and password" in progress
    assert "journey-secret-not-shown" not in page


def test_with_sign_in_with_bitbadges_off_the_page_is_as_before(client, settings, starter):
    settings.BITBADGES_CLIENT_ID = ""
    settings.BITBADGES_CLIENT_SECRET = ""
    page = html_text(client.get(URL))
    assert "siwbb-form" not in page and "BitBadges account" not in page
    assert "Sign up to claim it" in page
    assert "A confirmed email address" in page


@pytest.mark.parametrize("setting", ["BITBADGES_CLIENT_ID", "BITBADGES_CLIENT_SECRET"])
def test_half_configured_is_off(client, siwbb, starter, setting):
    setattr(siwbb, setting, "")
    assert "siwbb-form" not in html_text(client.get(URL))


@pytest.mark.parametrize(
    "hostile",
    [
        "https://evil.example/",
        "//evil.example/c/github-starter/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/admin/",
        "/c/other/",
        "x" * 5000,
    ],
)
def test_the_buttons_next_is_always_this_claim_page(client, siwbb, starter, hostile):
    response = client.get(URL, {"next": hostile})
    assert response.status_code == 200
    page = html_text(response)
    assert [form["next"] for form in forms(page)] == [URL]
    assert "evil.example" not in page and "alert(1)" not in page


def test_signup_closed_keeps_the_button_and_the_log_in(client, siwbb, starter):
    siwbb.SIGNUP_OPEN = False
    page = html_text(client.get(URL))
    assert [form["process"] for form in forms(page)] == ["login"]
    assert f'href="/login/?next={URL}"' in page and "/signup/" not in page
    assert "Joining is by invitation" in page


def test_a_closed_claim_offers_no_button(client, siwbb, apps, make_claim):
    import datetime

    from django.utils import timezone

    make_claim(
        "github-starter",
        apps=[apps["github"]],
        ends_at=timezone.now() - datetime.timedelta(days=1),
    )
    assert "siwbb-form" not in html_text(client.get(URL))


def test_a_typed_address_on_a_claim_that_takes_only_a_proven_one_shows_the_prove_step(
    client, siwbb, apps, make_claim, django_user_model
):
    make_claim("github-starter", apps=[apps["github"]], require_proven_address=True)
    tom = django_user_model.objects.create_user(username="tom", address=address_for("tom"))
    EmailAddress.objects.create(user=tom, email="tom@example.com", verified=True, primary=True)
    client.force_login(tom)
    page = html_text(client.get(URL))
    assert 'data-step="prove"' in page
    assert "Prove your BitBadges address." in page
    assert forms(page) == [{"process": "connect", "next": URL, "button": "Connect BitBadges"}]
    # Once proven, the next step is the app.
    bea = proven_member()
    client.force_login(bea)
    page = html_text(client.get(URL))
    assert 'data-step="connect"' in page and 'data-key="prove"' in page
    # With the feature off there is no way to prove it: said, no button.
    siwbb.BITBADGES_CLIENT_ID = ""
    client.force_login(tom)
    page = html_text(client.get(URL))
    assert 'data-step="prove"' in page and "siwbb-form" not in page
    assert "Sign in with BitBadges is not available on this site right now" in page


def test_a_member_with_neither_may_connect_bitbadges_instead_of_the_email(
    client, siwbb, starter, django_user_model
):
    tom = django_user_model.objects.create_user(username="tom", email="tom@example.com")
    EmailAddress.objects.create(user=tom, email="tom@example.com", verified=False, primary=True)
    client.force_login(tom)
    page = html_text(client.get(URL))
    assert 'data-step="email"' in page
    assert "Or connect BitBadges instead" in page
    assert [form["process"] for form in forms(page)] == ["connect"]


def test_home_and_the_claims_page_ask_for_the_proof_once(
    client, siwbb, apps, make_claim, django_user_model
):
    for slug in ("proof-one", "proof-two"):
        make_claim(slug, apps=[apps["github"]], require_proven_address=True)
    make_claim("github-starter", apps=[apps["github"]])
    tom = django_user_model.objects.create_user(username="tom", address=address_for("tom"))
    EmailAddress.objects.create(user=tom, email="tom@example.com", verified=True, primary=True)
    client.force_login(tom)
    home = html_text(client.get("/"))
    item = re.search(r'<li class="home-todo-item" id="todo-prove">.*?</li>', home, re.S).group(0)
    assert "Proof One" in item and "Proof Two" in item and "Github Starter" not in item
    # One button: connecting BitBadges once proves the address for every claim.
    assert forms(item) == [{"process": "connect", "next": "/", "button": "Connect BitBadges"}]
    claims = html_text(client.get("/claims/"))
    # One row per such claim (claims.selectors), each with its Connect BitBadges form.
    assert claims.count('data-fix="prove"') == 2
    assert claims.count("Prove this address is yours: connect BitBadges") == 2
    assert [form["process"] for form in forms(claims)] == ["connect", "connect"]
    # Proven: nothing asks for it any more.
    client.force_login(proven_member())
    assert 'id="todo-prove"' not in html_text(client.get("/"))
    assert 'data-fix="prove"' not in html_text(client.get("/claims/"))

"""A member with neither a confirmed email nor a proven address (a BitBadges sign-up whose
address changed since): the banner, the connect refusal, the home page, the
claim rows and the claim page offer connecting BitBadges while Sign in with BitBadges is
on, and none says "we sent a link" to a member who has no email. Over HTTP; the banner's
button, followed through the sandbox, brings the proof back."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.account.models import EmailAddress

from tests.journey.journey_support import PROVEN_ADDRESS, address_for, html_text, proven_member
from tests.siwbb.siwbb_support import at_bitbadges, back

START = "/c/github-starter/"
CONFIRM_PATH = "/auth/bitbadges/reauthenticate/"  # Confirm with BitBadges
SENT = re.compile(r"(?i)we sent (you )?a link")
BANNER = re.compile(r'<div class="verify-banner".*?</div>\s*</div>', re.S)
CONNECT_FORM = re.compile(
    r'<form method="post" action="/auth/bitbadges/login/"[^>]*>.*?'
    r'name="process" value="connect".*?</form>',
    re.S,
)


@pytest.fixture
def starter(apps, make_claim):
    return make_claim("github-starter", apps=[apps["github"]])


@pytest.fixture
def siwbb_settings(settings):
    """Sign in with BitBadges on (the pages only read the switch)."""
    settings.BITBADGES_CLIENT_ID = "connect-claim-test"
    settings.BITBADGES_CLIENT_SECRET = "test-client-secret-0123456789abcdef"
    return settings


def typed_elsewhere(client, **fields):
    """A BitBadges sign-up, logged in, whose address is no longer the one BitBadges proved
    (changed before /claims/ refused such a change to a member without a confirmed
    email, or by staff): no proof."""
    bea = proven_member(**fields)
    type(bea).objects.filter(pk=bea.pk).update(address=address_for("typo"))
    client.force_login(bea)
    bea.refresh_from_db()
    assert bea.address == address_for("typo") and not bea.address_proven
    return bea


def banner(page: str) -> str:
    found = BANNER.search(page)
    assert found, "no banner"
    return found.group(0)


@pytest.mark.django_db
def test_with_bitbadges_on_every_page_offers_it_and_sends_no_link(client, starter, siwbb_settings):
    typed_elsewhere(client)
    top = banner(html_text(client.get("/accounts/")))
    assert "Connect BitBadges or add an email address to connect accounts" in top
    form = CONNECT_FORM.search(top)
    assert form and 'name="next" value="/accounts/"' in form.group(0)
    assert '<a href="/email/">Add an email</a>' in top
    assert not SENT.search(top)

    refused = client.post("/connect/token/", {"app": "github"})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error.startswith("Connect BitBadges on your profile to prove your address, or add")
    assert not SENT.search(error)
    page = client.get(f"/connect/github/?next={START}")
    assert page.status_code == 403 and "Connect BitBadges on your profile" in page.text
    assert "Confirm your email or connect BitBadges first" in page.text

    home = html_text(client.get("/"))
    item = re.search(r'id="todo-email">.*?</li>', home, re.S).group(0)
    assert "Connect BitBadges to prove your address, or add an email address" in item
    assert CONNECT_FORM.search(item) and 'href="/email/"' in item
    assert not SENT.search(home)

    claims = html_text(client.get("/claims/"))
    assert "Connect BitBadges on your profile to prove your address" in claims
    assert not SENT.search(claims)

    landing = html_text(client.get(START))
    assert 'data-step="email"' in landing
    assert "Add an email address and confirm it." in landing
    assert "Or connect BitBadges instead" in landing
    assert not SENT.search(landing) and "Open it" not in landing


@pytest.mark.django_db
def test_with_bitbadges_off_only_the_email_is_asked_for(client, starter, settings):
    settings.BITBADGES_CLIENT_ID = settings.BITBADGES_CLIENT_SECRET = ""
    typed_elsewhere(client)
    top = banner(html_text(client.get("/accounts/")))
    assert "Add an email address to connect accounts" in top
    assert "BitBadges" not in top and not SENT.search(top)
    error = client.post("/connect/token/", {"app": "github"}).json()["error"]
    assert error.startswith("Add an email address and confirm it first")
    assert "BitBadges" not in error
    home = html_text(client.get("/"))
    assert "Add an email address. Claims and connections need a confirmed one." in home
    assert "/auth/bitbadges/login/" not in home and not SENT.search(home)
    claims = html_text(client.get("/claims/"))
    assert "Add an email address in your email settings and confirm it." in claims
    assert not SENT.search(claims)
    assert not SENT.search(html_text(client.get(START)))


@pytest.mark.django_db
def test_a_pending_email_is_named_with_bitbadges_as_the_other_way(client, starter, siwbb_settings):
    bea = typed_elsewhere(client, email="bea@example.com")
    EmailAddress.objects.create(user=bea, email="bea@example.com", verified=False, primary=True)
    top = banner(html_text(client.get("/accounts/")))
    assert "we sent a link to <strong" in top and "bea@example.com" in top
    assert "Or connect BitBadges instead" in top and CONNECT_FORM.search(top)
    error = client.post("/connect/token/", {"app": "github"}).json()["error"]
    assert "we sent a link to bea@example.com" in error
    assert "Or connect BitBadges on your profile instead" in error
    item = re.search(r'id="todo-email">.*?</li>', html_text(client.get("/")), re.S).group(0)
    assert "we sent a link to <strong>bea@example.com</strong>" in item
    assert "or for an address you prove by connecting BitBadges" in item
    assert 'name="action_send"' in item and CONNECT_FORM.search(item)


@pytest.mark.django_db(transaction=True)
def test_the_banners_button_brings_the_proof_back(client, starter, upstreams, siwbb_sandbox):
    bea = typed_elsewhere(client)
    top = banner(html_text(client.get("/claims/")))
    form = CONNECT_FORM.search(top).group(0)
    fields = dict(re.findall(r'name="(process|next)" value="([^"]*)"', form))
    assert fields == {"process": "connect", "next": "/claims/"}
    response = client.post("/auth/bitbadges/login/", fields)
    # The BitBadges account of the sign-up: connecting it again restores its address.
    # A member without a password may first be asked to confirm with BitBadges (as them).
    for _ in range(4):
        assert response.status_code == 302, response.content[:300]
        location = response["Location"]
        if location.startswith(CONFIRM_PATH):
            held = parse_qs(urlsplit(location).query)
            response = client.post(CONFIRM_PATH, {"next": held["next"][0]} if held else {})
        elif "://" in location:  # at BitBadges (the sandbox)
            response = back(client, at_bitbadges(location, address=PROVEN_ADDRESS.lower()))
        else:
            break
    assert response["Location"] == "/claims/"
    bea.refresh_from_db()
    assert bea.address_proven and bea.address == PROVEN_ADDRESS
    assert 'class="verify-banner"' not in html_text(client.get("/claims/"))
    minted = client.post("/connect/token/", {"app": "github"})
    assert minted.status_code == 200 and minted.json()["token"]

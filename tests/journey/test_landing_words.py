"""The claim page's and home's words for a member who signed in with BitBadges: step 2
says the address is proven, "What it takes" no longer offers the email way to someone
who has taken the BitBadges one, the progress badge never says "Not started" once steps
are done, home says that changing a proven address removes the proof; a member refused
with "Already claimed for this address." is shown where to check their address, on the
claim page as on /claims/; with Sign in with BitBadges off, /claims/' prove row says it
cannot be done, as home and the claim page do."""

import re

import pytest
from allauth.account.models import EmailAddress

from claims.models import Claim, Completion
from tests.claims.claims_support import ALICE_ADDRESS, run_worker
from tests.journey.journey_support import address_for, html_text, proven_member
from tests.members_support import verify_email

# Words and translations: the database engine changes none of it (CI: one database).
pytestmark = pytest.mark.one_database

URL = "/c/github-starter/"
EMAIL_WAY = "Or: an account here with a confirmed email address"
CLAIMED = "Already claimed for this address."
CHECK_LINK = '<a class="req-fix" href="/claims/#address" data-fix="address-claimed">'
UNAVAILABLE = "Sign in with BitBadges is not available on this site right now"


@pytest.fixture
def siwbb(settings):
    settings.BITBADGES_CLIENT_ID = "journey-client"
    settings.BITBADGES_CLIENT_SECRET = "journey-secret"
    return settings


@pytest.fixture
def starter(apps, make_claim):
    return make_claim("github-starter", apps=[apps["github"]])


def step_label(page: str, key: str) -> str:
    found = re.search(rf'data-key="{key}">.*?<span class="step-label">(.*?)</span>', page, re.S)
    return found.group(1)


def badge(page: str) -> str:
    head = re.search(r'<div class="claim-head">(.*?)</div>', page, re.S).group(1)
    return re.sub(r"<[^>]+>", "", head.split("</h2>", 1)[1]).strip()


@pytest.mark.django_db
def test_a_proven_member_reads_proven_and_no_email_way(client, siwbb, starter):
    client.force_login(proven_member())
    page = html_text(client.get(URL))
    assert step_label(page, "address").startswith("BitBadges address proven")
    assert EMAIL_WAY not in page
    assert "Your BitBadges account: signing in with it proves" in page
    assert badge(page) == "Ready for GitHub"
    assert "Not started" not in page


@pytest.mark.django_db
def test_a_typed_member_reads_set_and_keeps_the_email_way(
    client, siwbb, starter, django_user_model
):
    ada = verify_email(
        django_user_model.objects.create_user(
            username="ada", email="ada@example.com", address=address_for("ada")
        )
    )
    client.force_login(ada)
    page = html_text(client.get(URL))
    assert step_label(page, "address").startswith("BitBadges address set")
    assert EMAIL_WAY in page
    assert badge(page) == "Ready for GitHub"
    # Nothing done yet: then it is "Not started".
    client.force_login(django_user_model.objects.create_user(username="new"))
    page = html_text(client.get(URL))
    assert 'data-step="email"' in page and badge(page) == "Not started"


@pytest.mark.django_db
def test_everything_in_place_but_not_started_shows_no_badge(
    client, siwbb, make_claim, django_user_model
):
    make_claim("github-starter", apps=[])  # no app to connect: the next step is Check now
    client.force_login(proven_member())
    page = html_text(client.get(URL))
    assert 'data-step="check"' in page
    assert badge(page) == ""


@pytest.mark.django_db
def test_home_says_changing_a_proven_address_removes_the_proof(client, starter, django_user_model):
    client.force_login(proven_member())
    change = re.search(r'id="address-change">(.*?)</p>', html_text(client.get("/")), re.S)
    assert "Changing it removes the BitBadges proof" in change.group(1)
    tom = django_user_model.objects.create_user(username="tom", address=address_for("tom"))
    EmailAddress.objects.create(user=tom, email="tom@example.com", verified=True, primary=True)
    client.force_login(tom)
    change = re.search(r'id="address-change">(.*?)</p>', html_text(client.get("/")), re.S)
    assert "Change it on" in change.group(1) and "proof" not in change.group(1)


@pytest.mark.django_db
def test_with_bitbadges_off_the_prove_row_says_it_cannot_be_done(
    client, settings, apps, make_claim
):
    settings.BITBADGES_CLIENT_ID = settings.BITBADGES_CLIENT_SECRET = ""
    make_claim("github-starter", apps=[apps["github"]], require_proven_address=True)
    member = proven_member()
    member.address = address_for("typed")
    member.save()  # typed: the proof is gone
    verify_email(member, "bea@example.com")
    client.force_login(member)
    claims = html_text(client.get("/claims/"))
    row = re.search(r'data-fix="prove">.*?</li>', claims, re.S).group(0)
    assert f"{UNAVAILABLE}: this claim waits until it is." in row
    assert "connect BitBadges on your profile" not in claims
    assert UNAVAILABLE in html_text(client.get("/"))
    assert UNAVAILABLE in html_text(client.get(URL))


@pytest.mark.django_db(transaction=True)
def test_the_claim_pages_loser_is_shown_where_to_check_the_address(
    client, demo_claims, connect, django_user_model
):
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    claim.one_completion_per_address = True
    claim.save()
    ann, ben = (
        verify_email(
            django_user_model.objects.create_user(
                username=name, email=f"{name}@example.com", address=ALICE_ADDRESS
            )
        )
        for name in ("ann", "ben")
    )
    connect(ann, "github", "ann-gh")
    run_worker()
    connect(ben, "github", "ben-gh")
    run_worker()
    refused = Completion.objects.get(claim=claim, member=ben)
    assert (refused.state, refused.reason) == ("ineligible", CLAIMED)

    client.force_login(ben)
    page = html_text(client.get(URL))
    progress = page[page.index('id="landing-progress"') :]
    assert CLAIMED in progress
    assert f"{CHECK_LINK}Check your address</a>" in progress
    # The page's part htmx asks for again says it too.
    part = html_text(client.get(URL, headers={"HX-Request": "true"}))
    assert CLAIMED in part and CHECK_LINK in part
    # The winner reads no such link.
    client.force_login(ann)
    assert CHECK_LINK not in html_text(client.get(URL))

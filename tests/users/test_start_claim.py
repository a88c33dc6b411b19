"""The claim page a person set out from is where they land after sign-up, confirming
their email (in the same browser or another, logged-out one) and logging in, while that
claim is open to them: every login before the email is confirmed, then once (a guide,
not a trap). An explicit `next` still wins, and nothing but a local claim page is ever
kept or followed."""

import datetime
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from claims import wording
from claims.models import Completion

pytestmark = pytest.mark.django_db

PASSWORD = "purple-Kettle-42-river"
START = "/c/github-starter/"


@pytest.fixture
def claim(make_claim, apps):
    return make_claim("github-starter", apps=[apps["github"]])


def sign_up(client, next_url=START, username="carol"):
    data = {
        "username": username,
        "email": f"{username}@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "next": next_url,
    }
    return client.post("/signup/", data)


def confirmation_path() -> str:
    [message] = mail.outbox[-1:]
    return re.search(r"/confirm-email/\S+/", message.body).group(0)


def log_in(client, username="carol", next_url=None):
    data = {"login": username, "password": PASSWORD}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login/", data)


def local(location: str) -> bool:
    """A redirect that stays on this site (a query may quote anything)."""
    parts = urlsplit(location)
    return not parts.scheme and not parts.netloc and not location.startswith(("//", "\\"))


def carol():
    return get_user_model().objects.get(username="carol")


def test_the_landing_page_sends_visitors_to_sign_up_with_the_claim_as_next(client, claim):
    page = client.get(START).content.decode()
    assert 'href="/signup/?next=/c/github-starter/"' in page


def test_confirmed_in_another_logged_out_browser_then_login_lands_on_the_claim(client, claim):
    assert sign_up(client).status_code == 302
    assert carol().start_path == START
    elsewhere = client.__class__()
    confirmed = elsewhere.post(confirmation_path())
    assert confirmed.status_code == 302
    assert "_auth_user_id" not in elsewhere.session
    response = log_in(elsewhere)
    assert (response.status_code, response["Location"]) == (302, START)


def test_confirmed_in_the_signing_up_browser_lands_on_the_claim(client, claim):
    sign_up(client)
    response = client.post(confirmation_path())
    assert (response.status_code, response["Location"]) == (302, START)
    assert client.session["_auth_user_id"] == str(carol().pk)


def test_confirmed_while_logged_in_lands_on_the_claim(client, claim):
    sign_up(client)
    log_in(client)  # logged in before confirming (allowed: verification is optional)
    response = client.post(confirmation_path())
    assert (response.status_code, response["Location"]) == (302, START)


def test_every_login_before_the_email_is_confirmed_lands_on_the_claim(client, claim):
    sign_up(client)
    for _ in range(2):  # a new session each time
        client.logout()
        response = log_in(client)
        assert response["Location"] == START
    client.logout()
    # An explicit safe `next` wins, and does not replace the claim kept.
    assert log_in(client, next_url="/accounts/")["Location"] == "/accounts/"
    client.logout()
    assert log_in(client)["Location"] == START


def test_once_confirmed_elsewhere_the_next_login_lands_there_and_later_ones_at_home(client, claim):
    sign_up(client)
    elsewhere = client.__class__()
    elsewhere.post(confirmation_path())
    assert log_in(elsewhere)["Location"] == START
    assert carol().start_path == ""  # used: the home page lists what needs them
    client.logout()
    assert log_in(client)["Location"] == "/"


def test_confirmed_in_the_signing_up_browser_is_used_there(client, claim):
    sign_up(client)
    assert client.post(confirmation_path())["Location"] == START
    client.logout()
    assert log_in(client)["Location"] == "/"


def test_confirmed_while_logged_in_is_used_there(client, claim):
    sign_up(client)
    log_in(client)
    assert client.post(confirmation_path())["Location"] == START
    client.logout()
    assert log_in(client)["Location"] == "/"


def test_a_confirmed_member_logging_in_from_a_claim_page_lands_there_once(
    client, claim, make_claim, member
):
    make_claim("stars")
    response = client.post("/login/", {"login": "alice", "password": "connect-demo"})
    assert response["Location"] == "/"  # no start claim: the home page
    client.logout()
    response = client.post(
        "/login/", {"login": "alice", "password": "connect-demo", "next": "/c/stars/"}
    )
    assert response["Location"] == "/c/stars/"
    member.refresh_from_db()
    assert member.start_path == ""  # arrived already: nothing to send her back to
    client.logout()
    response = client.post("/login/", {"login": "alice", "password": "connect-demo"})
    assert response["Location"] == "/"


def test_an_unconfirmed_member_logging_in_from_another_claim_page_keeps_that_one(
    client, claim, make_claim
):
    make_claim("stars")
    sign_up(client)
    assert log_in(client, next_url="/c/stars/")["Location"] == "/c/stars/"
    assert carol().start_path == "/c/stars/"
    client.logout()
    assert log_in(client)["Location"] == "/c/stars/"


@pytest.mark.parametrize("ending", ["completed", "revoked", "disabled"])
def test_a_settled_or_disabled_claim_is_forgotten(client, claim, ending):
    sign_up(client)
    if ending == "disabled":
        claim.enabled = False
        claim.save(update_fields=["enabled"])
    else:
        Completion.objects.create(claim=claim, member=carol(), state=ending)
    response = log_in(client)
    assert response["Location"] == "/"
    assert carol().start_path == ""


def _stop(claim, kind):
    """Give `claim` a stop of `kind` (claims/life.py stop_for), as BitBadges' reading or
    the site's own window would."""
    now = timezone.now()
    fields = {
        "closed": {"ends_at": now - datetime.timedelta(hours=1)},
        "used_up": {"life_max_uses": 10, "life_used": 10},
        "halted": {"life_halted": True},
        "not_open": {"starts_at": now + datetime.timedelta(days=2)},
    }[kind]
    for name, value in fields.items():
        setattr(claim, name, value)
    claim.save(update_fields=list(fields))


@pytest.mark.parametrize("kind", ["closed", "used_up", "halted", "not_open"])
def test_a_claim_that_takes_no_deliveries_is_no_place_to_land(client, claim, kind):
    sign_up(client)
    _stop(claim, kind)
    assert log_in(client)["Location"] == "/"
    assert carol().start_path == ""


@pytest.mark.parametrize(
    ("reason", "lands"),
    [
        (sorted(wording.SETTINGS_FAILURES)[0], "/"),  # only an administrator can change it
        ("Pipedream did not answer while checking your account; we will try again.", START),
    ],
)
def test_a_failure_on_the_claims_own_settings_is_no_place_to_land(client, claim, reason, lands):
    sign_up(client)
    Completion.objects.create(claim=claim, member=carol(), state="failed", reason=reason)
    assert log_in(client)["Location"] == lands


HOSTILE = [
    "//evil.com",
    "https://evil.com",
    "https://evil.com/c/github-starter/",
    "/\\evil.com",
    "\\\\evil.com",
    "javascript:alert(1)",
    "/%2F%2Fevil.com",
    "%2F%2Fevil.com/c/github-starter/",
    "/c/github-starter/%2F..%2F..%2Faccounts",
    "/c/" + "a" * 500 + "/",
    "/c/github-starter/\r\nLocation: https://evil.com",
    "/claims/",
    "/admin/",
    "",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_next_is_never_kept_nor_followed(client, claim, hostile):
    response = sign_up(client, next_url=hostile)
    assert response.status_code == 302
    assert local(response["Location"])
    assert carol().start_path == ""
    client.logout()
    response = log_in(client, next_url=hostile)
    assert response.status_code == 302
    assert local(response["Location"])  # allauth's own check of `next`
    assert carol().start_path == ""


def test_only_the_path_of_a_claim_next_is_kept(client, claim):
    sign_up(client, next_url=START + "?from=https://evil.com#x")
    assert carol().start_path == START

"""/claims/: every unmet requirement carries its fix, Check again only when a check could
give a new answer, claims ordered by what the member can do now, and an earned claim
stays earned whatever happens to the accounts later (issue 20, items 2 and 3)."""

import datetime
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claims import wording
from claims.models import Completion, TriggerDeployment
from connections.models import App, ConnectedAccount
from tests.claims.claims_support import ALICE_ADDRESS, add_check
from tests.claims.pages_support import account, claim_block

pytestmark = pytest.mark.django_db

State = Completion.State
URL = "/claims/"
SENTENCE = "Have at least 5 public repositories"


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True, order=1)


@pytest.fixture
def discord():
    return App.objects.create(slug="discord", name="Discord", enabled=True, order=2)


@pytest.fixture
def alice_client(client, member):
    member.address = ALICE_ADDRESS
    member.save()
    client.force_login(member)
    return client


def page(client) -> str:
    response = client.get(URL)
    assert response.status_code == 200
    return response.content.decode()


def order(body: str) -> list[str]:
    return re.findall(r'<li class="card claim[^"]*" id="claim-([a-z0-9-]+)"', body)


CHECK_AGAIN = ">Check again<"


@pytest.fixture
def repos_claim(make_claim, github):
    """A check of GitHub's public repositories, in the operator's words, with a link."""
    claim = make_claim("builders", name="Builders")
    add_check(
        claim,
        github,
        action="github-get-current-user",
        path="user.public_repos",
        comparison="gte",
        value="5",
        text=SENTENCE,
    )
    requirement = claim.requirements.get()
    requirement.link = "https://github.com/new"
    requirement.save()
    return claim


def not_yet(claim, member, **fields) -> Completion:
    rule = claim.requirements.exclude(kind="account").get().rule_key
    return Completion.objects.create(
        claim=claim,
        member=member,
        state=State.INELIGIBLE,
        reason="Not yet.",
        evidence=[
            {"rule": "app:github", "passed": True, "value": "1 account"},
            {"rule": rule, "passed": False, "value": "3", "detail": "Not yet."},
        ],
        **fields,
    )


# --- Each fix, for its case only -----------------------------------------------------------


def test_a_missing_account_is_connected_from_its_row(alice_client, member, make_claim, github):
    make_claim("starter", apps=[github])
    row = claim_block(page(alice_client), "starter")
    assert 'data-fix="connect"' in row
    assert re.search(r'href="/connect/github/(\?next=[^"]*)?" data-connect data-app="github"', row)
    assert "Connect GitHub" in row
    assert CHECK_AGAIN not in row  # the fix is the button, not a check

    account(member, github)
    row = claim_block(page(alice_client), "starter")
    assert "data-fix" not in row and "data-connect" not in row
    assert CHECK_AGAIN in row  # everything in place: a check could complete it


def test_an_unhealthy_account_is_reconnected_from_its_row(alice_client, member, make_claim, github):
    make_claim("starter", apps=[github])
    broken = account(member, github, healthy=False, error="token revoked")
    row = claim_block(page(alice_client), "starter")
    assert 'data-fix="reconnect"' in row
    assert f'href="/connect/github/?account={broken.pk}' in row
    assert f'data-account="{broken.pk}"' in row
    assert "Reconnect GitHub" in row
    assert CHECK_AGAIN not in row

    broken.healthy = True
    broken.save()
    row = claim_block(page(alice_client), "starter")
    assert "Reconnect" not in row and CHECK_AGAIN in row


def test_the_address_link_points_up_at_the_form(alice_client, member, make_claim, github):
    make_claim("starter", apps=[github])
    account(member, github)
    member.address = ""
    member.save()
    body = page(alice_client)
    row = claim_block(body, "starter")
    assert 'data-fix="address"' in row
    assert '<a class="req-fix" href="#address">Add your address above' in row
    assert "below" not in row
    assert body.index('id="address"') < body.index('id="claims"')  # it is above
    assert CHECK_AGAIN not in row

    member.address = ALICE_ADDRESS
    member.save()
    row = claim_block(page(alice_client), "starter")
    assert 'href="#address"' not in row and CHECK_AGAIN in row


def test_an_app_nobody_can_connect_offers_no_button(alice_client, make_claim, github):
    github.enabled = False
    github.save()
    make_claim("starter", apps=[github])
    row = claim_block(page(alice_client), "starter")
    assert "an administrator has to make it available" in row
    assert "data-connect" not in row and CHECK_AGAIN not in row


def test_one_connected_app_of_the_any_group_is_enough(
    alice_client, member, make_claim, github, discord
):
    from tests.claims.claims_support import require

    claim = make_claim("team")
    require(claim, github, discord, group="any")
    row = claim_block(page(alice_client), "team")
    assert "Connect GitHub" in row and "Connect Discord" in row

    account(member, discord)
    row = claim_block(page(alice_client), "team")
    assert "data-connect" not in row
    assert CHECK_AGAIN in row


# --- Not yet: what would change the answer, and when it is asked again ------------------------


def test_not_yet_says_what_is_missing_with_the_fact_and_the_link(
    alice_client, member, repos_claim, github
):
    account(member, github)
    not_yet(repos_claim, member)
    row = claim_block(page(alice_client), "builders")
    assert (
        f'<a class="req-link" href="https://github.com/new" target="_blank" '
        f'rel="noopener noreferrer">{SENTENCE}</a>: <span class="req-fact">you have 3</span>'
    ) in row
    assert "Nothing checks it again by itself: press Check again" in row
    assert CHECK_AGAIN in row
    assert "seen:" not in row and "public_repos" not in row and "≥" not in row


def test_not_yet_says_when_the_schedule_checks_again(alice_client, member, repos_claim, github):
    account(member, github)
    repos_claim.recheck_interval = datetime.timedelta(days=1)
    repos_claim.save()
    when = timezone.now() + datetime.timedelta(days=2)
    not_yet(repos_claim, member, recheck_at=when)
    row = claim_block(page(alice_client), "builders")
    shown = timezone.localtime(when).strftime("%-d %b, %H:%M")
    assert f"We check again by ourselves on {shown}, then every day or less often" in row
    assert "press Check again" not in row


def test_a_recheck_already_due_is_promised_for_now(alice_client, member, repos_claim, github):
    """A recheck_at in the past is taken by the next rechecks_due: soon, not never."""
    account(member, github)
    repos_claim.recheck_interval = datetime.timedelta(days=1)
    repos_claim.save()
    not_yet(repos_claim, member, recheck_at=timezone.now() - datetime.timedelta(minutes=5))
    row = claim_block(page(alice_client), "builders")
    assert "We check again by ourselves in a moment." in row
    assert "press Check again" not in row


def test_no_promise_when_nothing_is_scheduled(alice_client, member, repos_claim, github):
    """A claim's interval alone is no promise: a row held, or changed by staff, has no
    recheck_at, and the engine never picks it up. The member keeps Check again."""
    account(member, github)
    repos_claim.recheck_interval = datetime.timedelta(days=1)
    repos_claim.save()
    not_yet(repos_claim, member)  # the claim re-checks daily, this row has no date
    row = claim_block(page(alice_client), "builders")
    assert "by ourselves" not in row
    assert "Nothing checks it again by itself: press Check again" in row
    assert CHECK_AGAIN in row


def test_a_recheck_at_of_a_claim_without_an_interval_is_no_promise(
    alice_client, member, repos_claim, github
):
    """rechecks_due takes only claims that still have an interval."""
    account(member, github)
    not_yet(repos_claim, member, recheck_at=timezone.now() + datetime.timedelta(days=2))
    row = claim_block(page(alice_client), "builders")
    assert "by ourselves" not in row and CHECK_AGAIN in row


def test_no_check_again_after_a_failure_of_the_claims_settings(
    alice_client, member, make_claim, github
):
    """A check cannot change a failure of the claim's own settings: only an admin can."""
    claim = make_claim("starter", apps=[github])
    account(member, github)
    Completion.objects.create(
        claim=claim, member=member, state=State.FAILED, reason=wording.SETTINGS_NEED_ATTENTION
    )
    row = claim_block(page(alice_client), "starter")
    assert CHECK_AGAIN not in row
    assert wording.SETTINGS_NEED_ATTENTION.replace("'", "&#x27;") in row


def test_not_yet_says_which_event_completes_it(alice_client, member, repos_claim, github):
    account(member, github)
    repos_claim.trigger_event_label = "you star bitbadges/bitbadgesjs"
    repos_claim.save()
    TriggerDeployment.objects.create(
        claim=repos_claim, member=member, status=TriggerDeployment.Status.ACTIVE
    )
    not_yet(repos_claim, member)
    row = claim_block(page(alice_client), "builders")
    assert "We'll complete this as soon as you star bitbadges/bitbadgesjs." in html.unescape(row)


# --- Check again: only when a check could give a new answer -----------------------------------


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        (State.INELIGIBLE, True),
        (State.FAILED, True),
        (State.WAITING, False),
        (State.CHECKING, False),
        (State.DELIVERING, False),
        (State.RETRYING, False),
        (State.COMPLETED, False),
        (State.REVOKED, False),
    ],
)
def test_check_again_by_state(alice_client, member, make_claim, github, state, shown):
    claim = make_claim("starter", apps=[github])
    account(member, github)
    Completion.objects.create(
        claim=claim, member=member, state=state, completed_at=timezone.now(), reason="Why."
    )
    assert (CHECK_AGAIN in claim_block(page(alice_client), "starter")) is shown


def test_no_check_again_on_a_closed_claim(alice_client, member, make_claim, github):
    make_claim("starter", apps=[github], ends_at=timezone.now() - datetime.timedelta(days=1))
    account(member, github)
    assert CHECK_AGAIN not in claim_block(page(alice_client), "starter")


# --- Ordering -------------------------------------------------------------------------------


def test_claims_are_ordered_by_what_the_member_can_do_now(
    alice_client, member, make_claim, github, discord
):
    account(member, github)
    past = timezone.now() - datetime.timedelta(days=1)

    def made(slug, state=None, **fields):
        claim = make_claim(slug, apps=fields.pop("apps", [github]), **fields)
        if state:
            Completion.objects.create(claim=claim, member=member, state=state, completed_at=past)
        return claim

    made("a-earned", State.COMPLETED)
    made("b-closed", ends_at=past)
    made("c-revoked", State.REVOKED)
    made("d-working", State.CHECKING)
    made("e-needs-discord", apps=[github, discord])
    made("f-new")
    waiting = made(
        "g-waiting-recheck", State.INELIGIBLE, recheck_interval=datetime.timedelta(days=1)
    )
    Completion.objects.filter(claim=waiting).update(recheck_at=past + datetime.timedelta(days=3))
    made("h-failed", State.FAILED)
    body = page(alice_client)
    assert order(body) == [
        "e-needs-discord",
        "f-new",
        "h-failed",
        "d-working",
        "g-waiting-recheck",
        "a-earned",
        "b-closed",
        "c-revoked",
    ]


def test_the_page_reads_in_the_same_number_of_queries_for_any_number_of_claims(
    alice_client, member, make_claim, github, discord
):
    account(member, github)

    def add(n):
        for i in range(n):
            claim = make_claim(f"claim-{n}-{i}", apps=[github, discord])
            Completion.objects.create(claim=claim, member=member, state=State.INELIGIBLE)

    def count():
        alice_client.get(URL)  # the session and anything cached once
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(URL).status_code == 200
        return len(queries)

    add(2)
    few = count()
    add(8)
    assert count() == few


# --- Earned stays earned ----------------------------------------------------------------------


@pytest.fixture
def earned(member, repos_claim, github):
    """alice earned Builders with her GitHub account octo-pro on 3 Dec 2026."""
    account(member, github, name="octo-pro")
    rule = repos_claim.requirements.get().rule_key
    return Completion.objects.create(
        claim=repos_claim,
        member=member,
        state=State.COMPLETED,
        completed_at=datetime.datetime(2026, 12, 3, 12, tzinfo=datetime.UTC),
        upstream_identity="github:octo-pro",
        evidence=[
            {"rule": "app:github", "passed": True, "value": "1 account"},
            {"rule": "healthy:github", "passed": True, "value": "healthy"},
            {"rule": rule, "passed": True, "value": "31"},
        ],
    )


@pytest.mark.parametrize("later", ["disconnected", "unhealthy", "dead"])
def test_an_earned_claim_stays_earned_whatever_happens_to_the_account(
    alice_client, member, earned, later
):
    accounts = ConnectedAccount.objects.filter(member=member)
    if later == "disconnected":
        accounts.delete()
    else:
        accounts.update(healthy=later != "unhealthy", dead=later == "dead")
    row = claim_block(page(alice_client), "builders")
    assert "Earned 3 Dec 2026 with your GitHub account octo-pro." in row
    assert f'{SENTENCE}</a>: <span class="req-fact">you have 31</span>' in row
    assert "✗" not in row and 'class="unmet"' not in row
    assert "data-fix" not in row and "Connect" not in row and "Reconnect" not in row
    assert CHECK_AGAIN not in row


def test_a_revoked_claim_says_it_neutrally_with_nothing_to_fix(
    alice_client, member, make_claim, github
):
    claim = make_claim("starter", apps=[github])
    Completion.objects.create(
        claim=claim,
        member=member,
        state=State.REVOKED,
        reason="The organiser took this claim back.",
    )
    row = claim_block(page(alice_client), "starter")
    assert "The organiser took this claim back." in row
    assert "data-fix" not in row and "✗" not in row and CHECK_AGAIN not in row


def test_an_unconfirmed_email_is_the_first_fix_and_no_check_is_offered(
    client, unverified_member, make_claim, github
):
    from allauth.account.models import EmailAddress

    unverified_member.address = ALICE_ADDRESS
    unverified_member.save()
    account(unverified_member, github)
    make_claim("starter", apps=[github])
    client.force_login(unverified_member)
    row = claim_block(page(client), "starter")
    assert 'data-fix="email"' in row
    assert '<a class="button primary req-fix" href="/email/">Confirm your email' in row
    assert CHECK_AGAIN not in row

    EmailAddress.objects.filter(user=unverified_member).update(verified=True)
    row = claim_block(page(client), "starter")
    assert 'data-fix="email"' not in row and CHECK_AGAIN in row

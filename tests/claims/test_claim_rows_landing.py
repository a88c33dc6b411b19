"""/c/<slug>/ for a member: "Not yet" says what is missing and when it is checked again,
Check now only when a check could give a new answer, and an earned claim stays earned
after the account is gone (issue 20, items 2 and 3)."""

import datetime
import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claims.models import Completion
from connections.models import App, ConnectedAccount
from tests.claims.claims_support import ALICE_ADDRESS, add_check

pytestmark = pytest.mark.django_db

State = Completion.State
URL = "/c/builders/"
SENTENCE = "Have at least 5 public repositories"
CHECK_NOW = ">Check now<"


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True, order=1)


@pytest.fixture
def alice_client(client, member):
    member.address = ALICE_ADDRESS
    member.save()
    client.force_login(member)
    return client


@pytest.fixture
def builders(make_claim, github, member):
    ConnectedAccount.objects.create(
        member=member, app=github, pipedream_id="apn_rows_landing", name="octo-pro"
    )
    claim = make_claim("builders", name="Builders", apps=[github])
    add_check(
        claim,
        github,
        action="github-get-current-user",
        path="user.public_repos",
        comparison="gte",
        value="5",
        text=SENTENCE,
    )
    return claim


def evidence(claim, passed: bool, value: str) -> list[dict]:
    rule = claim.requirements.exclude(kind="account").get().rule_key
    return [
        {"rule": "app:github", "passed": True, "value": "1 account"},
        {"rule": rule, "passed": passed, "value": value},
    ]


def progress(client) -> str:
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    start = body.index('id="landing-progress"')
    return html.unescape(body[start : body.index("</section>", start)])


def test_not_yet_says_what_is_missing_and_when_it_is_checked_again(alice_client, member, builders):
    builders.recheck_interval = datetime.timedelta(hours=6)
    builders.save()
    Completion.objects.create(
        claim=builders,
        member=member,
        state=State.INELIGIBLE,
        reason="Not yet.",
        evidence=evidence(builders, False, "3"),
        recheck_at=timezone.now() + datetime.timedelta(hours=5),
    )
    section = progress(alice_client)
    assert "Everything is in place" not in section
    assert "Not yet." in section
    assert f'{SENTENCE}: <span class="req-fact">you have 3</span>' in section
    assert "We check again by ourselves on " in section
    assert ", then every 6 hours or less often while nothing changes." in section
    assert CHECK_NOW in section


def test_not_yet_without_a_schedule_says_only_check_now_asks_again(alice_client, member, builders):
    Completion.objects.create(
        claim=builders,
        member=member,
        state=State.INELIGIBLE,
        evidence=evidence(builders, False, "3"),
    )
    section = progress(alice_client)
    assert "Nothing checks it again by itself" in section
    assert CHECK_NOW in section


def test_no_check_now_while_the_claim_has_not_opened(alice_client, builders):
    builders.starts_at = timezone.now() + datetime.timedelta(days=2)
    builders.save()
    section = progress(alice_client)
    assert "It completes by itself then." in section
    assert CHECK_NOW not in section


def test_a_new_claim_with_everything_in_place_offers_check_now(alice_client, builders):
    section = progress(alice_client)
    assert "Everything is in place." in section
    assert CHECK_NOW in section


@pytest.mark.parametrize("later", ["disconnected", "unhealthy"])
def test_an_earned_claim_stays_earned_after_the_account_goes(alice_client, member, builders, later):
    Completion.objects.create(
        claim=builders,
        member=member,
        state=State.COMPLETED,
        completed_at=timezone.now(),
        upstream_identity="github:octo-pro",
        evidence=evidence(builders, True, "31"),
    )
    accounts = ConnectedAccount.objects.filter(member=member)
    if later == "disconnected":
        accounts.delete()
    else:
        accounts.update(healthy=False, error="token revoked")
    section = progress(alice_client)
    assert "Earned with your GitHub account octo-pro." in section
    assert f'{SENTENCE}: <span class="req-fact">you have 31</span>' in section
    assert 'class="problem"' not in section and "✗" not in section
    assert "Reconnect" not in section and "Connect GitHub" not in section
    assert CHECK_NOW not in section


def test_the_reconnect_step_never_shows_the_upstream_error(alice_client, member, builders):
    ConnectedAccount.objects.filter(member=member).update(
        healthy=False, error="HTTP 401: Bad credentials at user.login"
    )
    section = progress(alice_client)
    assert "Reconnect GitHub" in section
    assert "Your GitHub account stopped working" in section
    assert "401" not in section and "user.login" not in section


def test_the_page_reads_the_members_accounts_once(alice_client, builders, settings):
    """The steps and the requirement rows come from one reading of the accounts."""
    settings.PAGE_CACHE = False  # the render's own queries (the cache's: tests/perf)
    with CaptureQueriesContext(connection) as queries:
        assert alice_client.get(URL).status_code == 200
    reads = [
        query["sql"]
        for query in queries.captured_queries
        if 'FROM "connections_connectedaccount"' in query["sql"]
    ]
    assert len(reads) == 1, reads

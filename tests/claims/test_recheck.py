"""`manage.py recheck_claims`: not-eligible members are looked at again, with backoff."""

import datetime
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from claims.models import Completion
from connections.models import ConnectedAccount
from sandbox.pipedream.models import Account
from tests.claims.claims_support import run_worker

pytestmark = pytest.mark.django_db(transaction=True)
DAY = datetime.timedelta(days=1)


def recheck(*args) -> str:
    out = io.StringIO()
    call_command("recheck_claims", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def builders(demo_claims):
    claim = demo_claims["github-builders"]
    for other in demo_claims.values():
        if other != claim:
            other.enabled = False
            other.save()
    claim.recheck_interval = DAY
    claim.save()
    return claim


def test_a_member_who_later_qualifies_completes_on_the_schedule_with_backoff_before(
    builders, alice, connect
):
    account = connect(alice, "github", "octo")  # 1 to 3 public repos: not yet
    run_worker()
    completion = Completion.objects.get(claim=builders, member=alice)
    assert completion.state == "ineligible" and completion.rechecks == 0
    start = timezone.now()
    assert start + DAY - datetime.timedelta(minutes=1) < completion.recheck_at <= start + DAY
    assert "0 re-check(s) queued" in recheck("--stale", "0")  # not due yet

    waits = []
    moment = completion.recheck_at
    for _ in range(3):  # still not eligible: the wait doubles each time
        moment += datetime.timedelta(seconds=1)
        with time_machine.travel(moment, tick=True):
            assert "1 re-check(s) queued" in recheck("--stale", "0")
            run_worker()
        completion.refresh_from_db()
        assert completion.state == "ineligible"
        waits.append(round((completion.recheck_at - moment) / DAY))
        moment = completion.recheck_at
    assert waits == [2, 4, 8]

    # The member stars their way up to 12 public repositories; the next re-check sees it.
    upstream = Account.objects.get(account_id=account.pipedream_id)
    upstream.profile = {**upstream.profile, "public_repos": 12}
    upstream.save()
    with time_machine.travel(moment + datetime.timedelta(seconds=1), tick=True):
        recheck("--stale", "0")
        run_worker()
    completion.refresh_from_db()
    assert completion.state == "completed", completion.reason


def test_news_about_the_account_starts_the_schedule_over(builders, alice, connect):
    connect(alice, "github", "octo")
    run_worker()
    Completion.objects.filter(claim=builders, member=alice).update(rechecks=5)
    connect(alice, "github", "octo-2")  # another account: account_connected
    run_worker()
    completion = Completion.objects.get(claim=builders, member=alice)
    assert completion.rechecks == 0
    assert completion.recheck_at <= timezone.now() + DAY


def test_a_claim_without_an_interval_is_never_rechecked(demo_claims, alice, connect):
    claim = demo_claims["github-builders"]
    claim.recheck_interval = None  # the demo seed asks it daily (a398dab); this one never
    claim.save()
    connect(alice, "github", "octo")
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "ineligible" and completion.recheck_at is None
    with time_machine.travel(timezone.now() + 365 * DAY, tick=True):
        assert "0 re-check(s) queued" in recheck("--stale", "0")


def test_stale_accounts_are_synced_first(builders, alice, connect):
    account = connect(alice, "github", "octo")
    old = timezone.now() - 2 * DAY
    ConnectedAccount.objects.filter(pk=account.pk).update(last_synced_at=old)
    assert "1 member(s) synced" in recheck("--stale", "24")
    account.refresh_from_db()
    assert account.last_synced_at > old + DAY
    assert "0 member(s) synced" in recheck("--stale", "24")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--limit", "0"], "--limit must be a positive number"),
        (["--stale", "-1"], "--stale is a number of hours"),
        (["--stale", "1e9"], "--stale is a number of hours"),
    ],
)
def test_bad_arguments_are_named(db, args, says):
    with pytest.raises(CommandError, match=says):
        recheck(*args)

"""Growth: the jobs that run over many members cost queries per batch, never per member.

Each is run at two sizes of data that fit in one batch (or page) and must run the same
number of queries at both: a query per member (or per row) would make the larger size
cost more. The task backend's inserts are not counted here: the tests run inside a
transaction, so what is queued on commit is not sent (bench/bench_growth.py counts them
apart). bench/bench_growth.py measures the same at 10,000 and 100,000 members.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claims.engine import dry_run, rechecks
from claims.job_models import ClaimJob, DryRunRow
from claims.models import Completion, CompletionEvent
from connections.models import ConnectedAccount
from tests.claims.admin_support import make_app, make_member
from tests.claims.claims_support import ALICE_ADDRESS
from tests.claims.jobs_support import claim_needing

pytestmark = pytest.mark.django_db

SMALL, LARGE = 3, 12


@pytest.fixture
def github(db):
    return make_app("github", "GitHub")


def _members(prefix: str, count: int, github, claim=None, **completion):
    made = []
    for i in range(count):
        member = make_member(f"{prefix}{i:03d}", address=ALICE_ADDRESS)
        ConnectedAccount.objects.create(
            member=member, app=github, pipedream_id=f"apn_{prefix}{i}", name=member.username
        )
        if claim is not None:
            made.append(Completion.objects.create(claim=claim, member=member, **completion))
    return made


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def _due(claim, prefix: str, count: int, github):
    return _members(
        prefix,
        count,
        github,
        claim,
        state=Completion.State.INELIGIBLE,
        reason="Not eligible yet.",
        recheck_at=timezone.now() - datetime.timedelta(minutes=5),
        rechecks=2,
    )


def test_a_recheck_round_costs_the_same_queries_for_3_and_12_due_rows(github):
    claim = claim_needing(
        "rechecked", [github], recheck_interval=datetime.timedelta(days=1), enabled=True
    )
    small = _due(claim, "a", SMALL, github)
    few = _queries(rechecks.rechecks_run)
    assert Completion.objects.filter(state=Completion.State.WAITING).count() == SMALL

    large = _due(claim, "b", LARGE, github)
    many = _queries(rechecks.rechecks_run)
    assert many == few
    # And each row moved as completion_request moves one: waiting, attempts from 0, the
    # re-check counted, no re-check scheduled, one "requested" ledger row.
    for completion in small + large:
        completion.refresh_from_db()
        assert completion.state == Completion.State.WAITING
        assert (completion.attempts, completion.rechecks, completion.recheck_at) == (0, 3, None)
        event = CompletionEvent.objects.get(completion=completion)
        assert (event.from_state, event.to_state, event.reason) == (
            "ineligible",
            "waiting",
            "requested",
        )
        assert (event.actor_kind, event.actor_detail) == ("schedule", "recheck")


def test_a_recheck_round_reads_pages_and_leaves_what_is_not_due(github, monkeypatch):
    monkeypatch.setattr(rechecks, "PAGE", 4)  # 10 due rows: three pages
    claim = claim_needing(
        "paged", [github], recheck_interval=datetime.timedelta(days=1), enabled=True
    )
    due = _due(claim, "c", 10, github)
    later = _members(
        "d",
        2,
        github,
        claim,
        state=Completion.State.INELIGIBLE,
        recheck_at=timezone.now() + datetime.timedelta(days=1),
    )
    assert rechecks.rechecks_run() == 10
    assert rechecks.rechecks_run(limit=3) == 0
    assert {c.pk for c in Completion.objects.filter(state="waiting")} == {c.pk for c in due}
    assert Completion.objects.filter(pk__in=[c.pk for c in later], state="ineligible").count() == 2


def _dry_run(claim, staff) -> ClaimJob:
    job = ClaimJob.objects.create(
        kind=ClaimJob.Kind.DRY_RUN, claim=claim, requested_by=staff, show_values=True
    )
    assert dry_run.dry_run_job_run(job.pk).startswith("done")
    job.refresh_from_db()
    return job


def test_a_dry_run_job_costs_the_same_queries_for_3_and_12_members(github):
    claim = claim_needing("dry", [github])
    staff = make_member("aaa-staff", is_staff=True, is_superuser=True)
    _members("e", SMALL, github)
    few = _queries(lambda: _dry_run(claim, staff))

    DryRunRow.objects.all().delete()
    ClaimJob.objects.all().delete()
    _members("f", LARGE - SMALL, github)
    many = _queries(lambda: _dry_run(claim, staff))
    # Each batch reads its members' settled rows, confirmed emails and accounts in one
    # query each: nothing per member.
    assert many == few
    job = ClaimJob.objects.get()
    # Every member with an address and a healthy account would qualify; the staff
    # member has no account.
    assert (job.counts["qualify"], job.counts["no_account"]) == (LARGE, 1)

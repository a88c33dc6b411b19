"""The dry run as a job: asked for on the claims list, run by the task worker, shown on its
own admin page (progress, totals, reasons, rows) with a CSV of every row; members' names
and values only for staff who may see them; stalled and failed jobs run again; old jobs
pruned. Through the admin over HTTP and the real task worker."""

import datetime
import re
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from claims.models import ClaimJob, Completion, CompletionEvent
from claims.tasks import claim_dry_run_task
from connections.models import ConnectedAccount
from tests.claims.admin_support import make_app, make_member
from tests.claims.claims_support import ALICE_ADDRESS, run_worker
from tests.claims.jobs_support import claim_needing, csv_of, job_url, staff, start_dry_run, total

pytestmark = pytest.mark.django_db(transaction=True)

# The login the Pipedream sandbox derives for an account named so: a member's value.
HANDLE = "valuehandle9"


def _connect(member, app):
    return ConnectedAccount.objects.create(
        member=member, app=app, pipedream_id=f"apn_{member.username}", name=member.username
    )


def _job() -> ClaimJob:
    return ClaimJob.objects.get()


@pytest.fixture
def github(db):
    return make_app("github", "GitHub")


@pytest.fixture
def crowd(github):
    """ready (would qualify), noapp, noaddress, done (completed) and gone (inactive)."""
    claim = claim_needing("starter", [github])
    ready = make_member("ready", address=ALICE_ADDRESS)
    _connect(ready, github)
    make_member("noapp", address=ALICE_ADDRESS)
    _connect(make_member("noaddress"), github)
    done = make_member("done", address=ALICE_ADDRESS)
    Completion.objects.create(
        claim=claim, member=done, state="completed", completed_at=timezone.now()
    )
    make_member("gone", is_active=False)
    return claim


def test_the_action_makes_a_job_queues_it_and_goes_to_its_page(admin_client, crowd):
    response = start_dry_run(admin_client, crowd)

    job = _job()
    assert response.status_code == 302 and response.url == job_url(job)
    assert (job.kind, job.claim, job.state, job.show_values) == ("dry_run", crowd, "queued", True)
    task = DBTaskResult.objects.get(task_path="claims.tasks.claim_dry_run_task")
    assert task.args_kwargs["args"] == [job.pk]
    page = admin_client.get(response.url)
    assert page.status_code == 200
    assert "Queued" in page.text and 'id="job-progress"' in page.text
    # While it is not finished the page polls its progress with the local script.
    assert job_url(job, "progress") in page.text and "js/job_progress.js" in page.text
    progress = admin_client.get(job_url(job, "progress")).json()
    assert progress == {
        "state": "queued",
        "state_label": "Queued",
        "done": 0,
        "total": 0,
        "percent": 0,
        "finished": False,
        "stalled": False,
    }


def test_after_the_worker_the_page_shows_totals_reasons_and_rows(admin_client, crowd):
    before = (Completion.objects.count(), CompletionEvent.objects.count())
    start_dry_run(admin_client, crowd)
    run_worker()

    job = _job()
    assert (job.state, job.done, job.total) == ("done", 5, 5)
    page = admin_client.get(job_url(job)).text
    # Active members: ready, noapp, noaddress, done and the admin client's own user.
    assert (total(page, "members"), total(page, "qualify"), total(page, "completed")) == (5, 1, 1)
    assert (total(page, "no-account"), total(page, "not-met"), total(page, "errored")) == (2, 1, 0)
    assert job.reasons["values"] == {
        "Connect your GitHub account.": 2,
        "Add your BitBadges address so the badge has somewhere to go.": 1,
    }
    assert "Members evaluated" in page
    assert "<td>Connect your GitHub account.</td><td>2</td>" in page
    assert "<td>Add your BitBadges address so the badge has somewhere to go.</td><td>1</td>" in page
    for row in (
        ("ready", "yes", "would qualify"),
        ("noapp", "no", "Connect your GitHub account."),
        ("done", "no", "already completed"),
    ):
        assert re.search(r"\s*".join(f"<td>{re.escape(cell)}</td>" for cell in row), page), row
    assert "gone" not in page
    assert "job_progress.js" not in page  # finished: nothing polls
    assert admin_client.get(job_url(job, "progress")).json()["percent"] == 100
    # A dry run delivers nothing and writes nothing to the ledger.
    assert (Completion.objects.count(), CompletionEvent.objects.count()) == before


def _requirement_rows(page: str) -> list[tuple[str, ...]]:
    return [
        tuple(re.findall(r"<td>([^<]*)</td>", row))
        for row in re.findall(r'<tr class="dry-run-requirement">(.*?)</tr>', page)
    ]


def test_the_page_counts_each_requirement_met_not_met_or_not_checked(admin_client, github):
    discord = make_app("discord", "Discord")
    either = claim_needing("either", any_of=[github, discord])
    both = claim_needing(
        "both",
        checks=[
            (discord, "discord-list-guilds", "items.0.id", "eq", "1"),
            (github, "github-get-current-user", "user.public_repos", "gte", "5"),
        ],
    )
    _connect(make_member("gh", address=ALICE_ADDRESS), github)
    dc = make_member("dc", address=ALICE_ADDRESS)
    ConnectedAccount.objects.create(member=dc, app=discord, pipedream_id="apn_dc_discord")
    make_member("none", address=ALICE_ADDRESS)
    start_dry_run(admin_client, either, both)
    run_worker()

    first, second = ClaimJob.objects.order_by("pk")
    page = admin_client.get(job_url(first)).text
    # gh and dc qualify (one of the two is enough); none and the admin have neither.
    assert (total(page, "qualify"), total(page, "no-account")) == (2, 2)
    assert _requirement_rows(page) == [
        ("A healthy GitHub account", "any", "1", "3", "0"),
        ("A healthy Discord account", "any", "1", "3", "0"),
    ]
    # No check runs for a member missing an account another requirement needs: gh's
    # GitHub check and dc's Discord check are not checked; nothing is called upstream.
    page = admin_client.get(job_url(second)).text
    assert total(page, "qualify") == 0
    assert _requirement_rows(page) == [
        ("items.0.id = 1", "all", "0", "3", "1"),
        ("user.public_repos ≥ 5", "all", "0", "3", "1"),
    ]


def test_the_csv_has_every_member_and_the_page_the_first_500(admin_client, github):
    claim = claim_needing("starter", [github])
    # 504 members as make_member makes them (a verified address, no password), in bulk:
    # and the admin, 505 members, in three batches.
    crowd = get_user_model().objects.bulk_create(
        get_user_model()(
            username=f"m{index:03d}",
            email=f"m{index:03d}@example.com",
            password=make_password(None),
            address=ALICE_ADDRESS,
        )
        for index in range(504)
    )
    EmailAddress.objects.bulk_create(
        EmailAddress(user=member, email=member.email, verified=True, primary=True)
        for member in crowd
    )
    start_dry_run(admin_client, claim)
    run_worker()

    job = _job()
    assert (job.state, job.done, job.counts["no_account"]) == ("done", 505, 505)
    page = admin_client.get(job_url(job)).text
    assert "<td>m498</td>" in page and "<td>m499</td>" not in page  # the admin, then m000
    assert "… and 5 more members" in page
    assert 'id="job-csv"' in page
    rows = csv_of(admin_client, job)
    assert rows[0] == ["member", "would qualify", "outcome", "reason", "in words"]
    assert len(rows) == 1 + 505
    assert {row[0] for row in rows[1:]} == {"admin"} | {f"m{i:03d}" for i in range(504)}
    assert rows[-1] == [
        "m503",
        "no",
        "no (healthy) account",
        "Connect your GitHub account.",
        "no account: GitHub connected not met",
    ]


def test_without_the_permission_no_member_is_named_on_the_page_or_in_the_csv(
    client, admin_client, crowd
):
    viewer = staff("viewer", "view_claim")
    client.force_login(viewer)
    assert start_dry_run(client, crowd).status_code == 302
    run_worker()

    job = _job()
    assert job.show_values is False
    page = client.get(job_url(job)).text
    # ready, noapp, noaddress, done, the viewer and the admin.
    assert (total(page, "members"), total(page, "qualify")) == (6, 1)
    # Why the others would not, in words, counted: nobody by name.
    assert "<td>no account: GitHub connected not met</td><td>3</td>" in page
    for name in ("ready", "noapp", "noaddress", "done"):
        assert not re.search(rf"\b{name}\b", page.replace("already completed", "")), name
    assert "dry-run-values-hidden" in page and "<td>yes</td>" not in page
    assert "which you do not have" in page
    # Nor to someone who may see values: the job was asked for without the permission.
    theirs = admin_client.get(job_url(job)).text
    assert "<td>yes</td>" not in theirs and not re.search(r"\bnoapp\b", theirs)
    assert "whoever asked for this dry run did not have" in theirs
    assert ["Members evaluated", "6"] in csv_of(admin_client, job)
    rows = csv_of(client, job)
    assert ["Members evaluated", "6"] in rows and ["Would qualify", "1"] in rows
    assert ["reason: no account: GitHub connected not met", "3"] in rows
    assert not {"ready", "noapp", "noaddress", "done"} & {cell for row in rows for cell in row}
    # Nothing read upstream was kept: the rows hold words only.
    assert not job.rows.exclude(value_note="").exists()


def test_a_viewer_without_the_permission_does_not_see_values_another_could(
    admin_client, client, upstreams, apps, alice, connect
):
    """The job was asked for by someone who may see values: shown to them, not to a
    viewer without the permission, on the page, in the CSV or in its progress."""
    claim = claim_needing(
        "direct",
        checks=[(apps["github"], "github-get-current-user", "user.login", "eq", "somebody-else")],
    )
    connect(alice, "github", HANDLE)
    run_worker()  # what connecting queued
    start_dry_run(admin_client, claim)
    run_worker()
    job = _job()
    assert job.state == "done", job.error

    mine = admin_client.get(job_url(job)).text
    assert HANDLE in mine and "<td>alice</td>" in mine
    assert any(HANDLE in cell for row in csv_of(admin_client, job) for cell in row)

    client.force_login(staff("viewer", "view_claim"))
    theirs = client.get(job_url(job)).text
    assert HANDLE not in theirs and "alice" not in theirs
    assert "<td>not eligible: user.login = somebody-else not met</td><td>1</td>" in theirs
    assert "which you do not have" in theirs
    rows = csv_of(client, job)
    assert not [cell for row in rows for cell in row if HANDLE in cell or "alice" in cell]
    assert HANDLE not in client.get(job_url(job, "progress")).text


def test_a_job_is_run_once_even_when_its_task_comes_twice(admin_client, crowd):
    start_dry_run(admin_client, crowd)
    job = _job()
    claim_dry_run_task.enqueue(job.pk)  # delivered twice
    run_worker()

    job.refresh_from_db()
    assert (job.state, job.done, job.rows.count()) == ("done", 5, 5)
    results = DBTaskResult.objects.filter(task_path="claims.tasks.claim_dry_run_task")
    assert sorted(results.values_list("return_value", flat=True)) == [
        "done: 5 member(s)",
        "not run: done",
    ]
    # Nor is a job another worker is running taken again.
    ClaimJob.objects.filter(pk=job.pk).update(state="running")
    claim_dry_run_task.enqueue(job.pk)
    run_worker()
    assert job.rows.count() == 5


def test_a_failing_job_says_why_and_runs_again(admin_client, crowd, monkeypatch):
    def broken(claim, member, **kwargs):
        raise RuntimeError("a secret-looking detail")

    monkeypatch.setattr("claims.engine.dry_run.evaluate", broken)
    start_dry_run(admin_client, crowd)
    run_worker()

    job = _job()
    assert job.state == "failed" and job.finished_at is not None
    page = admin_client.get(job_url(job)).text
    assert "The dry run stopped after 0 member(s) on an unexpected error (RuntimeError)" in page
    assert "a secret-looking detail" not in page
    assert 'id="job-again"' in page

    monkeypatch.undo()
    again = admin_client.post(job_url(job, "again"))
    new = ClaimJob.objects.exclude(pk=job.pk).get()
    assert again.status_code == 302 and again.url == job_url(new)
    run_worker()
    new.refresh_from_db()
    assert (new.state, new.done) == ("done", 5)


def test_a_running_job_not_heard_from_is_stalled_and_runs_again(admin_client, crowd):
    start_dry_run(admin_client, crowd)
    job = _job()
    quiet = timezone.now() - datetime.timedelta(minutes=10)
    ClaimJob.objects.filter(pk=job.pk).update(state="running", started_at=quiet, heartbeat_at=quiet)

    page = admin_client.get(job_url(job)).text
    assert 'id="job-stalled"' in page and 'id="job-again"' in page
    assert admin_client.get(job_url(job, "progress")).json()["stalled"] is True
    listing = admin_client.get(reverse("admin:claims_claimjob_changelist"))
    assert '<td class="field-state_shown">stalled</td>' in listing.text

    admin_client.post(job_url(job, "again"))
    run_worker()
    new = ClaimJob.objects.exclude(pk=job.pk).get()
    assert (new.state, new.done) == ("done", 5)


def test_a_job_fresh_from_its_worker_is_not_stalled(admin_client, crowd):
    start_dry_run(admin_client, crowd)
    job = _job()
    ClaimJob.objects.filter(pk=job.pk).update(state="running", heartbeat_at=timezone.now())
    page = admin_client.get(job_url(job)).text
    assert 'id="job-stalled"' not in page and "job_progress.js" in page


@pytest.mark.parametrize("view", ["change", "progress", "csv"])
def test_bad_job_ids_are_404(admin_client, crowd, view):
    start_dry_run(admin_client, crowd)
    job = _job()
    other = ClaimJob.objects.create(kind="try_it", claim=crowd, result={"passed": True})
    for bad in (job.pk + 100, other.pk, "abc", "1e3", "٣", "9" * 30, "-1"):
        response = admin_client.get(job_url(job, view).replace(f"/{job.pk}/", f"/{bad}/"))
        assert response.status_code == 404, (bad, response.status_code)
    assert admin_client.post(job_url(other, "again")).status_code == 404
    assert admin_client.get(job_url(job, "again")).status_code == 405  # a POST only


def test_a_job_needs_view_on_claims(client, crowd, admin_client):
    start_dry_run(admin_client, crowd)
    client.force_login(staff("outsider", "view_completion"))
    assert client.get(job_url(_job())).status_code == 403
    assert client.get(job_url(_job(), "csv")).status_code == 403


def test_the_action_takes_a_few_claims_at_a_time_and_lists_several(admin_client, github):
    claims = [claim_needing(f"c{index}", [github]) for index in range(6)]
    response = start_dry_run(admin_client, *claims, follow=True)
    assert "at most 5 claims at a time; 6 were selected" in response.text
    assert not ClaimJob.objects.exists()

    response = start_dry_run(admin_client, *claims[:2])
    jobs = list(ClaimJob.objects.order_by("pk"))
    assert [job.claim for job in jobs] == claims[:2]
    assert response.status_code == 302 and f"id__in={jobs[0].pk},{jobs[1].pk}" in response.url
    listing = admin_client.get(response.url)
    assert listing.status_code == 200 and "2 claim jobs" in listing.text


def test_prune_records_deletes_old_jobs_and_their_rows(admin_client, crowd, settings):
    settings.RETENTION_JOBS_DAYS = 30
    start_dry_run(admin_client, crowd)
    run_worker()
    start_dry_run(admin_client, crowd)
    run_worker()
    old, recent = ClaimJob.objects.order_by("pk")
    ClaimJob.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=31)
    )
    assert old.rows.count() == recent.rows.count() == 5

    out = StringIO()
    call_command("prune_records", stdout=out)

    assert list(ClaimJob.objects.all()) == [recent]
    assert recent.rows.count() == 5
    assert not old.rows.exists()
    assert "claim jobs" in out.getvalue()
    assert admin_client.get(job_url(old)).status_code == 404


def test_a_dry_run_under_way_is_given_back_not_started_again(admin_client, crowd):
    first = start_dry_run(admin_client, crowd)
    again = start_dry_run(admin_client, crowd)
    assert again.status_code == 302 and again.url == first.url
    assert ClaimJob.objects.count() == 1
    run_worker()
    start_dry_run(admin_client, crowd)  # finished: a new one
    assert ClaimJob.objects.count() == 2


def test_a_staff_member_starts_a_few_dry_runs_an_hour(admin_client, crowd):
    from claims.admin.jobs import DRY_RUNS_PER_HOUR  # the limit the admin enforces

    for _ in range(DRY_RUNS_PER_HOUR):
        start_dry_run(admin_client, crowd)
        run_worker()
    refused = start_dry_run(admin_client, crowd, follow=True)
    assert ClaimJob.objects.count() == DRY_RUNS_PER_HOUR
    assert f"{DRY_RUNS_PER_HOUR} dry runs in an hour" in refused.content.decode()

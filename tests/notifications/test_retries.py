"""What a refused send or a dead worker leaves behind: tried again after a while, then
failed (closing the account's broken episode); the sweep sends again what a killed worker
held, never what a live one holds; old rows are pruned. Nothing stored or logged holds
the address. A real refusing SMTP server, the task worker, the Pipedream sandbox."""

import datetime
import io
import logging
import uuid

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from notifications import sweep
from notifications.models import Notification
from notifications.tasks import notifications_send_task
from tests.notifications.notify_support import set_health
from tests.notifications.smtp_support import refusing_smtp

pytestmark = pytest.mark.django_db(transaction=True)


def later(start, **delta):
    return time_machine.travel(start + datetime.timedelta(**delta), tick=True)


def test_a_refused_send_is_tried_again_and_stores_no_address(
    two_accounts, worker, settings, caplog
):
    member, github, _ = two_accounts
    with refusing_smtp(settings), caplog.at_level(logging.INFO):
        set_health(member, github, state="unhealthy")
        worker()
    row = Notification.objects.get()
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.reason.startswith("Sending failed (SMTPRecipientsRefused 550); trying again at ")
    assert "alice" not in row.reason
    ours = [r for r in caplog.records if r.name.startswith("notifications")]
    assert ours and not any("alice@" in r.getMessage() or r.exc_info for r in ours)
    assert mail.outbox == []
    with later(row.send_after, seconds=-30):
        worker()  # not due yet
    assert mail.outbox == []
    with later(row.send_after, seconds=1):
        worker()
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts, row.reason) == ("sent", 1, "")


def test_after_the_last_try_it_fails_and_a_later_break_is_told(two_accounts, worker, settings):
    member, github, _ = two_accounts
    with refusing_smtp(settings):
        set_health(member, github, state="unhealthy")
        worker()
        for wait in (1, 5, 30):  # minutes until the next try
            row = Notification.objects.get()
            assert row.state == "pending" and row.send_after > timezone.now() + datetime.timedelta(
                minutes=wait - 1
            )
            with later(row.send_after, seconds=1):
                worker()
    row = Notification.objects.get()
    assert (row.state, row.attempts) == ("failed", 4)
    assert row.reason == "Sending failed 4 times (SMTPRecipientsRefused 550); given up."
    assert row.resolved_at is not None  # the episode is over: the next break is told
    with later(row.send_after, minutes=5):
        set_health(member, github, state="dead")
        worker()
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(state="sent").count() == 1


def _held(member, github, settings, taken_minutes_ago: float) -> Notification:
    """The account's row, held by a worker since `taken_minutes_ago` (its task gone)."""
    settings.NOTIFICATIONS_SETTLE_SECONDS = 3600
    set_health(member, github, state="unhealthy")
    taken = timezone.now() - datetime.timedelta(minutes=taken_minutes_ago)
    Notification.objects.update(
        state="sending", batch=uuid.uuid4(), taken_at=taken, send_after=taken
    )
    return Notification.objects.get()


def test_the_sweep_sends_again_what_a_killed_worker_held(two_accounts, worker, settings):
    member, github, _ = two_accounts
    row = _held(member, github, settings, taken_minutes_ago=11)
    out = io.StringIO()
    call_command("notifications_sweep", stdout=out)
    assert out.getvalue().startswith("1 stuck sent again, 0 stuck failed, 1 members to send to")
    worker()
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("sent", 1)


def test_the_sweep_leaves_alone_what_a_live_worker_holds(two_accounts, worker, settings):
    member, github, _ = two_accounts
    row = _held(member, github, settings, taken_minutes_ago=1)
    call_command("notifications_sweep", stdout=io.StringIO())
    worker()
    assert mail.outbox == []
    row.refresh_from_db()
    assert row.state == "sending"  # the live worker closes it; nobody sends it twice


def test_a_send_also_sweeps_and_a_lost_task_is_queued_again(two_accounts, worker, settings):
    """A pending row whose task was lost is picked up when any send runs."""
    member, github, discord = two_accounts
    settings.NOTIFICATIONS_SETTLE_SECONDS = 3600
    set_health(member, github, state="unhealthy")
    Notification.objects.update(send_after=timezone.now() - datetime.timedelta(minutes=6))
    # Another member's send runs (here: a row with nothing to send) and sweeps.
    other = type(member).objects.create_user(username="bob", password="x")
    Notification.objects.create(
        member=other, kind="badge_earned", key="completion:none", send_after=timezone.now()
    )
    notifications_send_task.enqueue(other.pk)
    worker()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]


def test_the_sweep_prunes_old_rows(member, settings):
    settings.NOTIFICATIONS_RETENTION_DAYS = 365
    old = timezone.now() - datetime.timedelta(days=366)
    for n, state in enumerate(["sent", "skipped", "failed", "pending"]):
        row = Notification.objects.create(
            member=member, kind="badge_earned", key=f"old:{n}", state=state, send_after=old
        )
        Notification.objects.filter(pk=row.pk).update(created_at=old)
    Notification.objects.create(
        member=member, kind="badge_earned", key="new", state="sent", send_after=old
    )
    swept = sweep.sweep()
    assert swept.pruned == 3
    assert sorted(Notification.objects.values_list("key", flat=True)) == ["new", "old:3"]

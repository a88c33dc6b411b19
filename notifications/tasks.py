"""The worker's side: send what is due for one member (notifications/sending.py), after
a sweep for what was left behind (notifications/sweep.py)."""

import datetime

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from notifications import sending, sweep

# Below the claims' tasks: a check the same sync queued runs first, so the email reads
# the claims as they are once checked.
PRIORITY = -10


def sweep_and_queue(*, but: int | None = None) -> sweep.Swept:
    """Sweep, and queue a send for every member it found rows for (but `but`)."""
    swept = sweep.sweep()
    now = timezone.now()
    for member_id in sorted(swept.members - {but}):
        _enqueue(member_id, now)
    return swept


@task()
def notifications_sweep_task() -> str:
    return str(sweep_and_queue())


@task()
def notifications_send_task(member_id: int) -> str:
    sweep_and_queue(but=member_id)
    outcome = sending.send_due(member_id)
    if outcome.again_at is not None:
        _enqueue(member_id, outcome.again_at)
    return outcome.summary


def _enqueue(member_id: int, when: datetime.datetime) -> None:
    notifications_send_task.using(run_after=when, priority=PRIORITY).enqueue(member_id)


def queue_send(member_id: int, when: datetime.datetime) -> None:
    """Queue the member's send for `when`, once the current transaction commits."""
    transaction.on_commit(lambda: _enqueue(member_id, when))

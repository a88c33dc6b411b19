"""The worker's side: send what is due for one member (notifications/sending.py)."""

import datetime

from django.db import transaction
from django.tasks import task

from notifications import sending

# Below the claims' tasks: a check the same sync queued runs first, so the email reads
# the claims as they are once checked.
PRIORITY = -10


@task()
def notifications_send_task(member_id: int) -> str:
    outcome = sending.send_due(member_id)
    if outcome.again_at is not None:
        _enqueue(member_id, outcome.again_at)
    return outcome.summary


def _enqueue(member_id: int, when: datetime.datetime) -> None:
    notifications_send_task.using(run_after=when, priority=PRIORITY).enqueue(member_id)


def queue_send(member_id: int, when: datetime.datetime) -> None:
    """Queue the member's send for `when`, once the current transaction commits."""
    transaction.on_commit(lambda: _enqueue(member_id, when))

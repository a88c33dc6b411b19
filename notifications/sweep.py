"""What a lost task or a killed worker leaves behind, picked up; old rows pruned.

Run by `manage.py notifications_sweep` (cron, next to `sync_accounts --all`), by the task
`notifications_sweep_task`, and at the start of every send (notifications/tasks.py).

- A PENDING row due for LATE_PENDING and not taken: its task was lost (the enqueue after
  the commit failed, the task table was emptied). Its member's send is queued again.
- A SENDING row taken more than STUCK_SENDING ago: the worker died mid-send (a deploy).
  It goes back to pending and is sent again. This is at-least-once: if the mail server
  had already accepted it when the worker died, the member gets it twice; we prefer that
  to a warning never sent. A worker that is only slow cannot cause it: STUCK_SENDING is
  far longer than a send takes (the mail timeout), and a worker sends only rows its batch
  still holds. A row stuck on its last try is failed instead (it may be the cause).
- Sent, skipped and failed rows older than NOTIFICATIONS_RETENTION_DAYS are deleted.
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from notifications.models import Kind, Notification
from notifications.sending import TRIES

State = Notification.State

LATE_PENDING = datetime.timedelta(minutes=5)
STUCK_SENDING = datetime.timedelta(minutes=10)
STUCK = "The worker stopped while sending it; sent again (it may arrive twice)."
STUCK_LAST = "The worker stopped while sending it, on its last try; given up."


@dataclass
class Swept:
    requeued: int = 0
    failed: int = 0
    pruned: int = 0
    members: set[int] = field(default_factory=set)

    def __str__(self) -> str:
        return (
            f"{self.requeued} stuck sent again, {self.failed} stuck failed, "
            f"{len(self.members)} members to send to, {self.pruned} old rows deleted"
        )


def sweep() -> Swept:
    now = timezone.now()
    swept = Swept()
    stuck = Notification.objects.filter(state=State.SENDING).filter(
        Q(taken_at__lt=now - STUCK_SENDING)
        | Q(taken_at__isnull=True, created_at__lt=now - STUCK_SENDING)
    )
    last = stuck.filter(attempts__gte=TRIES - 1)
    last.filter(kind=Kind.ACCOUNT_BROKEN, resolved_at__isnull=True).update(resolved_at=now)
    swept.failed = last.update(state=State.FAILED, reason=STUCK_LAST, attempts=F("attempts") + 1)
    stuck_members = set(stuck.values_list("member_id", flat=True))
    swept.requeued = stuck.update(
        state=State.PENDING, send_after=now, batch=None, reason=STUCK, attempts=F("attempts") + 1
    )
    late = Notification.objects.filter(state=State.PENDING, send_after__lt=now - LATE_PENDING)
    swept.members = stuck_members | set(late.values_list("member_id", flat=True))
    late.update(send_after=now)  # not late again before LATE_PENDING has passed
    kept_since = now - datetime.timedelta(days=settings.NOTIFICATIONS_RETENTION_DAYS)
    swept.pruned, _ = Notification.objects.filter(
        state__in=(State.SENT, State.SKIPPED, State.FAILED), created_at__lt=kept_since
    ).delete()
    return swept

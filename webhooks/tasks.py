"""Background work for the host site's webhooks: each message's tries, with backoff.

`webhook_delivery_task` tries one message (webhooks/sending.py) and, when it did not go
through and tries are left, queues itself again for the time the backoff says.
`send_webhooks` (the scheduler's, each minute) sends what no worker took, so a stopped
worker delays the host site's messages by at most one pass.
"""

import datetime

from django.tasks import task

from core import webhooks
from webhooks import sending
from webhooks.models import Delivery


@task()
def webhook_delivery_task(delivery_id: int) -> str:
    queryset = Delivery.objects.all()
    return webhooks.run_try(
        sending.attempt, webhook_delivery_task, delivery_id, queryset, sweeper="send_webhooks"
    )


def enqueue(delivery_id: int, run_after: datetime.datetime | None = None) -> None:
    """Queue a try of the delivery (at `run_after`, or now); never raises."""
    webhooks.enqueue(webhook_delivery_task, delivery_id, run_after, sweeper="send_webhooks")

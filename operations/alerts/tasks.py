"""Background work for alerts: sending alert messages, retried with backoff.

`alert_delivery_task` tries one message (operations/alerts/sending.py) and, when it did
not go through and tries are left, queues itself again for the time the backoff says.
`check_alerts` sends what no worker took, so a stopped worker delays alerts by at most
one scheduler pass.
"""

import datetime

from django.tasks import task

from core import webhooks
from operations.alerts import sending
from operations.models import AlertDelivery


@task()
def alert_delivery_task(delivery_id: int) -> str:
    queryset = AlertDelivery.objects.all()
    return webhooks.run_try(
        sending.attempt, alert_delivery_task, delivery_id, queryset, sweeper="check_alerts"
    )


def enqueue(delivery_id: int, run_after: datetime.datetime | None = None) -> None:
    """Queue a try of the delivery (at `run_after`, or now); never raises: check_alerts
    sends whatever no worker took."""
    webhooks.enqueue(alert_delivery_task, delivery_id, run_after, sweeper="check_alerts")

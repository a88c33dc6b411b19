"""Background work for alerts: sending alert messages, retried with backoff.

`alert_delivery_task` tries one message (operations/alerts/sending.py) and, when it did
not go through and tries are left, queues itself again for the time the backoff says.
`check_alerts` sends what no worker took, so a stopped worker delays alerts by at most
one scheduler pass.
"""

import datetime
import logging

from django.tasks import task

from operations.alerts import sending
from operations.models import AlertDelivery

logger = logging.getLogger(__name__)


@task()
def alert_delivery_task(delivery_id: int) -> str:
    again = sending.attempt(delivery_id)
    if again is not None:
        enqueue(delivery_id, again)
    state = AlertDelivery.objects.filter(pk=delivery_id).values_list("state", flat=True).first()
    return state or "missing"


def enqueue(delivery_id: int, run_after: datetime.datetime | None = None) -> None:
    """Queue a try of the delivery (at `run_after`, or now); never raises: check_alerts
    sends whatever no worker took."""
    try:
        if run_after is None:
            alert_delivery_task.enqueue(delivery_id)
        else:
            alert_delivery_task.using(run_after=run_after).enqueue(delivery_id)
    except Exception:
        logger.exception("Alert delivery %s: could not queue it; check_alerts will", delivery_id)

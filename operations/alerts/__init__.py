"""Alerts: operators hear, by email and by signed webhooks, when the programme needs them.

`manage.py check_alerts` (each minute, from the scheduler) looks at the ledger and the
upstreams (operations/alerts/conditions.py), opens one `Incident` per condition while it
lasts, and tells the operators once when it opens and once when it is resolved
(operations/alerts/notify.py); messages go out from the task worker, retried with
backoff (operations/alerts/sending.py, operations/alerts/tasks.py).
"""

from django.db.models import QuerySet

from operations.models import Incident


def open_incidents() -> QuerySet[Incident]:
    """The incidents still open, newest first (for the admin home)."""
    return Incident.objects.filter(resolved_at__isnull=True).order_by("-opened_at", "-pk")

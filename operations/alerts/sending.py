"""Sending one alert message: an email to the operators or a signed webhook call.

`attempt(delivery_id)` makes one try of a pending `AlertDelivery` whose time has come
and records it: delivered, or the status code / error and when to try again (the first
retry after ALERT_RETRY_BASE seconds, doubling up to ALERT_RETRY_MAX), or failed after
ALERT_ATTEMPTS tries. The row is locked while it is tried, so the worker and
`check_alerts` (which sends what the worker has not taken) never send it twice at once.
The call itself, its URL check and signature are core/webhooks.py's.
"""

import datetime
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from branding.selectors import brand_current
from core import webhooks
from core.secrets import SecretUnreadable
from core.webhooks import SendFailed
from operations.models import AlertDelivery

logger = logging.getLogger(__name__)

USER_AGENT = "connect-and-claim-alerts"
ERROR_MAX = 2000


def try_seconds(budget: float | None = None) -> float:
    """How long one try may take: ALERT_SEND_TIMEOUT, or less when `budget` is less."""
    seconds = max(0.1, float(settings.ALERT_SEND_TIMEOUT))
    return seconds if budget is None else max(0.1, min(seconds, budget))


def retry_delay(attempts: int) -> datetime.timedelta:
    return webhooks.backoff(
        attempts, base=float(settings.ALERT_RETRY_BASE), ceiling=float(settings.ALERT_RETRY_MAX)
    )


def _send_email(delivery: AlertDelivery) -> None:
    recipients = [line for line in delivery.recipients.splitlines() if line.strip()]
    if not recipients:
        raise SendFailed("No recipients.")
    subject, _, body = delivery.payload.partition("\n\n")
    try:
        EmailMessage(
            subject=subject, body=body, from_email=brand_current().from_email, to=recipients
        ).send()
    except Exception as exc:  # SMTP refusals, timeouts, a mailer misconfigured
        raise SendFailed(f"The mail server refused it: {type(exc).__name__}") from None


def _send_webhook(delivery: AlertDelivery, seconds: float) -> int:
    endpoint = delivery.endpoint
    if endpoint is None:
        raise SendFailed("The webhook was deleted.")
    if not endpoint.enabled:
        raise SendFailed("The webhook is turned off.")
    try:
        secret = endpoint.secret()
    except SecretUnreadable as exc:
        raise SendFailed(str(exc)) from None
    return webhooks.post(
        endpoint.url,
        delivery.payload,
        keys=[secret] if secret else [],
        message_id=delivery.message_id,
        seconds=seconds,
        user_agent=USER_AGENT,
    )


def attempt(delivery_id: int, budget: float | None = None) -> datetime.datetime | None:
    """Try a pending delivery once if its time has come; when to try it again, or None.

    The try takes at most ALERT_SEND_TIMEOUT seconds, or `budget` when that is less."""
    with transaction.atomic():
        delivery = (
            AlertDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id, state=AlertDelivery.State.PENDING)
            .first()
        )
        now = timezone.now()
        if delivery is None:
            return None  # sent already, given up, or another process is trying it now
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return None  # its own scheduled task will come
        delivery.attempts += 1
        delivery.last_attempt_at = now
        try:
            if delivery.channel == AlertDelivery.Channel.EMAIL:
                _send_email(delivery)
                delivery.status_code = None
            else:
                delivery.status_code = _send_webhook(delivery, try_seconds(budget))
        except SendFailed as exc:
            delivery.error = str(exc)[:ERROR_MAX]
            delivery.status_code = exc.status
            if delivery.attempts >= max(1, int(settings.ALERT_ATTEMPTS)):
                delivery.state = AlertDelivery.State.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = timezone.now() + retry_delay(delivery.attempts)
            logger.warning(
                "Alert delivery %s (%s) try %d failed: %s",
                delivery.pk,
                delivery.channel,
                delivery.attempts,
                delivery.error,
                extra={"alert_delivery": delivery.pk},
            )
        else:
            delivery.state = AlertDelivery.State.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
            delivery.error = ""
        delivery.save()
        return delivery.next_attempt_at


def due(now: datetime.datetime, grace: datetime.timedelta) -> list[int]:
    """Pending deliveries the worker should have taken more than `grace` ago."""
    return list(
        AlertDelivery.objects.filter(state=AlertDelivery.State.PENDING)
        .filter(
            Q(next_attempt_at__lte=now - grace)
            | Q(next_attempt_at__isnull=True, created_at__lte=now - grace)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:200]
    )

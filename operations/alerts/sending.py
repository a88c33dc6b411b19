"""Sending one alert message: an email to the operators or a signed webhook call.

`attempt(delivery_id)` makes one try of a pending `AlertDelivery` whose time has come
and records it: delivered, or the status code / error and when to try again (the first
retry after ALERT_RETRY_BASE seconds, doubling up to ALERT_RETRY_MAX), or failed after
ALERT_ATTEMPTS tries. It is claimed before the try (core.webhooks.claim), so the worker
and `check_alerts` (which sends what the worker has not taken) never send it twice at
once, and no transaction is open while the receiver answers.
The call itself, its URL check and signature are core/webhooks.py's.
"""

import datetime
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

from branding.selectors import brand_current
from core import webhooks
from core.webhooks import SendFailed
from operations.models import AlertDelivery

logger = logging.getLogger(__name__)

USER_AGENT = "connect-and-claim-alerts"


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
    return webhooks.post(
        endpoint.url,
        delivery.payload,
        delivery.message_id,
        lambda: [endpoint.secret()],
        seconds=seconds,
        user_agent=USER_AGENT,
    )


def attempt(delivery_id: int, budget: float | None = None) -> datetime.datetime | None:
    """Try a pending delivery once if its time has come; when to try it again, or None.

    The try takes at most ALERT_SEND_TIMEOUT seconds, or `budget` when that is less.
    It is claimed first (core.webhooks.claim), so no transaction is open while the
    receiver or the mail server answers."""
    seconds = try_seconds(budget)
    with transaction.atomic():
        queryset = AlertDelivery.objects.select_related("endpoint")
        delivery = webhooks.take_due(queryset, delivery_id)
        if delivery is None:
            return None
        webhooks.claim(delivery, seconds=seconds)

    def send() -> int | None:
        if delivery.channel == AlertDelivery.Channel.EMAIL:
            _send_email(delivery)
            return None
        return _send_webhook(delivery, seconds)

    webhooks.try_once(
        delivery,
        send,
        most=int(settings.ALERT_ATTEMPTS),
        wait=lambda tries, failure: retry_delay(tries),
        what=f"Alert delivery ({delivery.channel})",
    )
    with transaction.atomic():
        if not webhooks.settle(AlertDelivery.objects.all(), delivery):
            return None  # another process took it over; its try stands
        return delivery.next_attempt_at


def due(now: datetime.datetime, grace: datetime.timedelta) -> list[int]:
    """Pending deliveries the worker should have taken more than `grace` ago."""
    return webhooks.overdue(AlertDelivery.objects.all(), now, grace)

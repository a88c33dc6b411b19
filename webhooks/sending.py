"""One try of a webhook message to the host site, and what it leaves behind.

`attempt(delivery_id)` tries a pending `Delivery` whose time has come, once, and
records it: an `Attempt` row (when, how long, the status code or why none), then the
delivery delivered (a 2xx), failed (its WEBHOOK_ATTEMPTS tries spent, or the endpoint
turned off), or pending with the time of its next try. Before the call the delivery is
claimed in a short transaction (core.webhooks.claim: counted, its next try set past
the try's deadline), so the task worker and `send_webhooks` (which sends what no worker
took) never send it twice at once, no database lock is held while the receiver
answers, and a worker stopped mid-try leaves it pending, taken again after the claim.

Each try is signed anew (a fresh webhook-timestamp and signature; the same webhook-id
and the body byte for byte) by core/webhooks.py, which also checks the URL again, does
not follow redirects and cuts the try at WEBHOOK_SEND_TIMEOUT.

A message for an endpoint turned off fails without a call (staff's Send test still
goes: it is how they check an endpoint before turning it on).

410 Gone is the receiver saying it wants no more messages, and the Standard Webhooks
guidance says to stop: the endpoint is turned off (its `disabled_reason` says why and
when) and this message fails; messages still waiting for it fail at their turn, and
staff turn it on again and replay what they want resent. Any other answer, and no
answer within the time, is tried again after the backoff (at least what a Retry-After
header asks, within WEBHOOK_RETRY_MAX).
"""

import datetime
import logging
from time import monotonic

from django.conf import settings
from django.db import transaction

from core import webhooks
from webhooks.models import Attempt, Delivery, Endpoint, EventType

logger = logging.getLogger(__name__)

AGENT = "connect-and-claim-webhooks"
FACTOR = 4.0  # each wait four times the one before (config/settings_webhooks.py)
JITTER = 0.2  # moved at random by up to a fifth either way
GONE = 410


def try_seconds(budget: float | None = None) -> float:
    """How long one try may take: WEBHOOK_SEND_TIMEOUT, or less when `budget` is less."""
    seconds = max(0.1, float(settings.WEBHOOK_SEND_TIMEOUT))
    return seconds if budget is None else max(0.1, min(seconds, budget))


def retry_delay(attempts: int, retry_after: float | None = None) -> datetime.timedelta:
    """The wait after `attempts` failed tries (at least `retry_after`, within the ceiling)."""
    ceiling = float(settings.WEBHOOK_RETRY_MAX)
    wait = webhooks.backoff(
        attempts,
        base=float(settings.WEBHOOK_RETRY_BASE),
        ceiling=ceiling,
        factor=FACTOR,
        jitter=JITTER,
    )
    if retry_after:
        wait = max(wait, datetime.timedelta(seconds=min(retry_after, ceiling)))
    return wait


def _send(delivery: Delivery, seconds: float) -> int:
    endpoint, body, webhook_id = delivery.endpoint, delivery.body, delivery.message_id
    keys = endpoint.signing_secrets
    return webhooks.post(endpoint.url, body, webhook_id, keys, seconds=seconds, user_agent=AGENT)


def _turn_off(endpoint: Endpoint, now: datetime.datetime) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = (
        f"Turned off on {now:%Y-%m-%d %H:%M} UTC: the receiver answered 410 Gone, which "
        "says it wants no more messages. Turn it on again when it does."
    )
    endpoint.save(update_fields=["enabled", "disabled_reason"])
    logger.warning(
        "Webhook endpoint %s answered 410 Gone: turned off",
        endpoint.pk,
        extra={"endpoint": endpoint.pk},
    )


def _endpoint_off(delivery: Delivery) -> None:
    delivery.state = Delivery.State.FAILED
    delivery.next_attempt_at = None
    delivery.error = (
        "Not sent: the endpoint is turned off. Turn it on and replay this message to send it."
    )


def attempt(delivery_id: int, budget: float | None = None) -> datetime.datetime | None:
    """Try a pending delivery once if its time has come; when to try it again, or None.

    The try takes at most WEBHOOK_SEND_TIMEOUT seconds, or `budget` when that is less.
    No transaction is open while the receiver answers: the delivery is claimed first
    (core.webhooks.claim), then the outcome recorded."""
    seconds = try_seconds(budget)
    with transaction.atomic():
        delivery = webhooks.take_due(Delivery.objects.select_related("endpoint"), delivery_id)
        if delivery is None:
            return None
        if not delivery.endpoint.enabled and delivery.event_type != EventType.TEST:
            _endpoint_off(delivery)
            delivery.save()
            return None
        webhooks.claim(delivery, seconds=seconds)
    started = monotonic()
    webhooks.try_once(
        delivery,
        lambda: _send(delivery, seconds),
        most=int(settings.WEBHOOK_ATTEMPTS),
        wait=lambda tries, failure: retry_delay(tries, failure.retry_after),
        final=lambda failure: failure.status == GONE,
        what=f"Webhook delivery ({delivery.event_type})",
    )
    with transaction.atomic():
        Attempt.objects.create(
            delivery=delivery,
            at=delivery.last_attempt_at,
            status_code=delivery.status_code,
            duration_ms=round((monotonic() - started) * 1000),
            error=delivery.error,
        )
        if not webhooks.settle(Delivery.objects.all(), delivery):
            return None  # another process took it over; its try stands
        if delivery.status_code == GONE:
            _turn_off(delivery.endpoint, delivery.last_attempt_at)
        return delivery.next_attempt_at


def due(now: datetime.datetime, grace: datetime.timedelta) -> list[int]:
    """Pending deliveries the worker should have taken more than `grace` ago."""
    return webhooks.overdue(Delivery.objects.all(), now, grace)

"""Telling the operators about an incident: one email and one call per webhook.

`notify(incident, event)` records the messages (an `AlertDelivery` each, made under the
incident's lock and unique per incident, event and target, so a message is never made
twice) and queues them for the worker once the transaction commits. Emails go to
ALERT_EMAILS, or, when it is empty, to active staff with an email address who hold
operations.receive_alerts (directly or through a group), and to superusers.
"""

import json
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from branding.selectors import brand_current
from core import webhooks
from operations.alerts import tasks
from operations.models import AlertDelivery, AlertEndpoint, Incident

Event = AlertDelivery.Event
logger = logging.getLogger(__name__)


def recipients() -> list[str]:
    """Who alert emails go to, each address once."""
    if settings.ALERT_EMAILS:
        return list(dict.fromkeys(a.strip() for a in settings.ALERT_EMAILS if a.strip()))
    permission = Permission.objects.filter(
        content_type__app_label="operations", codename="receive_alerts"
    ).first()
    holds = Q(is_superuser=True)
    if permission is not None:
        holds |= Q(user_permissions=permission) | Q(groups__permissions=permission)
    users = (
        get_user_model()
        .objects.filter(holds, is_active=True, is_staff=True)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
        .distinct()
    )
    return list(dict.fromkeys(users))


def nobody_hears() -> bool:
    """No one to email and no webhook turned on: an incident would tell nobody."""
    return not recipients() and not AlertEndpoint.objects.filter(enabled=True).exists()


def message_id() -> str:
    return webhooks.new_message_id()


def admin_link(incident: Incident) -> str:
    path = reverse("admin:operations_incident_change", args=[incident.pk])
    return f"{settings.PUBLIC_URL.rstrip('/')}{path}"


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def webhook_body(incident: Incident | None, event: str) -> str:
    """The JSON body, in the Standard Webhooks shape {type, timestamp, data}."""
    data: dict = {"message": "A test from Connect & Claim: this webhook is set up."}
    if incident is not None:
        data = {
            "incident": incident.pk,
            "kind": incident.kind,
            "title": incident.get_kind_display(),
            "key": incident.key,
            "summary": incident.summary,
            "count": incident.count,
            "opened_at": _iso(incident.opened_at),
            "last_seen_at": _iso(incident.last_seen_at),
            "resolved_at": _iso(incident.resolved_at),
            "admin_url": admin_link(incident),
        }
    body = {"type": event, "timestamp": timezone.now().isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def email_text(incident: Incident, event: str) -> str:
    """Subject, a blank line, then the body (how an email delivery keeps its message)."""
    title = incident.get_kind_display()
    if event == Event.RESOLVED:
        subject = f"Resolved: {title}"
        lead = f"This is over: no longer seen since {incident.last_seen_at:%Y-%m-%d %H:%M} UTC."
    else:
        subject = f"Alert: {title}"
        lead = "This needs you."
    lines = [
        lead,
        "",
        incident.summary,
        "",
        f"Opened: {incident.opened_at:%Y-%m-%d %H:%M} UTC",
        f"Rows concerned so far: {incident.count}",
        f"See it in the admin: {admin_link(incident)}",
        "",
        "You get one message when an incident opens and one when it is resolved; the "
        "admin shows it in between.",
    ]
    return f"[{brand_current().name}] {subject}\n\n" + "\n".join(lines)


def _queue_on_commit(deliveries: list[AlertDelivery]) -> None:
    ids = [d.pk for d in deliveries]

    def send() -> None:
        for pk in ids:
            tasks.enqueue(pk)

    transaction.on_commit(send)


def notify(incident: Incident, event: str, *, queue: bool = True) -> list[AlertDelivery]:
    """Record the operators' messages about `incident` (call it inside the transaction
    that holds the incident's row lock) and, unless `queue` is False (the caller sends
    them itself), queue them for the worker once it commits."""
    made = []
    people = recipients()
    if people:
        made.append(
            AlertDelivery.objects.create(
                channel=AlertDelivery.Channel.EMAIL,
                event=event,
                incident=incident,
                recipients="\n".join(people),
                message_id=message_id(),
                payload=email_text(incident, event),
            )
        )
    body = webhook_body(incident, event)
    for endpoint in AlertEndpoint.objects.filter(enabled=True).order_by("pk"):
        made.append(
            AlertDelivery.objects.create(
                channel=AlertDelivery.Channel.WEBHOOK,
                event=event,
                incident=incident,
                endpoint=endpoint,
                message_id=message_id(),
                payload=body,
            )
        )
    if not made:
        logger.warning(
            "Alert %s (%s): nobody receives alerts. Set ALERT_EMAILS, give a staff member "
            "with an email address the 'Receives alert emails' permission, or add an alert "
            "webhook.",
            incident,
            event,
            extra={"incident": incident.pk},
        )
    if queue:
        _queue_on_commit(made)
    return made


def send_test(endpoint: AlertEndpoint) -> AlertDelivery:
    """A test message to one webhook, queued now."""
    with transaction.atomic():
        delivery = AlertDelivery.objects.create(
            channel=AlertDelivery.Channel.WEBHOOK,
            event=Event.TEST,
            endpoint=endpoint,
            message_id=message_id(),
            payload=webhook_body(None, Event.TEST),
        )
        _queue_on_commit([delivery])
    return delivery


def replay(original: AlertDelivery) -> AlertDelivery:
    """The same message again (same webhook-id and body, signed anew), as a new row."""
    with transaction.atomic():
        delivery = AlertDelivery.objects.create(
            channel=original.channel,
            event=original.event,
            incident=original.incident,
            endpoint=original.endpoint,
            recipients=original.recipients,
            message_id=original.message_id,
            payload=original.payload,
            replay_of=original,
        )
        _queue_on_commit([delivery])
    return delivery

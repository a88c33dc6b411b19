"""The events the host site hears of, their payloads, and the messages they make.

`emit(event_type, data)` makes one `Delivery` per enabled endpoint that wants the event
(one webhook-id for the event, shared by them all), inside the caller's transaction,
and queues them for the task worker once it commits. With no endpoint wanting it, it
builds nothing (`data` may be a function, called only then), and with no endpoint
enabled at all it costs one cache read and no query: see `_enabled_endpoints`.

Bodies follow the Standard Webhooks payload structure, {"type", "timestamp", "data"},
as compact JSON stored exactly as sent. A member is named the same way here and in the
read API: {"host_id": the host site's id when they signed on from it, else null,
"external_id": their id on this site}; null when the member's account is gone.
"""

import datetime
import json
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from claims.models import Completion
from core import shared_version, webhooks
from users.selectors import host_ids
from webhooks import tasks
from webhooks.models import Delivery, Endpoint, EventType

Data = dict | Callable[[], dict]

COMPLETION_EVENTS = {
    Completion.State.COMPLETED: EventType.COMPLETION_COMPLETED,
    Completion.State.FAILED: EventType.COMPLETION_FAILED,
    Completion.State.REVOKED: EventType.COMPLETION_REVOKED,
}


def iso(moment: datetime.datetime | None) -> str | None:
    """A time as ISO 8601 in UTC ("2026-12-07T10:00:00.123456Z"), or None."""
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def member(member_id: int | None, external_id, host_id: str | None) -> dict | None:
    if member_id is None:
        return None
    return {"host_id": host_id or None, "external_id": str(external_id)}


def body(event_type: str, data: dict, at: datetime.datetime | None = None) -> str:
    payload = {"type": event_type, "timestamp": iso(at or timezone.now()), "data": data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def _record(rows: list[Delivery]) -> list[Delivery]:
    """Save the new messages and queue each for the worker once the transaction commits."""
    with transaction.atomic():
        made = Delivery.objects.bulk_create(rows)
        ids = [delivery.pk for delivery in made]

        def queue() -> None:
            for pk in ids:
                tasks.enqueue(pk)

        transaction.on_commit(queue)
    return made


# "No endpoint is enabled", the common case, known without a query. The answer is kept
# per process under a shared version (core/shared_version.py: never on a cache the
# processes do not share) that every save or deletion of an endpoint replaces, at once
# and again when its transaction commits (receivers.py), so the next event after a
# change reads the table again in every process. Only "none" is trusted: with any
# endpoint enabled, emit() reads which from the table.
VERSION_KEY = "webhooks:endpoints-version"
KEPT: shared_version.Kept[bool] = shared_version.Kept(VERSION_KEY)  # some endpoint enabled


def _enabled_endpoints() -> list[Endpoint]:
    version, some = KEPT.lookup()
    if some is False:
        return []
    endpoints = list(Endpoint.objects.filter(enabled=True))
    KEPT.keep(version, bool(endpoints))
    return endpoints


def emit(event_type: str, data: Data) -> list[Delivery]:
    """Record the event's message for each enabled endpoint that wants it and queue them
    once the caller's transaction commits; [] (and nothing built) when none wants it."""
    endpoints = [e for e in _enabled_endpoints() if e.wants(event_type)]
    if not endpoints:
        return []
    text = body(event_type, data() if callable(data) else data)
    message_id = webhooks.new_message_id()
    return _record(
        [
            Delivery(endpoint=endpoint, event_type=event_type, message_id=message_id, body=text)
            for endpoint in sorted(endpoints, key=lambda e: e.pk)
        ]
    )


def send_test(endpoint: Endpoint) -> Delivery:
    """A test message to one endpoint, on or off (staff asked for it), queued now."""
    data = {"message": "A test from Connect & Claim: this webhook endpoint is set up."}
    text = body(EventType.TEST, data)
    test = Delivery(endpoint=endpoint, event_type=EventType.TEST, body=text)
    test.message_id = webhooks.new_message_id()
    return _record([test])[0]


def replay(original: Delivery) -> Delivery:
    """The same message again (same webhook-id and body, signed anew), as a new row."""
    again = Delivery(endpoint=original.endpoint, event_type=original.event_type)
    again.message_id, again.body, again.replay_of = original.message_id, original.body, original
    return _record([again])[0]


# --- Payloads ---------------------------------------------------------------------------


def completion_data(completion_id: int, from_state: str, to_state: str) -> dict:
    """A completion as the host site sees it (the read API's shape) and where it came from.

    `state` is the state it moved into: the row may have moved on since, and then its own
    event follows."""
    row = Completion.objects.select_related("claim", "member").get(pk=completion_id)
    person = row.member  # None once they deleted their account
    return {
        "id": row.pk,
        "claim": row.claim.slug,
        "member": person
        and member(person.pk, person.external_id, host_ids([person.pk]).get(person.pk)),
        "state": to_state,
        "previous_state": from_state,
        "reason": row.reason,
        "address": row.address,
        "completed_at": iso(row.completed_at),
        "updated_at": iso(row.updated_at),
    }


def account_data(account, member_row, previous: str, current: str) -> dict:
    """A connected account whose health changed, and its health before."""
    return {
        "id": account.pipedream_id,
        "app": account.app.slug,
        "health": current,
        "previous_health": previous,
        "connected_at": iso(account.created_at),
        "member": member(
            member_row.pk, member_row.external_id, host_ids([member_row.pk]).get(member_row.pk)
        ),
    }


def member_deleted_data(member_id: int, external_id, host_id: str | None, at) -> dict:
    return {"member": member(member_id, external_id, host_id), "deleted_at": iso(at)}

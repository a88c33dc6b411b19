"""Pipedream's connection webhooks: checked, stored raw, then processed by a task.

Connection webhooks are not signed (docs §6), so a delivery is only a hint. Every one
is stored as received, accepted or refused, and nothing in it is acted on at once; it
must come with our signed session
reference (`?s=`, put in the token's webhook_uri) and carry the very Connect token
that session was minted with; then a task re-fetches the account from Pipedream with
the server's credentials. Deliveries are deduplicated, so a replay changes nothing.

This module is the view only: the task is in connections/tasks.py, the processing it
runs in connections/services/webhooks.py.
"""

import hashlib
import logging

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from connections import services, tasks
from connections.models import WebhookEvent
from connections.services.webhooks import EVENTS, delivery_json, token_matches

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


def _refuse(fields: dict, session, status: int, detail: str) -> JsonResponse:
    """Store the delivery as refused (one INSERT) and say why."""
    event = WebhookEvent.objects.create(
        **fields,
        session=session,
        outcome=WebhookEvent.Outcome.REFUSED,
        detail=detail,
        processed_at=timezone.now(),
    )
    logger.warning("Webhook %s refused: %s", event.pk, detail)
    return JsonResponse({"error": detail}, status=status)


def _storable(text: str) -> str:
    """`text` as a text column takes it: PostgreSQL refuses NUL characters."""
    return text.replace("\x00", "\ufffd")


@csrf_exempt
@login_not_required
def webhook(request):
    """POST /connect/webhook/?s=<signed session>: answer fast, process in a task.

    Checked before it is written (the checks only read), then written once: a refused
    delivery as one row, an accepted one as its row and its task in one commit.
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # A body declared too large is not read at all: it is refused at once, not waited for.
    raw = b"" if declared > MAX_BODY else request.read(MAX_BODY + 1)
    too_big = declared > MAX_BODY or len(raw) > MAX_BODY
    raw = raw[:MAX_BODY]
    payload = None if too_big else delivery_json(raw)
    event_name = payload.get("event") if isinstance(payload, dict) else None
    # Every delivery is stored, refused or not, in one statement. The raw body holds the
    # Connect token: it is already spent (one use) by the time Pipedream sends this, and
    # admins need the delivery as received to judge it (the admin shows it cut short).
    fields = dict(
        body=_storable(raw.decode("utf-8", errors="replace")),
        body_digest=hashlib.sha256(raw).hexdigest(),
        content_type=request.content_type[:100] if request.content_type else "",
        event=_storable(event_name[:50]) if isinstance(event_name, str) else "",
    )
    if too_big:
        size = declared or len(raw)
        detail = f"The body ({size} bytes) is over the {MAX_BODY} byte limit."
        return _refuse(fields, None, 413, detail)
    reference = request.GET.get("s", "")
    if not reference:
        return _refuse(fields, None, 400, "No session reference (?s=) in the URL.")
    session = services.connect_session_for_reference(reference)
    if session is None:
        detail = "The session reference is invalid, tampered with or expired."
        return _refuse(fields, None, 403, detail)
    if payload is None:
        return _refuse(fields, session, 400, "The body is not JSON.")
    if not isinstance(payload, dict):
        return _refuse(fields, session, 400, "The body is not a JSON object.")
    if not token_matches(payload, session):
        return _refuse(
            fields, session, 403, "Forged: the connect_token is not the session's token."
        )
    if event_name not in EVENTS:
        return _refuse(fields, session, 400, f"Unknown event {str(event_name)[:50]!r}.")
    # The delivery and its task in one transaction (one commit): the task row is the
    # queue (django-tasks-db), so a worker sees both or neither.
    with transaction.atomic():
        event = WebhookEvent.objects.create(**fields, session=session)
        tasks.webhook_process_task.enqueue(event.pk)
    return JsonResponse({"status": "accepted"}, status=202)

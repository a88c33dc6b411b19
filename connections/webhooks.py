"""Pipedream's connection webhooks: checked, stored raw, then processed by a task.

Connection webhooks are not signed (docs §6), so a delivery is only a hint, and nothing
in it is acted on at once: it must come with our signed session reference (`?s=`, put
in the token's webhook_uri) and carry the very Connect token that session was minted
with; then a task re-fetches the account from Pipedream with the server's credentials.
Deliveries are deduplicated, so a replay changes nothing.

What is kept: an accepted delivery keeps its raw body (until processed and for
RETENTION_BODY_DAYS); a refused one only its digest, size and what an operator judges it
by (time, session, event name, content type, why), so a flood of refusals stores little.
Deliveries naming a valid session are counted per session and per member
(CONNECT_WEBHOOK_RATE_LIMIT, CONNECT_WEBHOOK_MEMBER_RATE_LIMIT); past either the answer
is 429 with Retry-After, and nothing is stored or queued. Refusals are stored at most
WEBHOOK_REFUSED_RATE_LIMIT per client address and WEBHOOK_REFUSED_SITE_RATE_LIMIT for the
site; past either, the same refusal is answered and nothing is stored. A delivery for a
session that has recorded its account is acknowledged (200), kept as a duplicate and
acted on no further. `manage.py prune_records` removes what is past retention.

This module is the view only: the task is in connections/tasks.py, the processing it
runs in connections/services/webhooks.py.
"""

import hashlib
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from connections import services, tasks
from connections.models import WebhookEvent
from connections.services.sessions import session_spent
from connections.services.webhooks import (
    EVENTS,
    delivery_json,
    refusal_recordable,
    spent_detail,
    token_matches,
)
from core import ratelimit

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


def _refuse(request, fields: dict, session, status: int, detail: str) -> JsonResponse:
    """Store the delivery as refused, without its body (one INSERT), and say why; past
    the refusals recorded per client address or for the site, the same answer and no row."""
    if refusal_recordable("connect-webhook", ratelimit.client_ip(request)):
        event = WebhookEvent.objects.create(
            **fields,
            session=session,
            outcome=WebhookEvent.Outcome.REFUSED,
            detail=detail,
            processed_at=timezone.now(),
        )
        logger.warning("Webhook %s refused: %s", event.pk, detail)
        return JsonResponse({"error": detail}, status=status)
    return _unlogged(JsonResponse({"error": detail}, status=status))


def _unlogged(response: JsonResponse) -> JsonResponse:
    """`response` without Django's warning per 4xx response (django.request): one that a
    flood is cut off with is logged once per window (above), not once per request."""
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _storable(text: str) -> str:
    """`text` as a text column takes it: PostgreSQL refuses NUL characters."""
    return text.replace("\x00", "\ufffd")


def _throttled(session) -> int | None:
    """Count a delivery naming `session`, per session and per member; past either limit,
    the seconds until the fuller window ends, else None. Every delivery naming a valid
    session counts, forged or not: a flood on one reference is cut off before it is
    parsed, stored or queued."""

    def flooded(wait: int) -> None:  # once per window, not once per refused request
        logger.warning(
            "Webhooks for session %s over the rate limit: answered 429, not stored", session.pk
        )

    (per_session, session_window) = settings.CONNECT_WEBHOOK_RATE_LIMIT
    (per_member, member_window) = settings.CONNECT_WEBHOOK_MEMBER_RATE_LIMIT
    waits = ratelimit.hits(  # both counted, in one round trip
        [
            ("connect-webhook", session.pk, per_session, session_window),
            ("connect-webhook-member", session.member_id, per_member, member_window),
        ],
        on_first_refusal=flooded,
    )
    return max((wait for wait in waits if wait is not None), default=None)


@csrf_exempt
@login_not_required
def webhook(request):
    """POST /connect/webhook/?s=<signed session>: answer fast, process in a task.

    Checked before it is written (the checks only read the database), then written once:
    a refused delivery as one row without its body, an accepted one as its row and its
    task in one commit; one over the rate limit not at all (429).
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
    # Bytes received, or declared when too many to read (read: at most one past the limit).
    size = declared if declared > MAX_BODY else len(raw)
    raw = raw[:MAX_BODY]
    payload = None if too_big else delivery_json(raw)
    event_name = payload.get("event") if isinstance(payload, dict) else None
    # A delivery is stored in one statement: a refused one without its body (_refuse), an
    # accepted one with it. The raw body holds the Connect token: it is already spent (one
    # use) by the time Pipedream sends this, and admins need the delivery as received to
    # judge it (the admin shows the token cut short).
    fields = dict(
        body_digest=hashlib.sha256(raw).hexdigest(),
        body_size=size,
        content_type=request.content_type[:100] if request.content_type else "",
        event=_storable(event_name[:50]) if isinstance(event_name, str) else "",
    )
    if too_big:
        detail = f"The body ({size} bytes) is over the {MAX_BODY} byte limit."
        return _refuse(request, fields, None, 413, detail)
    reference = request.GET.get("s", "")
    if not reference:
        return _refuse(request, fields, None, 400, "No session reference (?s=) in the URL.")
    session = services.connect_session_for_webhook(reference)
    if session is None:
        detail = "The session reference is invalid, tampered with or expired."
        return _refuse(request, fields, None, 403, detail)
    wait = _throttled(session)
    if wait is not None:
        response = JsonResponse({"error": "Too many deliveries for this session."}, status=429)
        response["Retry-After"] = str(wait)
        return _unlogged(response)
    if payload is None:
        return _refuse(request, fields, session, 400, "The body is not JSON.")
    if not isinstance(payload, dict):
        return _refuse(request, fields, session, 400, "The body is not a JSON object.")
    if not token_matches(payload, session):
        return _refuse(
            request, fields, session, 403, "Forged: the connect_token is not the session's token."
        )
    if event_name not in EVENTS:
        return _refuse(request, fields, session, 400, f"Unknown event {str(event_name)[:50]!r}.")
    if session_spent(session):
        # The session has recorded its account: acknowledged (Pipedream does not send it
        # again), kept as a duplicate without its body, and nothing queued or asked.
        WebhookEvent.objects.create(
            **fields,
            session=session,
            outcome=WebhookEvent.Outcome.DUPLICATE,
            detail=spent_detail(session, payload),
            processed_at=timezone.now(),
        )
        return JsonResponse({"status": "ignored", "reason": "The session is already connected."})
    # The delivery and its task in one transaction (one commit): the task row is the
    # queue (django-tasks-db), so a worker sees both or neither.
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            **fields, body=_storable(raw.decode("utf-8", errors="replace")), session=session
        )
        tasks.webhook_process_task.enqueue(event.pk)
    return JsonResponse({"status": "accepted"}, status=202)

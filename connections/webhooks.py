"""Pipedream's connection webhooks: checked, stored raw, then processed by a task.

Connection webhooks are not signed (docs §6), so a delivery is only a hint. Every one
is stored as received, accepted or refused, and nothing in it is acted on at once; it
must come with our signed session
reference (`?s=`, put in the token's webhook_uri) and carry the very Connect token
that session was minted with; then a task re-fetches the account from Pipedream with
the server's credentials. Deliveries are deduplicated, so a replay changes nothing.
"""

import datetime
import hashlib
import json
import logging

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from connections import services
from connections.models import ConnectSession, WebhookEvent

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
# A delivery accepted this long ago and still pending lost its task (a worker killed
# mid-run leaves the task "running" for good): the cron's sync processes it.
STALE_AFTER = datetime.timedelta(minutes=10)
SUCCESS = "CONNECTION_SUCCESS"
ERROR = "CONNECTION_ERROR"
EVENTS = (SUCCESS, ERROR)


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


def _parse(raw: bytes):
    """The JSON in `raw`, or None: also for nesting too deep to parse (RecursionError)
    and for strings no database can store (lone surrogates such as "\\ud800")."""
    try:
        payload = json.loads(raw)
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        return None
    return payload


def _storable(text: str) -> str:
    """`text` as a text column takes it: PostgreSQL refuses NUL characters."""
    return text.replace("\x00", "\ufffd")


def token_matches(payload: dict, session: ConnectSession) -> bool:
    token = payload.get("connect_token")
    return isinstance(token, str) and services.token_digest(token) == session.token_digest


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
    payload = None if too_big else _parse(raw)
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
        _enqueue(event.pk)
    return JsonResponse({"status": "accepted"}, status=202)


def _enqueue(event_id: int) -> None:
    from connections import tasks

    tasks.webhook_process_task.enqueue(event_id)


def webhook_process(*, event_id: int, replay: bool = False) -> WebhookEvent:
    """Act on a stored delivery; returns the event with its outcome.

    A settled delivery is left as it is, unless `replay`: then processing runs again
    and the returned event carries the replay's outcome, while the stored row keeps
    its first settled outcome (a replay changes nothing).
    """
    event = WebhookEvent.objects.select_related("session__member", "session__app").get(pk=event_id)
    settled = event.outcome not in (WebhookEvent.Outcome.PENDING, WebhookEvent.Outcome.ERROR)
    if settled and not replay:
        return event
    outcome, detail = _process(event)
    if not settled:
        with transaction.atomic():
            acted = [WebhookEvent.Outcome.CONNECTED, WebhookEvent.Outcome.FAILED]
            if event.session_id is not None and outcome in acted:
                # Two workers may process a delivery and its replay at once, each before
                # the other has settled: the session's row lock orders them, and the
                # later one records what it is, a duplicate (its work changed nothing).
                ConnectSession.objects.select_for_update().filter(pk=event.session_id).first()
                done = (
                    WebhookEvent.objects.filter(body_digest=event.body_digest, outcome__in=acted)
                    .exclude(pk=event.pk)
                    .first()
                )
                if done is not None:
                    outcome = WebhookEvent.Outcome.DUPLICATE
                    detail = f"Same body as delivery {done.pk}: nothing changed."
            event.processed_at = timezone.now()
            WebhookEvent.objects.filter(pk=event.pk).exclude(
                outcome__in=[
                    WebhookEvent.Outcome.CONNECTED,
                    WebhookEvent.Outcome.FAILED,
                    WebhookEvent.Outcome.DUPLICATE,
                    WebhookEvent.Outcome.REFUSED,
                ]
            ).update(outcome=outcome, detail=detail, processed_at=event.processed_at)
    event.outcome, event.detail = outcome, detail
    return event


def _process(event: WebhookEvent) -> tuple[str, str]:
    Outcome = WebhookEvent.Outcome
    session = event.session
    if session is None:
        return Outcome.REFUSED, "No verified session: nothing to act on."
    payload = _parse(event.body.encode())
    if not isinstance(payload, dict) or not token_matches(payload, session):
        return Outcome.REFUSED, "The body is not a delivery for this session."
    done = (
        WebhookEvent.objects.filter(
            body_digest=event.body_digest,
            outcome__in=[Outcome.CONNECTED, Outcome.FAILED],
        )
        .exclude(pk=event.pk)
        .first()
    )
    if done is not None:
        return Outcome.DUPLICATE, f"Same body as delivery {done.pk}: nothing changed."
    session.refresh_from_db(fields=["status", "account", "error"])
    if payload.get("event") == ERROR:
        if session.status != ConnectSession.Status.ISSUED:
            return Outcome.DUPLICATE, f"The session is already {session.status}: nothing changed."
        error = str(payload.get("error") or "Pipedream reported a connection error.")
        services.connect_session_fail(session=session, error=error)
        return Outcome.FAILED, f"Session marked failed: {error[:500]}"
    account = payload.get("account")
    pipedream_id = account.get("id") if isinstance(account, dict) else None
    if not isinstance(pipedream_id, str) or not pipedream_id:
        return Outcome.REFUSED, "CONNECTION_SUCCESS without an account id."
    if (
        session.status == ConnectSession.Status.CONNECTED
        and session.account is not None
        and session.account.pipedream_id == pipedream_id
    ):
        return Outcome.DUPLICATE, f"Account {pipedream_id} is already recorded for this session."
    try:
        recorded = services.account_record(
            member=session.member, pipedream_id=pipedream_id, session=session
        )
    except services.UpstreamError as exc:
        return Outcome.ERROR, f"{exc.cause}"[:2000]
    except services.ConnectError as exc:
        return Outcome.REFUSED, f"{type(exc).__name__}: {exc}"
    return Outcome.CONNECTED, f"Account {recorded.pipedream_id} recorded (#{recorded.pk})."


def webhooks_recover(*, older_than: datetime.timedelta = STALE_AFTER) -> tuple[int, int]:
    """Process accepted deliveries still pending after `older_than`; (processed, settled).

    Their task was lost: a worker killed while running it, or the queue unreachable when
    it was accepted. Processing is idempotent (a settled delivery is left alone, the
    same account is recorded once), so a task that is merely slow does no harm.
    """
    cutoff = timezone.now() - older_than
    stale = WebhookEvent.objects.filter(
        outcome=WebhookEvent.Outcome.PENDING, session__isnull=False, received_at__lte=cutoff
    ).order_by("received_at")
    processed = settled = 0
    for event_id in list(stale.values_list("pk", flat=True)):
        processed += 1
        try:
            event = webhook_process(event_id=event_id)
        except Exception:
            # One delivery that cannot be processed must not stop the others (nor the
            # health poll that runs this): it stays pending, and is logged each time.
            logger.exception("Webhook %s: recovery failed; it stays pending", event_id)
            continue
        settled += event.outcome != WebhookEvent.Outcome.PENDING
        logger.info("Webhook %s recovered: %s", event_id, event.outcome)
    return processed, settled

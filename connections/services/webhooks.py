"""Processing Pipedream's connection webhooks, once the view has stored them.

The view (connections/webhooks.py) checks and stores a delivery and enqueues its task;
the task (connections/tasks.py) calls webhook_process here; the health poll and
`sync_accounts --all` call webhooks_recover for deliveries whose task was lost.
Connection webhooks are not signed (docs §6): a delivery is only a hint, so the account
it names is fetched again from Pipedream with the server's credentials.
"""

import datetime
import functools
import json
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from connections.models import ConnectSession, WebhookEvent
from connections.services.accounts import account_record_connecting
from connections.services.errors import ConnectError, UpstreamError, failure_sentence
from connections.services.sessions import (
    NO_REASON,
    connect_session_fail,
    session_spent,
    token_digest,
)
from core import ratelimit

logger = logging.getLogger(__name__)

# A delivery accepted this long ago and still pending lost its task (a worker killed
# mid-run leaves the task "running" for good): the cron's sync processes it.
STALE_AFTER = datetime.timedelta(minutes=10)
# How long the accounts page tells a member why their last connection failed.
FAILURE_NOTICE_FOR = datetime.timedelta(days=1)
SUCCESS = "CONNECTION_SUCCESS"
ERROR = "CONNECTION_ERROR"
EVENTS = (SUCCESS, ERROR)


def delivery_json(raw: bytes):
    """The JSON in `raw`, or None: also for nesting too deep to parse (RecursionError)
    and for strings no database can store (lone surrogates such as "\\ud800")."""
    try:
        payload = json.loads(raw)
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        return None
    return payload


def _refusals_cut_off(scope: str, who: str, limit: int, window: int, wait: int) -> None:
    logger.warning(
        "Refused %s deliveries from %s over %s in %s s: not stored for %s s",
        scope,
        "the whole site" if who == "site" else who,
        limit,
        window,
        wait,
    )


def refusal_recordable(scope: str, client: str | None) -> bool:
    """Count one refused delivery to `scope` (an endpoint) from `client` (its address);
    False once WEBHOOK_REFUSED_RATE_LIMIT for that address or WEBHOOK_REFUSED_SITE_RATE_LIMIT
    for the site is spent in the window: then the refusal is answered, never stored, and
    this is logged once per window. A refusal over its address's limit does not count
    towards the site's, so one address cannot spend another's share."""
    subject = client or "unknown"
    for who, (limit, window) in (
        (subject, settings.WEBHOOK_REFUSED_RATE_LIMIT),
        ("site", settings.WEBHOOK_REFUSED_SITE_RATE_LIMIT),
    ):
        wait = ratelimit.hit(
            f"{scope}-refused",
            who,
            limit=limit,
            window=window,
            on_first_refusal=functools.partial(_refusals_cut_off, scope, who, limit, window),
        )
        if wait is not None:
            return False
    return True


def spent_detail(session: ConnectSession, payload: dict) -> str:
    """Why a delivery for a session that has recorded its account changes nothing."""
    account = payload.get("account")
    named = account.get("id") if isinstance(account, dict) else None
    if hasattr(session, "account_pipedream_id"):  # read with the session (the webhook)
        recorded = session.account_pipedream_id or "?"
    else:
        recorded = session.account.pipedream_id if session.account is not None else "?"
    if payload.get("event") == SUCCESS and isinstance(named, str) and named != recorded:
        return (
            f"The session already recorded account {recorded}: a delivery naming another "
            f"account ({named[:100]}) is ignored."
        )
    return f"The session already recorded account {recorded}: nothing changed."


def token_matches(payload: dict, session: ConnectSession) -> bool:
    token = payload.get("connect_token")
    return isinstance(token, str) and token_digest(token) == session.token_digest


def webhook_process(*, event_id: int, replay: bool = False) -> WebhookEvent:
    """Act on a stored delivery; returns the event with its outcome.

    A settled delivery is left as it is, unless `replay`: then processing runs again
    and the returned event carries the replay's outcome, while the stored row keeps
    its first settled outcome (a replay changes nothing).
    """
    # With the delivery: its session, member and app (what recording the account needs),
    # and an earlier delivery of the same body that settled already, if any.
    event = (
        WebhookEvent.objects.select_related("session__member", "session__app")
        .annotate(done_pk=Subquery(_same_body_settled(OuterRef("body_digest"), OuterRef("pk"))))
        .get(pk=event_id)
    )
    settled = event.outcome not in (WebhookEvent.Outcome.PENDING, WebhookEvent.Outcome.ERROR)
    if settled and not replay:
        return event
    outcome, detail, tied = _process(event, settle=not settled)
    acted = [WebhookEvent.Outcome.CONNECTED, WebhookEvent.Outcome.FAILED]
    if settled or tied:
        pass  # a replay changes nothing; one that tied its session was settled with it
    elif event.session_id is None or outcome not in acted:
        _settle(event, outcome, detail)  # it changed nothing: no other delivery to weigh
    else:
        with transaction.atomic():
            # Two workers may process a delivery and its replay at once, each before
            # the other has settled: the session's row lock orders them, and the later
            # one records what it is, a duplicate (its work changed nothing). One that
            # tied the session to its account was settled under that lock already.
            list(
                ConnectSession.objects.select_for_update()
                .filter(pk=event.session_id)
                .order_by()
                .values_list("pk")
            )
            done = _same_body_settled(event.body_digest, event.pk).first()
            if done is not None:
                outcome = WebhookEvent.Outcome.DUPLICATE
                detail = f"Same body as delivery {done}: nothing changed."
            _settle(event, outcome, detail)
    event.outcome, event.detail = outcome, detail
    return event


def _settle(event: WebhookEvent, outcome: str, detail: str) -> None:
    """Store the outcome of a pending delivery (one already settled keeps its own)."""
    event.processed_at = timezone.now()
    WebhookEvent.objects.filter(pk=event.pk).exclude(
        outcome__in=[
            WebhookEvent.Outcome.CONNECTED,
            WebhookEvent.Outcome.FAILED,
            WebhookEvent.Outcome.DUPLICATE,
            WebhookEvent.Outcome.REFUSED,
        ]
    ).update(outcome=outcome, detail=detail, processed_at=event.processed_at)


def _connected_detail(account) -> str:
    return f"Account {account.pipedream_id} recorded (#{account.pk})."


def _same_body_settled(body_digest, pk):
    """The ids of the deliveries of this body, other than `pk`, that changed something."""
    acted = [WebhookEvent.Outcome.CONNECTED, WebhookEvent.Outcome.FAILED]
    same = WebhookEvent.objects.filter(body_digest=body_digest, outcome__in=acted)
    return same.exclude(pk=pk).order_by().values_list("pk", flat=True)[:1]


def _process(event: WebhookEvent, *, settle: bool) -> tuple[str, str, bool]:
    """(outcome, detail, whether this delivery tied its session to the account). With
    `settle`, a delivery that ties its session is settled in the same transaction, under
    the session's row lock (a replay racing it then finds it settled)."""
    Outcome = WebhookEvent.Outcome
    session = event.session
    if session is None:
        return Outcome.REFUSED, "No verified session: nothing to act on.", False
    if not event.body:
        # A refused delivery keeps no body, and a processed one's goes after its retention.
        return (
            Outcome.REFUSED,
            "Its body is not kept (refused, or past retention): nothing to act on.",
            False,
        )
    payload = delivery_json(event.body.encode())
    if not isinstance(payload, dict) or not token_matches(payload, session):
        return Outcome.REFUSED, "The body is not a delivery for this session.", False
    # Read with the delivery, as was the session (nothing to read again).
    done = getattr(event, "done_pk", None)  # annotated by webhook_process
    if done is not None:
        return Outcome.DUPLICATE, f"Same body as delivery {done}: nothing changed.", False
    if payload.get("event") == ERROR:
        error = str(payload.get("error") or "Pipedream reported a connection error.")
        # The member came back through the error redirect first, which carries no
        # reason: Pipedream's reason fills in the placeholder (once; a later delivery
        # never rewrites a reason), for the admin and the member's page.
        if ConnectSession.objects.filter(
            pk=session.pk, status=ConnectSession.Status.FAILED, error=NO_REASON
        ).update(error=error[:2000]):
            return Outcome.FAILED, f"Reason recorded: {error[:500]}", False
        if session.status != ConnectSession.Status.ISSUED:
            return (
                Outcome.DUPLICATE,
                f"The session is already {session.status}: nothing changed.",
                False,
            )
        connect_session_fail(session=session, error=error)
        return Outcome.FAILED, f"Session marked failed: {error[:500]}", False
    account = payload.get("account")
    pipedream_id = account.get("id") if isinstance(account, dict) else None
    if not isinstance(pipedream_id, str) or not pipedream_id:
        return Outcome.REFUSED, "CONNECTION_SUCCESS without an account id.", False
    if session_spent(session):
        # Spent: whatever account it names, Pipedream is not asked again, and the session
        # stays tied to the account it recorded (a member holding their own session's
        # token cannot move it to another of their accounts).
        return Outcome.DUPLICATE, spent_detail(session, payload), False

    def settle_tied(account) -> None:
        _settle(event, Outcome.CONNECTED, _connected_detail(account))

    try:
        recorded, tied = account_record_connecting(
            member=session.member,
            pipedream_id=pipedream_id,
            session=session,
            on_tied=settle_tied if settle else None,
        )
    except UpstreamError as exc:
        return Outcome.ERROR, f"{exc.cause}"[:2000], False
    except ConnectError as exc:
        return Outcome.REFUSED, f"{type(exc).__name__}: {exc}", False
    return Outcome.CONNECTED, _connected_detail(recorded), tied and settle


def connect_failure_notice(*, member) -> str | None:
    """What the accounts page tells `member` about their latest connection, when it failed
    lately for a reason they cannot fix themselves (errors.failure_sentence); else None."""
    latest = (
        ConnectSession.objects.filter(member=member)
        .order_by("-created_at")
        .values("status", "error", "completed_at")
        .first()
    )
    if latest is None or latest["status"] != ConnectSession.Status.FAILED:
        return None
    if not latest["completed_at"] or latest["completed_at"] < timezone.now() - FAILURE_NOTICE_FOR:
        return None
    return failure_sentence(latest["error"])


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

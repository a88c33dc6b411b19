"""What `check_alerts` looks for: each condition an operator must hear about.

Each check answers a `Finding` (the condition holds: how many rows, in a sentence), None
(it does not), or raises `NoVerdict` (it cannot tell now, e.g. Pipedream is not
answering): an open incident is then neither updated nor resolved. Every check is one
or two aggregate queries, whatever the number of completions.

- failing: at least ALERT_FAILURES completions failed, or hit an error and wait for a
  retry, within ALERT_FAILURE_WINDOW (the events' own error texts say why: a refused
  BitBadges key shows here, once, however many completions it stops);
- unknown: completions whose outcome has been unknown (sent, not confirmed) for longer
  than ALERT_UNKNOWN_AFTER;
- backlog: more than ALERT_BACKLOG completions due, or the oldest due for longer than
  ALERT_BACKLOG_AGE (no worker or scheduler is taking them);
- pipedream: Pipedream refuses the workspace's OAuth client credentials (a token is
  asked for only when none is cached, as any call would);
- credits: deliveries through BitBadges wait on a pause because its API key's account
  is out of credits. Nothing BitBadges answers an API key tells its balance before it
  is none (the balance route and the key list need a signed-in session; no response
  header counts credits: docs/fidelity.md row 90), so "running low" cannot be seen and
  the alert says so.
"""

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from claims import pause
from claims.models import Completion, CompletionEvent
from connections import pipedream
from operations.models import Incident

Kind = Incident.Kind
State = Completion.State
FAILING_REASONS = (CompletionEvent.Reason.ERROR, CompletionEvent.Reason.GAVE_UP)
ERROR_SHOWN = 300


NO_EARLIER_WARNING = (
    "This alert cannot come earlier: BitBadges tells an API key nothing of its balance "
    "until none is left, so watch the balance on bitbadges.io (Developer, API Keys)."
)


class NoVerdict(Exception):
    """The condition cannot be judged now; say why."""


@dataclass(frozen=True)
class Finding:
    kind: str
    count: int
    summary: str  # sent by email and to webhooks: nothing members or upstreams wrote
    key: str = ""
    detail: str = ""  # for the admin only


_HTTP_STATUS = re.compile(r"\(HTTP (\d{3})\)")
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout|Exhausted|Refused)): ")


def error_category(error: str) -> str:
    """What kind of error a ledger error text is, in words that quote none of it: its
    HTTP status, else the exception's class, else neither."""
    status = _HTTP_STATUS.search(error)
    if status:
        return f"an upstream answered HTTP {status.group(1)}"
    exception = _EXCEPTION.match(error)
    if exception:
        return f"an unexpected {exception.group(1).rsplit('.', 1)[-1]}"
    return "an error with no HTTP status"


def _seconds(name: str) -> datetime.timedelta:
    return datetime.timedelta(seconds=float(getattr(settings, name)))


def _minutes(delta: datetime.timedelta) -> str:
    minutes = max(1, round(delta.total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def failing_events(since: datetime.datetime):
    """Events of completions that failed or hit an error (and retry) since `since`."""
    return CompletionEvent.objects.filter(
        at__gte=since,
        reason__in=FAILING_REASONS,
        to_state__in=(State.FAILED, State.RETRYING),
    )


def failing_count(since: datetime.datetime) -> int:
    return failing_events(since).values("completion").distinct().count()


def failing(now: datetime.datetime) -> Finding | None:
    window = _seconds("ALERT_FAILURE_WINDOW")
    since = now - window
    count = failing_count(since)
    if count < max(1, int(settings.ALERT_FAILURES)):
        return None
    top = (
        failing_events(since)
        .values("details__error")
        .annotate(n=Count("completion", distinct=True))
        .order_by("-n")
        .first()
    )
    error = str((top or {}).get("details__error") or "")
    if len(error) > ERROR_SHOWN:
        error = error[:ERROR_SHOWN] + "…"
    same = (top or {}).get("n", 0)
    # Error texts can quote members' addresses and upstream answers: the messages sent
    # out name the kind of error only; the text itself stays in the admin.
    kind = error_category(error) if error else "no error text was recorded"
    summary = (
        f"{count} completion(s) failed or hit an error in the last {_minutes(window)}. "
        f"Most common ({same}): {kind}. The admin shows the error text."
    )
    detail = f"Most common error text ({same}): {error}" if error else ""
    return Finding(Kind.FAILING, count, summary, detail=detail)


def unknown(now: datetime.datetime) -> Finding | None:
    after = _seconds("ALERT_UNKNOWN_AFTER")
    cut = now - after
    count = (
        Completion.objects.filter(outcome_unknown=True)
        .exclude(state__in=(State.COMPLETED, State.INELIGIBLE))
        .filter(Q(last_attempt_at__lte=cut) | Q(last_attempt_at__isnull=True, updated_at__lte=cut))
        .count()
    )
    if not count:
        return None
    summary = (
        f"{count} completion(s) were sent without a confirmed outcome more than "
        f"{_minutes(after)} ago. Look in Completions (outcome unknown) before sending again."
    )
    return Finding(Kind.UNKNOWN, count, summary)


def backlog(now: datetime.datetime) -> Finding | None:
    due = Completion.objects.due(now).filter(member__isnull=False)
    scheduled = Q(state__in=(State.WAITING, State.RETRYING))
    figures = due.aggregate(
        count=Count("pk"),
        scheduled=Min(Coalesce("next_attempt_at", "updated_at"), filter=scheduled),
        abandoned=Min(Coalesce("lease_expires_at", "updated_at"), filter=~scheduled),
    )
    count = figures["count"]
    since = [at for at in (figures["scheduled"], figures["abandoned"]) if at is not None]
    age = now - min(since) if since else datetime.timedelta(0)
    too_many = count > int(settings.ALERT_BACKLOG)
    too_old = bool(since) and age > _seconds("ALERT_BACKLOG_AGE")
    if not (too_many or too_old):
        return None
    summary = (
        f"{count} completion(s) are due; the oldest has waited {_minutes(age)}. "
        "Check that the task workers and the scheduler (complete_claims) are running."
    )
    return Finding(Kind.BACKLOG, count, summary)


def pipedream_refused(now: datetime.datetime) -> Finding | None:
    try:
        pipedream.get_client().access_token()
    except pipedream.Unauthorized:
        return Finding(
            Kind.PIPEDREAM,
            1,
            "Pipedream refuses the workspace's OAuth client credentials: no account can be "
            "connected, read or checked. Check PIPEDREAM_CLIENT_ID and "
            "PIPEDREAM_CLIENT_SECRET (pipedream.com, your workspace's API settings).",
        )
    except pipedream.NotConfigured:
        return None  # nothing to refuse: the health check names what is missing
    except pipedream.PipedreamError as exc:
        raise NoVerdict(f"Pipedream could not be asked: {exc}") from None
    return None


def credits(now: datetime.datetime) -> Finding | None:
    current = pause.summary()
    if current is None:
        return None
    where = f" Top up at {current['action_url']}." if current["action_url"] else ""
    summary = (
        f"BitBadges answers 402: the API key's account is out of credits. "
        f"{current['waiting']} completion(s) wait (nothing fails; they go on once it is "
        f"topped up).{where} {NO_EARLIER_WARNING}"
    )
    return Finding(Kind.CREDITS, current["waiting"], summary, key=pause.BITBADGES)


CHECKS: dict[str, Callable[[datetime.datetime], Finding | None]] = {
    Kind.FAILING: failing,
    Kind.UNKNOWN: unknown,
    Kind.BACKLOG: backlog,
    Kind.PIPEDREAM: pipedream_refused,
    Kind.CREDITS: credits,
}


def observe(now: datetime.datetime | None = None):
    """(findings, kinds judged, {kind: why not judged}) for every check."""
    now = now or timezone.now()
    findings, judged, skipped = [], set(), {}
    for kind, check in CHECKS.items():
        try:
            found = check(now)
        except NoVerdict as exc:
            skipped[kind] = str(exc)
            continue
        judged.add(kind)
        if found is not None:
            findings.append(found)
    return findings, judged, skipped

"""One pass of `check_alerts`: findings become incidents, and incidents messages.

- A finding with no open incident of its (kind, key) opens one and tells the operators
  (notify: one email, one call per webhook). The partial unique constraint on open
  incidents means two passes at once cannot both open it.
- A finding with an open incident updates its count, summary and last_seen_at: nobody
  is told again.
- An open incident whose condition was judged and not found, and has not been seen for
  ALERT_RESOLVE_AFTER, is resolved, and the operators are told once more that it is
  over. A condition that clears and comes back within that time stays one incident.
- The pass sends each new message's first try itself, so operators hear even when the
  task worker is what stopped; retries go to the worker (with backoff), and any message
  no worker took within a minute is tried again here. Sending stops when the pass has
  spent ALERT_PASS_BUDGET seconds (each try is cut at what is left): the new messages
  not tried yet go to the worker, the older ones wait for the next pass, so a slow
  receiver cannot hold the scheduler's loop.
"""

import datetime
import logging
from dataclasses import dataclass, field
from time import monotonic

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from operations.alerts import conditions, notify, sending, tasks
from operations.models import AlertDelivery, Incident

logger = logging.getLogger(__name__)

SWEEP_GRACE = datetime.timedelta(seconds=60)
OPENED, RESOLVED = AlertDelivery.Event.OPENED, AlertDelivery.Event.RESOLVED


@dataclass
class Report:
    opened: list[Incident] = field(default_factory=list)
    updated: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    left: int = 0  # not tried: the pass's sending time was spent
    made: list[int] = field(default_factory=list)


def _count(finding: conditions.Finding, incident: Incident) -> int:
    """Rows concerned since the incident opened: for failures, every completion that
    failed since (its window before opening included); else what is seen now."""
    if finding.kind != Incident.Kind.FAILING:
        return finding.count
    window = datetime.timedelta(seconds=float(settings.ALERT_FAILURE_WINDOW))
    return max(finding.count, conditions.failing_count(incident.opened_at - window))


def _seen(finding: conditions.Finding, now: datetime.datetime, report: Report) -> None:
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update()
            .filter(kind=finding.kind, key=finding.key, resolved_at__isnull=True)
            .first()
        )
        if incident is not None:
            incident.count = _count(finding, incident)
            incident.summary = finding.summary
            incident.detail = finding.detail
            incident.last_seen_at = now
            incident.save(update_fields=["count", "summary", "detail", "last_seen_at"])
            report.updated.append(incident)
            return
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    kind=finding.kind,
                    key=finding.key,
                    summary=finding.summary,
                    detail=finding.detail,
                    count=finding.count,
                    opened_at=now,
                    last_seen_at=now,
                    notified_at=now,
                )
        except IntegrityError:  # another pass opened it a moment ago, and told them
            return
        report.made += [d.pk for d in notify.notify(incident, OPENED, queue=False)]
        report.opened.append(incident)
    logger.warning(
        "Alert opened: %s",
        incident,
        extra={"incident": incident.pk, "kind": incident.kind},
    )


def _resolve(incident_id: int, now: datetime.datetime, report: Report) -> None:
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update()
            .filter(pk=incident_id, resolved_at__isnull=True)
            .first()
        )
        if incident is None:
            return
        incident.resolved_at = now
        incident.save(update_fields=["resolved_at"])
        report.made += [d.pk for d in notify.notify(incident, RESOLVED, queue=False)]
        report.resolved.append(incident)
    logger.info("Alert resolved: %s", incident, extra={"incident": incident.pk})


def check(now: datetime.datetime | None = None, *, send: bool = True) -> Report:
    """Look at everything once; open, update and resolve incidents; send what waits."""
    started = monotonic()
    now = now or timezone.now()
    report = Report()
    findings, judged, report.skipped = conditions.observe(now)
    for finding in findings:
        _seen(finding, now, report)
    found = {(f.kind, f.key) for f in findings}
    quiet_since = now - datetime.timedelta(seconds=float(settings.ALERT_RESOLVE_AFTER))
    stale = Incident.objects.filter(
        resolved_at__isnull=True, kind__in=judged, last_seen_at__lte=quiet_since
    ).values_list("pk", "kind", "key")
    for pk, kind, key in list(stale):
        if (kind, key) not in found:
            _resolve(pk, now, report)
    if send:
        _send(report, started)
    else:
        for delivery_id in report.made:
            tasks.enqueue(delivery_id)
    return report


def _send(report: Report, started: float) -> None:
    """Try what waits, until the pass's sending time is spent."""
    deadline = started + max(0.0, float(settings.ALERT_PASS_BUDGET))
    made = set(report.made)
    waiting = report.made + sending.due(timezone.now(), SWEEP_GRACE)
    for delivery_id in dict.fromkeys(waiting):
        left = deadline - monotonic()
        if left <= 0:
            report.left += 1
            if delivery_id in made:
                tasks.enqueue(delivery_id)  # the worker's; older ones, the next pass's
            continue
        again = sending.attempt(delivery_id, budget=left)
        if again is not None:
            tasks.enqueue(delivery_id, again)
        report.sent += 1

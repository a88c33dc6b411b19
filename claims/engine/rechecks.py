"""Re-checks on a schedule: not-eligible completions of claims that have a re-check
interval are asked again once their time has come (services.recheck, which cron runs
through `manage.py recheck_claims`, also syncs stale accounts and tidies triggers).

Each re-check that still finds the member not eligible doubles the wait (up to
RECHECK_BACKOFF_MAX times the interval), so a member who never qualifies costs few
upstream calls.

A round reads the rows PAGE at a time (keyset pagination: constant memory whatever the
number due) and queues each page as `completion_request` would queue each row (not
eligible -> waiting, attempts from 0, the re-check count kept or started over, one
"requested" ledger row each), in a fixed number of queries per page: one read, one
lock, one UPDATE, one INSERT of the ledger rows, and the page's tasks
(queue.process_many). A row whose outcome is unknown (its send waits a while before it
is checked upstream) goes through `completion_request` itself.
"""

import datetime
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from claims import queue
from claims.audit import Actor
from claims.engine import check_requests, ledger
from claims.models import Claim, Completion, CompletionEvent

State = Completion.State
RECHECK_BACKOFF_MAX = 64  # times the claim's interval, at most
PAGE = 500  # rows read, locked and queued together


def recheck_time(claim: Claim, rechecks: int) -> datetime.datetime | None:
    """When a not-eligible completion is looked at again: the claim's interval, doubled
    for each scheduled re-check that already found nothing new (None: no schedule)."""
    if not claim.recheck_interval:
        return None
    factor: int = min(2 ** min(rechecks, 16), RECHECK_BACKOFF_MAX)
    return timezone.now() + claim.recheck_interval * factor


def rechecks_due(*, limit: int | None = None) -> QuerySet[Completion]:
    """Not-eligible completions of enabled claims whose scheduled re-check has come."""
    due = (
        Completion.objects.filter(
            state=State.INELIGIBLE,
            recheck_at__lte=timezone.now(),
            claim__enabled=True,
            claim__recheck_interval__isnull=False,
            member__isnull=False,
            member__is_active=True,
        )
        .select_related("claim", "member")
        .order_by("recheck_at", "pk")
    )
    return due[:limit] if limit else due


def _held() -> QuerySet[Completion]:
    """Rows held for members who are active again (the net for a reactivation whose own
    requests were lost)."""
    return ledger.held(Completion.objects.filter(member__is_active=True, claim__enabled=True))


def _pages(
    rows: QuerySet[Completion], order: tuple[str, ...], limit: int | None
) -> Iterator[list[int]]:
    """The ids of `rows`, in `order` (a column, then pk), PAGE at a time: each page read
    after the last one's key, so rows the page before moved out of `rows` cost nothing
    and nothing is read twice."""
    column = order[0]
    left = limit
    last: tuple[Any, int] | None = None
    while left is None or left > 0:
        page_rows = rows.order_by(*order)
        if last is not None:
            value, pk = last
            after = Q(pk__gt=pk)
            if column != "pk":
                after = Q(**{f"{column}__gt": value}) | (Q(**{column: value}) & after)
            page_rows = page_rows.filter(after)
        size = PAGE if left is None else min(PAGE, left)
        page = list(page_rows.values_list(column, "pk")[:size])
        if not page:
            return
        last = page[-1]
        if left is not None:
            left -= len(page)
        yield [pk for _, pk in page]
        if len(page) < size:
            return


def _requeue(ids: list[int], actor: Actor, *, recheck: bool) -> int:
    """Queue these not-eligible rows for a check, as `completion_request` queues one (a
    row that moved meanwhile, or waits on a delivery pause, is left as it is); how many."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Completion.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, state=State.INELIGIBLE, paused_at__isnull=True)
            .filter(member__isnull=False, member__is_active=True)
            .only("pk", "claim_id", "member_id", "outcome_unknown", "last_attempt_at")
            .order_by("pk")
        )
        plain = [row for row in rows if not (row.outcome_unknown and row.last_attempt_at)]
        if plain:
            Completion.objects.filter(pk__in=[row.pk for row in plain]).update(
                state=State.WAITING,
                next_attempt_at=now,
                reason=ledger.QUEUED_REASON,
                attempts=0,
                # A scheduled re-check that finds nothing new backs off; anything else
                # starts the schedule over (as completion_request).
                rechecks=F("rechecks") + 1 if recheck else 0,
                recheck_at=None,
                updated_at=now,
            )
            events = [
                ledger.event_row(
                    row, State.INELIGIBLE, State.WAITING, actor, CompletionEvent.Reason.REQUESTED
                )
                for row in plain
            ]
            CompletionEvent.objects.bulk_create(events)
            for row, event in zip(plain, events, strict=True):
                row.state, row.reason, row.attempts = State.WAITING, ledger.QUEUED_REASON, 0
                ledger.told(row, event, actor)
            queue.process_many([row.pk for row in plain])
    # An unknown outcome waits its time (completion_request knows it): one by one, rare.
    for row in rows:
        if row.outcome_unknown and row.last_attempt_at:
            completion = Completion.objects.select_related("claim", "member").get(pk=row.pk)
            if completion.member is not None:
                check_requests.completion_request(
                    claim=completion.claim, member=completion.member, actor=actor, recheck=recheck
                )
    return len(rows)


def rechecks_run(*, limit: int | None = None) -> int:
    """Queue the due re-checks, and rows held for members who are active again (the net
    for a reactivation whose own requests were lost); how many."""
    count = 0
    reactivated = Actor.schedule("reactivated")
    for ids in _pages(_held(), ("pk",), limit):
        count += _requeue(ids, reactivated, recheck=False)
    due = rechecks_due().select_related(None)
    for ids in _pages(due, ("recheck_at", "pk"), limit):
        count += _requeue(ids, Actor.schedule("recheck"), recheck=True)
    return count

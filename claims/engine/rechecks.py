"""Re-checks on a schedule: not-eligible completions of claims that have a re-check
interval are asked again once their time has come (services.recheck, which cron runs
through `manage.py recheck_claims`, also syncs stale accounts and tidies triggers).

Each re-check that still finds the member not eligible doubles the wait (up to
RECHECK_BACKOFF_MAX times the interval), so a member who never qualifies costs few
upstream calls.
"""

import datetime

from django.db.models import QuerySet
from django.utils import timezone

from claims.audit import Actor
from claims.engine import check_requests, ledger
from claims.models import Claim, Completion

State = Completion.State
RECHECK_BACKOFF_MAX = 64  # times the claim's interval, at most


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


def rechecks_run(*, limit: int | None = None) -> int:
    """Queue the due re-checks, and rows held for members who are active again (the net
    for a reactivation whose own requests were lost); how many."""
    count = 0
    held = ledger.held(
        Completion.objects.filter(member__is_active=True, claim__enabled=True)
    ).select_related("claim", "member")
    for completion in held[:limit] if limit else held:
        if completion.member is not None:
            check_requests.completion_request(
                claim=completion.claim,
                member=completion.member,
                actor=Actor.schedule("reactivated"),
            )
            count += 1
    for completion in rechecks_due(limit=limit):
        if completion.member is None:  # rechecks_due has none; for the type checker
            continue
        check_requests.completion_request(
            claim=completion.claim,
            member=completion.member,
            actor=Actor.schedule("recheck"),
            recheck=True,
        )
        count += 1
    return count

"""Re-checks on a schedule, for cron (`manage.py recheck_claims`) or its task.

- Not-eligible completions of claims that have a re-check interval are asked again once
  their time has come. Each re-check that still finds the member not eligible doubles
  the wait (up to RECHECK_BACKOFF_MAX times the interval), so a member who never
  qualifies costs few upstream calls.
- Accounts whose health has not been synced for a while are synced with Pipedream
  first, so a recovered account lets its claims go on (the health signal queues them)
  and a broken one pauses them.
- Trigger deployments Pipedream refused to remove, or that failed to deploy, are tried
  again.
"""

import datetime

from django.db.models import Q
from django.utils import timezone

from claims import triggers
from claims.engine import check_requests
from claims.models import Claim, Completion, TriggerDeployment
from connections import services as connections_services
from connections.models import ConnectedAccount
from connections.selectors import members_to_poll

State = Completion.State
RECHECK_BACKOFF_MAX = 64  # times the claim's interval, at most


def recheck_time(claim: Claim, rechecks: int):
    """When a not-eligible completion is looked at again: the claim's interval, doubled
    for each scheduled re-check that already found nothing new (None: no schedule)."""
    if not claim.recheck_interval:
        return None
    factor = min(2 ** min(rechecks, 16), RECHECK_BACKOFF_MAX)
    return timezone.now() + claim.recheck_interval * factor


def rechecks_due(*, limit: int | None = None):
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
    """Queue the due re-checks; how many."""
    count = 0
    for completion in rechecks_due(limit=limit):
        check_requests.completion_request(
            claim=completion.claim,
            member=completion.member,
            actor="schedule: recheck",
            recheck=True,
        )
        count += 1
    return count


def stale_members(*, older_than: datetime.timedelta, limit: int | None):
    cutoff = timezone.now() - older_than
    # members_to_poll annotates `synced`: the oldest sync among the member's accounts.
    members = members_to_poll().filter(Q(synced__isnull=True) | Q(synced__lt=cutoff))
    return members[:limit] if limit else members


def recheck(*, stale_hours: float, limit: int | None, write=print) -> dict:
    totals = {"synced": 0, "sync_failed": 0, "rechecks": 0}
    if stale_hours > 0:
        for member in stale_members(older_than=datetime.timedelta(hours=stale_hours), limit=limit):
            try:
                connections_services.accounts_sync(member=member)
            except connections_services.UpstreamError as exc:
                totals["sync_failed"] += 1
                write(f"{member.username}: accounts not synced: {exc}")
            else:
                totals["synced"] += 1
    totals["rechecks"] = rechecks_run(limit=limit)
    totals["triggers_settled"] = triggers_tidy(limit)
    return totals


def triggers_tidy(limit: int | None = None) -> int:
    """Removals Pipedream refused earlier are tried again; deploys that failed (or that a
    stopped worker left half-made) are tried again while the account is still connected
    and the claim not completed. Returns how many were settled."""
    Status = TriggerDeployment.Status
    TriggerDeployment.objects.filter(
        status=Status.DEPLOYING, created_at__lt=timezone.now() - datetime.timedelta(minutes=10)
    ).update(status=Status.FAILED, error="The deploy did not finish.")
    settled = 0
    removing = TriggerDeployment.objects.filter(status=Status.REMOVING).select_related("member")
    for deployment in removing[:limit] if limit else removing:
        settled += triggers.deployment_remove(deployment)
    failed = TriggerDeployment.objects.filter(status=Status.FAILED).select_related(
        "claim__criterion_app", "member", "account__app"
    )
    for deployment in failed[:limit] if limit else failed:
        claim, member = deployment.claim, deployment.member
        account = deployment.account or (
            ConnectedAccount.objects.filter(member=member, app=claim.criterion_app)
            .select_related("app")
            .first()
        )
        done = Completion.objects.filter(
            claim=claim, member=member, state=Completion.State.COMPLETED
        ).exists()
        if account is None or done or not claim.enabled or not claim.trigger:
            deployment.delete()  # nothing left to watch
            continue
        settled += (
            triggers.deployment_ensure(claim=claim, member=member, account=account) is not None
        )
    return settled

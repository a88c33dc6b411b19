"""Re-check what is due on a schedule: for cron (e.g. every 15 minutes).

- Not-eligible completions of claims that have a re-check interval, once their time has
  come. Each re-check that still finds the member not eligible doubles the wait (up to
  64 times the interval), so a member who never qualifies costs few upstream calls.
- Accounts whose health has not been synced for --stale (default 24 h): synced with
  Pipedream first, so a recovered account lets its claims go on (the health signal
  queues them) and a broken one pauses them.
"""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from claims import services
from connections import services as connections_services
from connections.tasks import members_to_poll


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
    totals["rechecks"] = services.rechecks_run(limit=limit)
    totals["triggers_settled"] = triggers_tidy(limit)
    return totals


def triggers_tidy(limit: int | None = None) -> int:
    """Removals Pipedream refused earlier are tried again; deploys that failed (or that a
    stopped worker left half-made) are tried again while the account is still connected
    and the claim not completed. Returns how many were settled."""
    from claims import triggers
    from claims.models import Completion, TriggerDeployment
    from connections.models import ConnectedAccount

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


class Command(BaseCommand):
    help = (
        "Queue the scheduled re-checks of not-eligible claim completions (with backoff) and "
        "sync accounts whose health is stale. Suitable for cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale",
            type=float,
            default=24.0,
            help="Sync accounts not synced for this many hours first (0: skip). Default 24.",
        )
        parser.add_argument("--limit", type=int, help="At most N members synced and N re-checks.")

    def handle(self, *args, stale=24.0, limit=None, **options):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number.")
        if stale < 0 or stale > 24 * 365:
            raise CommandError("--stale is a number of hours between 0 and 8760.")
        totals = recheck(stale_hours=stale, limit=limit, write=self.stderr.write)
        self.stdout.write(
            self.style.SUCCESS(
                f"{totals['rechecks']} re-check(s) queued; {totals['synced']} member(s) synced"
                f"{f', {totals["sync_failed"]} could not be' if totals['sync_failed'] else ''}."
            )
        )

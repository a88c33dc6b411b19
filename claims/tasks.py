"""Background work for claims: one completion at a time, and a sweep of what is due."""

import datetime
import logging

from django.tasks import task
from django.utils import timezone

logger = logging.getLogger(__name__)


# Seconds before a task whose database connection dropped runs again.
DATABASE_RETRY_DELAY = 5
DATABASE_RETRIES = 5  # in a row; then the task fails and the cron takes the completion


@task()
def completion_process_task(completion_id: int, db_retries: int = 0) -> str:
    """Load the completion by id and let the engine do what is due (nothing if not).

    A database connection lost on the way is reset and the task queued again: without
    that the request would be lost until the cron's complete_claims found it.
    """
    from claims import services
    from core.database import connection_lost, connection_reset

    try:
        completion = services.completion_process(completion_id, actor="worker")
    except Exception as exc:
        if not connection_lost(exc):
            raise
        connection_reset()
        if db_retries >= DATABASE_RETRIES:
            raise  # complete_claims (the cron) finds it due later
        run_after = timezone.now() + datetime.timedelta(seconds=DATABASE_RETRY_DELAY)
        completion_process_task.using(run_after=run_after).enqueue(completion_id, db_retries + 1)
        logger.warning(
            "Completion %s: database connection lost (%s); queued again", completion_id, exc
        )
        return "requeued: database connection lost"
    return completion.state if completion else "missing"


@task()
def delivery_pause_probe_task() -> str:
    """While deliveries wait on BitBadges' credits: check whether they are back."""
    from claims import pause

    return str(pause.probe())


@task()
def claim_discover_task(claim_id: int) -> int:
    """Queue checks for members who already qualify for an (newly enabled) claim."""
    from claims import services
    from claims.models import Claim

    claim = Claim.objects.filter(pk=claim_id).first()
    if claim is None:
        return 0
    return services.claim_discover(claim=claim, actor="admin: claim enabled")


@task()
def recheck_claims_task(stale_hours: float = 24.0, limit: int | None = None) -> dict:
    """What `manage.py recheck_claims` does, for a scheduler that enqueues tasks."""
    from claims.management.commands.recheck_claims import recheck

    return recheck(stale_hours=stale_hours, limit=limit, write=logger.info)


@task()
def trigger_deploy_task(claim_id: int, member_id: int, account_id: int) -> str:
    """Deploy a claim's trigger for a member (once)."""
    from claims import triggers
    from claims.models import Claim
    from connections.models import ConnectedAccount

    claim = Claim.objects.filter(pk=claim_id).first()
    account = ConnectedAccount.objects.filter(pk=account_id, member_id=member_id).select_related(
        "app", "member"
    )
    account = account.first()
    if claim is None or account is None:
        return "gone"
    deployment = triggers.deployment_ensure(claim=claim, member=account.member, account=account)
    return deployment.status if deployment else "not deployed"


@task()
def trigger_remove_task(deployment_id: int) -> str:
    from claims import triggers
    from claims.models import TriggerDeployment

    deployment = TriggerDeployment.objects.select_related("member").filter(pk=deployment_id).first()
    if deployment is None:
        return "gone"
    return "removed" if triggers.deployment_remove(deployment) else "kept"


@task()
def trigger_event_task(delivery_id: int) -> bool:
    """A verified trigger event: check the member's completion again."""
    from claims import triggers

    return triggers.event_process(delivery_id)

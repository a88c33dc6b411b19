"""Background work for claims: one completion at a time, and a sweep of what is due."""

import logging

from django.tasks import task

logger = logging.getLogger(__name__)


@task()
def completion_process_task(completion_id: int) -> str:
    """Load the completion by id and let the engine do what is due (nothing if not)."""
    from claims import services

    completion = services.completion_process(completion_id, actor="worker")
    return completion.state if completion else "missing"


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

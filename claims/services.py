"""What the rest of the project asks of claims' service layer.

Views, the admin, management commands, signal receivers and tasks call these names; the
engine's modules (claims/engine/) are free to change behind them. The service layer
also holds claims/triggers.py (Pipedream triggers that ask for checks) and
claims/pause.py (the BitBadges credits pause), which entry points and tasks call
directly.
"""

import datetime

from django.db.models import Q
from django.utils import timezone

from claims import triggers
from claims.engine.check_requests import (
    address_save,
    admin_retry,
    claim_discover,
    completion_request,
    completions_due,
    member_check_again,
    requests_for_account,
    requests_for_member,
    requests_for_reactivated,
)
from claims.engine.delivery import Batch, completion_process
from claims.engine.dry_run import claim_dry_run
from claims.engine.errors import ClaimsError, TooManyChecks
from claims.engine.methods import claim_problems, method_of
from claims.engine.rechecks import rechecks_run
from claims.engine.timing import lease_duration, unknown_outcome_wait
from connections import services as connections_services
from connections.selectors import members_to_poll

__all__ = [
    "Batch",
    "ClaimsError",
    "TooManyChecks",
    "address_save",
    "admin_retry",
    "claim_discover",
    "claim_dry_run",
    "claim_problems",
    "completion_process",
    "completion_request",
    "completions_due",
    "lease_duration",
    "member_check_again",
    "method_of",
    "recheck",
    "requests_for_account",
    "requests_for_member",
    "requests_for_reactivated",
    "unknown_outcome_wait",
]


def stale_members(*, older_than: datetime.timedelta, limit: int | None):
    """Members whose accounts' health was last synced before `older_than` ago."""
    cutoff = timezone.now() - older_than
    # members_to_poll annotates `synced`: the oldest sync among the member's accounts.
    members = members_to_poll().filter(Q(synced__isnull=True) | Q(synced__lt=cutoff))
    return members[:limit] if limit else members


def recheck(*, stale_hours: float, limit: int | None, write=print) -> dict:
    """What cron runs (`manage.py recheck_claims`, or its task): accounts not synced for
    `stale_hours` are synced with Pipedream first, so a recovered account lets its claims
    go on (the health signal queues them) and a broken one pauses them; then the due
    re-checks are queued, and triggers Pipedream refused to remove or failed to deploy
    are tried again."""
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
    totals["triggers_settled"] = triggers.tidy(limit)
    return totals

"""What the rest of the project asks of the claims engine (claims/engine/ does it).

Views, the admin, management commands, signal receivers and tasks call these names;
the engine's modules are free to change behind them.
"""

from claims.engine.check_requests import (
    address_change_allowed,
    address_save,
    admin_retry,
    claim_discover,
    completion_request,
    completions_due,
    member_check_again,
    requests_for_account,
    requests_for_member,
)
from claims.engine.delivery import completion_process
from claims.engine.dry_run import DryRunReport, claim_dry_run
from claims.engine.errors import ClaimsError, NotAvailable, TooManyChecks
from claims.engine.evaluation import Evaluation, email_verified, evaluate
from claims.engine.methods import claim_problems, method_of
from claims.engine.rechecks import recheck, recheck_time, rechecks_due, rechecks_run
from claims.engine.timing import lease_duration, unknown_outcome_wait

__all__ = [
    "ClaimsError",
    "DryRunReport",
    "Evaluation",
    "NotAvailable",
    "TooManyChecks",
    "address_change_allowed",
    "address_save",
    "admin_retry",
    "claim_discover",
    "claim_dry_run",
    "claim_problems",
    "completion_process",
    "completion_request",
    "completions_due",
    "email_verified",
    "evaluate",
    "lease_duration",
    "member_check_again",
    "method_of",
    "recheck",
    "recheck_time",
    "rechecks_due",
    "rechecks_run",
    "requests_for_account",
    "requests_for_member",
    "unknown_outcome_wait",
]

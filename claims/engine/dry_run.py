"""Dry run: who would qualify for a claim, with nothing delivered or written."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from claims.engine.errors import Permanent, Transient
from claims.engine.evaluation import Evaluation, evaluate
from claims.models import Claim, Completion
from users.models import User

State = Completion.State


@dataclass
class DryRunReport:
    claim: Claim
    members: int = 0
    qualify: int = 0
    completed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    # (member, evaluation or None, note)
    rows: list[tuple[User, Evaluation | None, str]] = field(default_factory=list)


def claim_dry_run(*, claim: Claim, members: Iterable[User] | None = None) -> DryRunReport:
    """Evaluate `claim` for every active member without delivering or writing anything.

    Criteria run their Pipedream action (reads only); members without the required
    apps are answered without any upstream call.
    """
    report = DryRunReport(claim=claim)
    if members is None:
        members = get_user_model().objects.filter(is_active=True).order_by("username")
    done = set(
        Completion.objects.filter(claim=claim, state=State.COMPLETED).values_list(
            "member_id", flat=True
        )
    )
    for member in members:
        report.members += 1
        if member.pk in done:
            report.completed += 1
            report.rows.append((member, None, "already completed"))
            continue
        try:
            evaluation = evaluate(claim, member)
        except (Transient, Permanent) as exc:
            note = f"could not check: {exc.detail}"
            report.reasons[note] += 1
            report.rows.append((member, None, note))
            continue
        if evaluation.eligible:
            report.qualify += 1
            report.rows.append((member, evaluation, "would qualify"))
        else:
            report.reasons[evaluation.reason] += 1
            report.rows.append((member, evaluation, evaluation.reason))
    return report

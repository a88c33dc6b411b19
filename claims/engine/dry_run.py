"""Dry run: who would qualify for a claim, with nothing delivered or written."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from claims.engine.errors import Permanent, Transient
from claims.engine.evaluation import Evaluation, NotAllowed, evaluate
from claims.models import Claim, Completion
from users.models import User

State = Completion.State


@dataclass
class DryRunReport:
    claim: Claim
    members: int = 0
    qualify: int = 0
    completed: int = 0
    # The others, by what stopped them: a rule not met, no (healthy) account, an error.
    not_met: int = 0
    no_account: int = 0
    errored: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    # (member, evaluation or None, note)
    rows: list[tuple[User, Evaluation | None, str]] = field(default_factory=list)


def _stopped_by(evaluation: Evaluation) -> tuple[str, str]:
    """(kind, words) for the first rule a member did not meet: kind is "not_met",
    "no_account" or "errored"; the words carry no value read from their accounts."""
    for result in evaluation.results:
        if result.passed:
            continue
        if result.rule.startswith("app:"):
            return "no_account", f"no account: {result.label} not met"
        if result.rule.startswith("healthy:"):
            return "no_account", f"no healthy account: {result.label} not met"
        if result.rule == "criterion" and result.value == "(not checked)":
            return "no_account", "no account: no healthy account to check the criterion on"
        if result.rule == "criterion" and result.value == "(error)":
            return "errored", "error: checking the member's account failed"
        return "not_met", f"not eligible: {result.label} not met"
    return "", "would qualify"


def in_words(evaluation: Evaluation) -> str:
    """Why a member would not qualify, without any value read from their accounts: the
    rule that stopped them, in the words of the claim (its criterion's text or label)."""
    return _stopped_by(evaluation)[1]


def _could_not_check(exc: Transient | Permanent, show_values: bool) -> str:
    if show_values or isinstance(exc, NotAllowed):
        return f"could not check: {exc.detail}"  # NotAllowed's names the setting, no value
    kind = "will be retried" if isinstance(exc, Transient) else "stops the check"
    return f"error ({kind}): {exc.reason}"


def claim_dry_run(
    *, claim: Claim, members: Iterable[User] | None = None, show_values: bool = True
) -> DryRunReport:
    """Evaluate `claim` for every active member without delivering or writing anything.

    Criteria run their Pipedream action (reads only); members without the required
    apps are answered without any upstream call. Without `show_values` the notes say
    who would qualify and why in words that carry no value read upstream (`in_words`).
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
            note = _could_not_check(exc, show_values)
            report.errored += 1
            report.reasons[note] += 1
            report.rows.append((member, None, note))
            continue
        if evaluation.eligible:
            report.qualify += 1
            report.rows.append((member, evaluation, "would qualify"))
        else:
            kind, words = _stopped_by(evaluation)
            if kind == "no_account":
                report.no_account += 1
            elif kind == "errored":
                report.errored += 1
            else:
                report.not_met += 1
            reason = evaluation.reason if show_values else words
            report.reasons[reason] += 1
            report.rows.append((member, evaluation, reason))
    return report

"""Dry run: who would qualify for a claim, with nothing delivered or written.

`member_outcome` answers for one member (what counts as would qualify, not met, no
account, or an error, and the words shown without the permission to see members'
values). `claim_dry_run` runs it over every member and keeps the answers in memory (for
`complete_claims --dry-run`); `dry_run_job_run` runs it as a ClaimJob on the task worker,
in constant memory: members read in chunks, rows written in batches, progress saved
with each batch.
"""

import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from claims.engine import ledger
from claims.engine.errors import Permanent, Transient
from claims.engine.evaluation import (
    Evaluation,
    NotAllowed,
    RequirementOutcome,
    evaluate,
    staff_label,
)
from claims.job_models import OTHER_REASON, REASONS_KEPT, ClaimJob, DryRunRow
from claims.models import Claim, Completion
from claims.rules import RuleResult
from connections.models import ConnectedAccount
from users.models import User

logger = logging.getLogger(__name__)

State = Completion.State
Outcome = DryRunRow.Outcome
JobState = ClaimJob.State

# Members per batch: read together, their rows written together, then progress saved.
BATCH_SIZE = 200
# A batch that takes longer than this (slow upstream calls) is saved early: the job's
# heartbeat must beat well within STALLED_AFTER.
BATCH_SECONDS = 10.0
NOTE_MAX = 500  # DryRunRow.note's length
# A member whose completion staff revoked: nothing delivers it again by itself (only a
# Re-issue does), whatever the requirements say. Counted among the rules not met.
REVOKED_WORDS = "revoked by the organiser: not delivered again unless staff re-issue it"
# One completion per address, and another member's completion holds this member's address
# (the address is no value read upstream: the member typed or proved it here).
ADDRESS_HELD_WORDS = "not eligible: already claimed for this address (one completion per address)"


@dataclass(frozen=True)
class MemberOutcome:
    outcome: str  # a DryRunRow.Outcome
    words: str  # why, in words that carry no value read upstream
    note: str  # why, with the values read upstream (the same as `words` when none)
    requirements: list[RequirementOutcome] = field(default_factory=list)

    @property
    def qualifies(self) -> bool:
        return self.outcome == Outcome.QUALIFY

    @property
    def held_back(self) -> bool:
        """Counted among "why the others would not"."""
        return self.outcome not in (Outcome.QUALIFY, Outcome.COMPLETED)


def _stopped_by(evaluation: Evaluation) -> tuple[str, str]:
    """(outcome, words) for the first rule that stops a member: not_met, no_account or
    errored; the words carry no value read from their accounts."""
    for result in evaluation.unmet():
        kind = result.rule.split(":")[0]  # "app:<slug>", "criterion:<requirement pk>" ...
        if kind == "app":
            return Outcome.NO_ACCOUNT, f"no account: {result.label} not met"
        if kind == "healthy":
            return Outcome.NO_ACCOUNT, f"no healthy account: {result.label} not met"
        if kind == "criterion" and result.value == "(not checked)":
            return Outcome.NO_ACCOUNT, "no account: no healthy account to check the criterion on"
        if kind == "criterion" and result.value == "(error)":
            return Outcome.ERRORED, "error: checking the member's account failed"
        return Outcome.NOT_MET, f"not eligible: {_staff_words(evaluation, result)} not met"
    return Outcome.QUALIFY, "would qualify"


def _staff_words(evaluation: Evaluation, result: RuleResult) -> str:
    """A check as staff read it (its path and comparison, or the operator's words): the
    result's own label is the member's sentence."""
    for requirement in evaluation.requirements:
        if requirement.rule_key == result.rule:
            return staff_label(requirement)
    return result.label


def in_words(evaluation: Evaluation) -> str:
    """Why a member would not qualify, without any value read from their accounts: the
    rule that stopped them, in the words of the claim (its criterion's text or label)."""
    return _stopped_by(evaluation)[1]


def _could_not_check(exc: Transient | Permanent, show_values: bool) -> str:
    if show_values or isinstance(exc, NotAllowed):
        return f"could not check: {exc.detail}"  # NotAllowed's names the setting, no value
    kind = "will be retried" if isinstance(exc, Transient) else "stops the check"
    return f"error ({kind}): {exc.reason}"


def member_outcome(
    claim: Claim, member: User, *, settled: str = "", known: "_Batch | None" = None
) -> MemberOutcome:
    """Evaluate `claim` for `member` without delivering or writing anything. Criteria
    run their Pipedream action (reads only); a member without the required apps is
    answered without any upstream call. `settled`: the state of the member's completion
    when it is one no check reopens (completed, or revoked by staff). `known`: what was
    read for the member's whole batch at once (their accounts, whether their email is
    confirmed, the claim's requirements), so evaluating them reads nothing more."""
    if settled == State.COMPLETED:
        return MemberOutcome(Outcome.COMPLETED, "already completed", "already completed")
    if settled == State.REVOKED:
        return MemberOutcome(Outcome.NOT_MET, REVOKED_WORDS, REVOKED_WORDS)
    try:
        evaluation = evaluate(claim, member, **(known.for_member(member) if known else {}))
    except (Transient, Permanent) as exc:
        return MemberOutcome(
            Outcome.ERRORED, _could_not_check(exc, False), _could_not_check(exc, True)
        )
    requirements = evaluation.outcomes
    if evaluation.eligible and _address_held(claim, member, evaluation.address):
        return MemberOutcome(Outcome.NOT_MET, ADDRESS_HELD_WORDS, ADDRESS_HELD_WORDS, requirements)
    if evaluation.eligible:
        return MemberOutcome(Outcome.QUALIFY, "would qualify", "would qualify", requirements)
    outcome, words = _stopped_by(evaluation)
    # The reason may quote a value the member's own server wrote: NUL cannot be stored.
    note = evaluation.reason.replace("\x00", "\ufffd")
    return MemberOutcome(outcome, words, note, requirements)


def _address_held(claim: Claim, member: User, address: str) -> bool:
    """One completion per address: another member's completion holds the member's address
    (the engine would stop at delivery with "Already claimed for this address.")."""
    if not (claim.one_completion_per_address and address):
        return False
    return ledger.address_holders(claim, address).exclude(member=member).exists()


def _active_members() -> QuerySet[User]:
    return get_user_model().objects.filter(is_active=True).order_by("username")


class _Batch:
    """What evaluating a batch of members reads, read once for all of them: whether each
    has a confirmed email, each one's accounts (with their apps, in the model's order),
    and the claim's requirements. One query each, whatever the batch's size."""

    def __init__(self, claim: Claim, member_ids: list[int]) -> None:
        self.requirements = claim.requirement_list()
        self.verified = set(
            EmailAddress.objects.filter(user_id__in=member_ids, verified=True).values_list(
                "user_id", flat=True
            )
        )
        self.accounts: dict[int, list[ConnectedAccount]] = {pk: [] for pk in member_ids}
        # In the model's order (ConnectedAccount.Meta.ordering), as evaluate() reads them.
        rows = ConnectedAccount.objects.filter(member_id__in=member_ids).select_related("app")
        for account in rows:
            self.accounts[account.member_id].append(account)

    def for_member(self, member: User) -> dict[str, Any]:
        return {
            "requirements": self.requirements,
            "email_verified": member.pk in self.verified,
            "accounts": self.accounts.get(member.pk, []),
        }


def _settled_among(claim: Claim, member_ids: list[int]) -> dict[int, str]:
    """Member id -> state, for the members among `member_ids` whose completion of
    `claim` no check reopens (Completion.SETTLED: completed, revoked)."""
    rows = Completion.objects.filter(
        claim=claim, state__in=Completion.SETTLED, member_id__in=member_ids
    ).values_list("member_id", "state")
    return {member_id: state for member_id, state in rows if member_id is not None}


# --- In memory: complete_claims --dry-run ------------------------------------------------


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
    rows: list[tuple[User, bool, str]] = field(default_factory=list)  # member, qualifies, note


def claim_dry_run(
    *, claim: Claim, members: Iterable[User] | None = None, show_values: bool = True
) -> DryRunReport:
    """Evaluate `claim` for every active member (or `members`), every answer kept in
    memory. Without `show_values` the notes carry no value read upstream (`in_words`)."""
    report = DryRunReport(claim=claim)
    members = list(_active_members() if members is None else members)
    settled = _settled_among(claim, [member.pk for member in members])
    for member in members:
        answer = member_outcome(claim, member, settled=settled.get(member.pk, ""))
        report.members += 1
        setattr(report, answer.outcome, getattr(report, answer.outcome) + 1)
        note = answer.note if show_values else answer.words
        if answer.held_back:
            report.reasons[note] += 1
        report.rows.append((member, answer.qualifies, note))
    return report


# --- On the task worker: a ClaimJob ------------------------------------------------------


class _Tally:
    """A job's totals, held in a fixed amount of memory however many members it runs."""

    def __init__(self, show_values: bool) -> None:
        self.show_values = show_values
        self.counts: Counter[str] = Counter({name: 0 for name in ClaimJob.COUNTS})
        self.words: Counter[str] = Counter()
        self.values: Counter[str] = Counter()
        self.requirements: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _count_reason(reasons: Counter[str], reason: str) -> None:
        if reason in reasons or len(reasons) < REASONS_KEPT:
            reasons[reason] += 1
        else:
            reasons[OTHER_REASON] += 1

    def add(self, answer: MemberOutcome) -> None:
        self.counts["members"] += 1
        self.counts[answer.outcome] += 1
        if answer.held_back:
            self._count_reason(self.words, answer.words)
            if self.show_values:
                self._count_reason(self.values, answer.note)
        for outcome in answer.requirements:
            entry = self.requirements.setdefault(
                str(outcome.requirement_id),
                {
                    "label": outcome.label,
                    "group": outcome.group,
                    "met": 0,
                    "not_met": 0,
                    "not_checked": 0,
                },
            )
            key = (
                "not_checked"
                if outcome.passed is None
                else ("met" if outcome.passed else "not_met")
            )
            entry[key] += 1

    def fields(self) -> dict[str, Any]:
        reasons: dict[str, Any] = {"words": dict(self.words.most_common())}
        if self.show_values:
            reasons["values"] = dict(self.values.most_common())
        return {
            "counts": dict(self.counts),
            "reasons": reasons,
            "requirements": self.requirements,
        }


def _batches(members: Iterator[User]) -> Iterator[list[User]]:
    """Members in lists of at most BATCH_SIZE, or fewer when evaluating them is slow."""
    batch: list[User] = []
    started = time.monotonic()
    for member in members:
        batch.append(member)
        if len(batch) >= BATCH_SIZE or time.monotonic() - started >= BATCH_SECONDS:
            yield batch
            batch, started = [], time.monotonic()
    if batch:
        yield batch


def _start(job_id: int) -> ClaimJob | None:
    """Take a queued job, once: a task delivered twice finds it taken and does nothing."""
    now = timezone.now()
    taken = ClaimJob.objects.filter(
        pk=job_id, kind=ClaimJob.Kind.DRY_RUN, state=JobState.QUEUED
    ).update(state=JobState.RUNNING, started_at=now, heartbeat_at=now)
    if not taken:
        return None
    return ClaimJob.objects.filter(pk=job_id).first()


def _save_batch(job: ClaimJob, tally: _Tally, rows: list[DryRunRow], done: int) -> bool:
    """The batch's rows and the job's progress, together; False when the job is gone
    (its claim deleted) or was taken from this worker."""
    with transaction.atomic():
        saved = ClaimJob.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
            done=done, heartbeat_at=timezone.now(), **tally.fields()
        )
        if saved:
            DryRunRow.objects.bulk_create(rows)
    return bool(saved)


def _run(job: ClaimJob) -> str:
    # The claim with its requirements, read once for every member (evaluate uses them
    # prefetched).
    if job.claim_id is None:  # a dry run is made for a claim, and goes with it
        raise TypeError(f"dry run {job.pk} has no claim")
    claim = Claim.objects.prefetch_related("requirements__app").get(pk=job.claim_id)
    members = _active_members()
    total = members.count()
    ClaimJob.objects.filter(pk=job.pk).update(total=total)
    tally = _Tally(job.show_values)
    done = 0
    for batch in _batches(members.iterator(chunk_size=BATCH_SIZE)):
        ids = [member.pk for member in batch]
        settled = _settled_among(claim, ids)
        known = _Batch(claim, ids)
        rows = []
        for member in batch:
            answer = member_outcome(claim, member, settled=settled.get(member.pk, ""), known=known)
            tally.add(answer)
            rows.append(
                DryRunRow(
                    job=job,
                    member=member,
                    outcome=answer.outcome,
                    note=answer.words[:NOTE_MAX],
                    value_note=answer.note if job.show_values else "",
                )
            )
        done += len(batch)
        if not _save_batch(job, tally, rows, done):
            return "gone"
    now = timezone.now()
    ClaimJob.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
        state=JobState.DONE,
        # Members who joined while it ran are in `done`: the total follows.
        total=max(total, done),
        done=done,
        finished_at=now,
        heartbeat_at=now,
        **tally.fields(),
    )
    return f"done: {done} member(s)"


def dry_run_job_run(job_id: int) -> str:
    """Run the dry-run job `job_id` if it is queued (once); an unexpected error fails it
    with a sentence saying so, instead of leaving it running."""
    job = _start(job_id)
    if job is None:
        state = ClaimJob.objects.filter(pk=job_id).values_list("state", flat=True).first()
        return f"not run: {state or 'no such job'}"
    try:
        return _run(job)
    except Exception as exc:
        logger.exception("Dry run job %s failed", job_id)
        done = ClaimJob.objects.filter(pk=job_id).values_list("done", flat=True).first() or 0
        ClaimJob.objects.filter(pk=job_id).update(
            state=JobState.FAILED,
            finished_at=timezone.now(),
            error=(
                f"The dry run stopped after {done} member(s) on an unexpected error "
                f"({type(exc).__name__}); the task worker's log has the details. "
                "Run it again once that is fixed."
            ),
        )
        return "failed"

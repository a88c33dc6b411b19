"""Delivery: one completion, from its lease to completed, ineligible, failed, a retry or
the credits pause.

    waiting -> checking -> delivering -> completed
                  |            |
                  v            v
             ineligible    retrying (transient error; backoff) -> checking ...
                           failed   (permanent error, or too many tries)

`completion_process` leases the row (ledger.take), settles an unknown outcome first
(verification.py), evaluates the member (evaluation.py), checks the claim's cap, the
upstream identity and (one completion per address) the address under a lock, marks the
row delivering (committed before anything is sent), and hands it to the claim's delivery
method (methods/). What the method raises decides what happens next: a retry with
backoff, a stop, or the pause.
"""

import logging
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from claims import bitbadges, life, pause, queue, wording
from claims.audit import Actor
from claims.engine import ledger, ledger_write
from claims.engine.errors import (
    SETTINGS_NEED_ATTENTION,
    LeaseLost,
    Paused,
    Permanent,
    Transient,
    bitbadges_failure,
)
from claims.engine.evaluation import Evaluation, evaluate
from claims.engine.methods import method_of
from claims.engine.rechecks import recheck_time
from claims.engine.timing import lease_duration, max_attempts, retry_delay, unknown_outcome_wait
from claims.engine.verification import verify_upstream
from claims.models import Claim, Completion, CompletionEvent, Requirement
from claims.secrets import SecretUnreadable
from core.addresses import normalize_address, to_bitbadges_address
from users.models import User

logger = logging.getLogger(__name__)

State = Completion.State
Reason = CompletionEvent.Reason
PAUSED_REASON = gettext_noop(
    "Delivery is paused while the site's BitBadges account is topped up; it goes on by itself."
)


class Batch:
    """What the completions one task processes share: each claim's requirements, read
    once for the task (as if its checks all started at once) instead of once each."""

    def __init__(self) -> None:
        self._requirements: dict[int, list[Requirement]] = {}

    def requirements(self, claim: Claim) -> list[Requirement]:
        if claim.pk not in self._requirements:
            self._requirements[claim.pk] = claim.requirement_list()
        return self._requirements[claim.pk]


def completion_process(
    completion_id: int, *, actor: Actor | None = None, batch: Batch | None = None
) -> Completion | None:
    """Do what is due for one completion. Safe to call any number of times, anywhere."""
    actor = actor or Actor.worker()
    now = timezone.now()
    completion, token = ledger.take(completion_id, actor=actor, now=now)
    if completion is None or token is None:
        return completion
    try:
        _process(completion, token, actor=actor, batch=batch)
    except LeaseLost:
        logger.warning(
            "Completion %s: lease lost before sending; left to its new holder", completion.pk
        )
    except Transient as exc:
        _retry_later(completion, token, exc, actor=actor)
    except Paused as exc:
        _park(completion, token, exc.exc, actor=actor)
    except Permanent as exc:
        sent = ledger.was_sent(completion)
        ended = _grant_ends(completion, sent)
        ledger.fenced(
            completion,
            token,
            (State.CHECKING, State.DELIVERING),
            exc.state,
            actor=actor,
            why=_why_stopped(exc.state, sent),
            details={"error": exc.detail, **_grant_ended(ended)},
            **ledger.release(
                reason=exc.reason,
                next_attempt_at=None,
                outcome_unknown=sent,
                # Nothing went out: the upstream identity and the address are free for
                # another member.
                **_given_back(sent),
                **ended,
            ),
        )
    except Exception as exc:
        logger.exception("Completion %s failed unexpectedly", completion.pk)
        _retry_later(
            completion,
            token,
            Transient(
                gettext_noop("Something went wrong on our side; we will try again."),
                f"{type(exc).__name__}: {exc}",
                outcome_unknown=ledger.was_sent(completion),
            ),
            actor=actor,
        )
    return completion


def _given_back(sent: bool) -> dict[str, str]:
    """What a completion that stops with nothing sent lets go of: the upstream identity
    and the address (one-per-address claims) it took for this delivery. One that may have
    landed keeps both: whatever it sent holds them."""
    return {} if sent else {"upstream_identity": "", "address_key": ""}


def _grant_ends(completion: Completion, sent: bool) -> dict[str, bool]:
    """A staff grant or re-issue that stops (failed, not eligible) with nothing sent
    ends there: whatever asks for this row again later (the member's Check again, an
    account event, a Retry) gets a normal check, of the requirements and the member's
    address as they are then; staff grant again to skip them. One that may have landed
    (outcome unknown) keeps it, so it is settled at the address it went to."""
    return {"staff_granted": False} if completion.staff_granted and not sent else {}


def _grant_ended(ended: dict[str, bool]) -> dict[str, str]:
    return {"staff_grant": "ended: a later check is a normal one"} if ended else {}


def _why_stopped(state: str, sent: bool) -> CompletionEvent.Reason:
    """Why a completion stopped: an unknown send, not eligible, or an error."""
    if sent:
        return Reason.OUTCOME_UNKNOWN
    return Reason.NOT_ELIGIBLE if state == State.INELIGIBLE else Reason.ERROR


def _park(
    completion: Completion, token: uuid.UUID, exc: bitbadges.PaymentRequired, *, actor: Actor
) -> None:
    """Wait on the delivery pause (starting it if need be): no attempt spent, nothing failed.

    The pause row is locked in the same transaction, so a probe that ends the pause
    either sees this completion parked (and queues it) or comes before it (and this
    starts a new pause, whose first probe resumes it).
    """
    sent = ledger.was_sent(completion)
    with transaction.atomic():
        current = pause.start(exc)
        ledger.fenced(
            completion,
            token,
            (State.CHECKING, State.DELIVERING),
            State.WAITING,
            actor=actor,
            why=Reason.PAUSED,
            details={"paused": current.reason, "error": str(exc), "outcome_unknown": sent},
            **ledger.release(
                reason=PAUSED_REASON,
                next_attempt_at=None,
                paused_at=timezone.now(),
                attempts=max(0, completion.attempts - 1),  # this try does not count
                outcome_unknown=sent,
                **_given_back(sent),
            ),
        )


def _retry_later(completion: Completion, token: uuid.UUID, exc: Transient, *, actor: Actor) -> None:
    unknown = exc.outcome_unknown or ledger.was_sent(completion)
    if completion.attempts >= max_attempts():
        ended = _grant_ends(completion, unknown)
        reason = wording.GAVE_UP % {"tries": completion.attempts, "reason": exc.reason}
        if unknown:
            reason = wording.GAVE_UP_UNCONFIRMED % {"tries": completion.attempts}
        ledger.fenced(
            completion,
            token,
            (State.CHECKING, State.DELIVERING),
            State.FAILED,
            actor=actor,
            why=Reason.OUTCOME_UNKNOWN if unknown else Reason.GAVE_UP,
            details={"error": exc.detail, **_grant_ended(ended)},
            **ledger.release(
                reason=reason,
                next_attempt_at=None,
                outcome_unknown=unknown,
                **_given_back(unknown),
                **ended,
            ),
        )
        return
    delay = retry_delay(completion.attempts)
    if unknown:
        # Give whatever we may have sent time to land (a request the server is still
        # working on, an attempt in its queue) before asking BitBadges about it.
        delay = max(delay, unknown_outcome_wait())
    run_after = timezone.now() + delay
    moved = ledger.fenced(
        completion,
        token,
        (State.CHECKING, State.DELIVERING),
        State.RETRYING,
        actor=actor,
        why=Reason.OUTCOME_UNKNOWN if unknown else Reason.ERROR,
        details={"error": exc.detail, "next_attempt_at": run_after.isoformat()},
        **ledger.release(
            reason=exc.reason,
            next_attempt_at=run_after,
            outcome_unknown=unknown,
            # Nothing went out: the next attempt takes the address (and identity) again.
            **ledger.given_back(completion, sent=unknown),
        ),
    )
    if moved:
        queue.process(completion.pk, run_after)


def _process(
    completion: Completion, token: uuid.UUID, *, actor: Actor, batch: Batch | None
) -> None:
    claim, member = completion.claim, completion.member
    if completion.outcome_unknown:
        _not_while_paused(completion)
        if verify_upstream(completion, token, actor=actor):
            return
    if claim.enabled and _waits_on_stop(completion, token, actor=actor):
        return
    if completion.staff_granted:
        _deliver_granted(completion, token, actor=actor)
        return
    evaluation = evaluate(
        claim,
        member,
        requirements=batch.requirements(claim) if batch else None,
        # Read with the lease (ledger.take).
        email_verified=getattr(completion, "lease_email_verified", None),
    )
    evidence = evaluation.evidence()
    if not claim.enabled:
        raise Permanent(State.INELIGIBLE, gettext_noop("This claim is not available any more."))
    failing = [result.rule for result in evaluation.unmet()]
    if failing == ["window"] and claim.starts_at and timezone.now() < claim.starts_at:
        # Everything is in place but the claim has not opened: come back when it does.
        if ledger.fenced(
            completion,
            token,
            (State.CHECKING,),
            State.WAITING,
            actor=actor,
            why=Reason.NOT_OPEN,
            details={"reason": evaluation.reason},
            **ledger.release(
                reason=evaluation.reason, evidence=evidence, next_attempt_at=claim.starts_at
            ),
        ):
            queue.process(completion.pk, claim.starts_at)
        return
    if not evaluation.eligible:
        ledger.fenced(
            completion,
            token,
            (State.CHECKING,),
            State.INELIGIBLE,
            actor=actor,
            why=Reason.NOT_ELIGIBLE,
            details={"reason": evaluation.reason},
            **ledger.release(
                reason=evaluation.reason,
                evidence=evidence,
                next_attempt_at=None,
                recheck_at=recheck_time(claim, completion.rechecks),
            ),
        )
        return
    _not_while_paused(completion)
    _deliver(completion, token, actor=actor, prepare=evaluation.address)
    if not _start_delivery(completion, token, evaluation, actor=actor):
        return
    _deliver(completion, token, actor=actor)


def _waits_on_stop(completion: Completion, token: uuid.UUID, *, actor: Actor) -> bool:
    """A claim used up, halted or outside its window (claims/life.py) takes no new
    delivery: the completion waits, saying why, until it reopens (or a while growing
    while the stop lasts, when that is not known); nothing is checked or sent meanwhile,
    and the wait spends no try. The site's own end (ends_at) is final: not eligible."""
    stop = life.stop_for(completion.claim)
    if stop is None:
        return False
    if stop.kind == "closed" and stop.local:
        raise Permanent(State.INELIGIBLE, stop.sentence)
    run_after = life.wait_until(completion, stop)
    if ledger.fenced(
        completion,
        token,
        (State.CHECKING,),
        State.WAITING,
        actor=actor,
        why=Reason.NOT_OPEN if stop.kind == "not_open" else Reason.NOT_ELIGIBLE,
        details={"reason": stop.sentence, "claim_life": stop.kind},
        **ledger.release(
            reason=stop.sentence,
            next_attempt_at=run_after,
            attempts=max(0, completion.attempts - 1),  # waiting on the claim is no try
        ),
    ):
        queue.process(completion.pk, run_after)
    return True


def _deliver_granted(completion: Completion, token: uuid.UUID, *, actor: Actor) -> None:
    """A staff member's grant or re-issue (claims/engine/staff_actions.py): the
    requirements are not checked again; the address is the one they recorded, and the
    claim being enabled, its cap, the member being active and the upstream identity are
    checked as for any delivery."""
    if not completion.claim.enabled:
        raise Permanent(State.INELIGIBLE, gettext_noop("This claim is not available any more."))
    _not_while_paused(completion)
    granted = Evaluation(
        address=completion.address,
        identity=completion.upstream_identity or None,
        address_proven=_proven_now(completion),
    )
    _deliver(completion, token, actor=actor, prepare=granted.address)
    if _start_delivery(completion, token, granted, actor=actor):
        _deliver(completion, token, actor=actor)


def _proven_now(completion: Completion) -> bool:
    """Whether the member has proven the address staff recorded on the row (a grant or
    re-issue goes to the address as it was when staff acted)."""
    member = completion.member
    if member is None or not member.address_proven or not completion.address:
        return False
    try:
        return to_bitbadges_address(normalize_address(member.address)) == completion.address
    except ValidationError:
        return False


def _not_while_paused(completion: Completion) -> None:
    """A delivery through BitBadges waits on its pause instead of meeting the 402. No
    pause when the lease was taken (ledger.take reads it) is taken as none now: one that
    started since meets its 402 and parks the completion as well."""
    claim = completion.claim
    method = method_of(claim.delivery)
    if method is not None and not method.calls_bitbadges(claim):
        return
    if getattr(completion, "lease_paused", None) is False:
        return
    current = pause.active()
    if current is not None:
        raise Paused(
            bitbadges.PaymentRequired(current.reason, top_up_url=current.action_url or None)
        )


def _start_delivery(
    completion: Completion, token: uuid.UUID, evaluation: Evaluation, *, actor: Actor
) -> bool:
    """checking -> delivering, once the member, the cap, the identity and the address
    are checked: by the move itself when nothing stands in the way of a claim with no
    cap (one write), else one by one under the claim's lock, which says what does."""
    claim = completion.claim
    # A staff grant keeps the evidence it was granted over (why the engine said no).
    evidence = completion.evidence if completion.staff_granted else evaluation.evidence()
    identity = evaluation.identity or ""
    # One completion per address: the address is taken with the delivery, as the
    # upstream identity is, and kept while anything may have gone to it.
    address_key = evaluation.address if claim.one_completion_per_address else ""

    def move(key: str, only_if: tuple[Any, ...] = ()) -> bool:
        return ledger.fenced(
            completion,
            token,
            (State.CHECKING,),
            State.DELIVERING,
            actor=actor,
            why=Reason.DELIVERING,
            details={"method": claim.delivery, "address": evaluation.address},
            only_if=only_if,
            evidence=evidence,
            address=evaluation.address,
            upstream_identity=identity,
            address_key=key,
            address_proven=evaluation.address_proven,
            lease_expires_at=timezone.now() + lease_duration(),
            reason=gettext_noop("Delivering…"),
        )

    try:
        # Its own transaction (a savepoint only when a caller's is open), so that a
        # unique constraint met here leaves the caller's usable for the looks below.
        with transaction.atomic():
            if move(address_key, _nothing_in_the_way(completion, identity, address_key)):
                return True
        with transaction.atomic():
            # One at a time per claim; its rules as they are now, under the lock (staff
            # may have changed them since this worker read the claim).
            locked = (
                Claim.objects.select_for_update()
                .filter(pk=claim.pk)
                .values("cap", "one_completion_per_address")
                .first()
            ) or {"cap": claim.cap, "one_completion_per_address": claim.one_completion_per_address}
            cap = locked["cap"]
            address_key = evaluation.address if locked["one_completion_per_address"] else ""
            member = completion.member
            if member is None or not User.objects.filter(pk=member.pk, is_active=True).exists():
                # Deactivated while it was being checked: held, like any request for them.
                raise Permanent(State.INELIGIBLE, ledger.HELD_REASON)
            if cap is not None:
                taken = (
                    Completion.objects.filter(
                        Q(state__in=[State.DELIVERING, State.COMPLETED]) | Q(outcome_unknown=True),
                        claim=claim,
                    )
                    .exclude(pk=completion.pk)
                    .count()
                )
                if taken >= cap:
                    raise Permanent(State.INELIGIBLE, wording.CAP_REACHED % {"cap": cap})
            if identity and (
                Completion.objects.filter(claim=claim, upstream_identity=identity)
                .exclude(pk=completion.pk)
                .exists()
            ):
                app_name = evaluation.identity_app or "upstream"
                raise Permanent(
                    State.INELIGIBLE,
                    wording.IDENTITY_USED
                    % {"app": app_name, "identity": identity.split(":", 1)[-1]},
                )
            if address_key and ledger.address_taken(claim, address_key, besides=completion.pk):
                raise Permanent(State.INELIGIBLE, wording.ADDRESS_CLAIMED)
            return move(address_key)
    except IntegrityError:
        # Another worker took the identity or the address between our look and our write
        # (the claim's row lock serialises PostgreSQL; SQLite meets the constraint).
        if address_key and ledger.address_taken(claim, address_key, besides=completion.pk):
            raise Permanent(State.INELIGIBLE, wording.ADDRESS_CLAIMED) from None
        raise Permanent(
            State.INELIGIBLE,
            gettext_noop("This account has already earned this claim for another member."),
        ) from None
    except Permanent as exc:
        sent = ledger.was_sent(completion)
        ended = _grant_ends(completion, sent)
        ledger.fenced(
            completion,
            token,
            (State.CHECKING,),
            exc.state,
            actor=actor,
            why=_why_stopped(exc.state, False),
            details={"reason": exc.reason, **_grant_ended(ended)},
            **ledger.release(
                reason=exc.reason,
                evidence=evidence,
                next_attempt_at=None,
                # Refused before sending: whatever the row still held (a re-issue keeps
                # the earlier delivery's address until it sends) goes back.
                **ledger.given_back(completion, sent=sent),
                **ended,
            ),
        )
        return False


def _nothing_in_the_way(completion: Completion, identity: str, address_key: str) -> tuple[Any, ...]:
    """The conditions under which the delivering move needs no look of its own: the claim
    still has no cap and the per-address rule this worker read, the member is active, and
    no other completion holds the identity or the address. A concurrent taker of either
    meets the unique constraints (IntegrityError), as under the lock."""
    claim = completion.claim
    # Written out (ledger_write.Condition): compiling them cost more than running them.
    conditions: list[Any] = [ledger_write.claim_rules_are(claim), ledger_write.member_is_active()]
    if identity:
        conditions.append(ledger_write.identity_is_free(claim.pk, identity, completion.pk))
    if address_key:
        held = ledger.address_holders(claim, address_key).exclude(pk=completion.pk)
        conditions.append(~Exists(held))
    return tuple(conditions)


def _deliver(
    completion: Completion, token: uuid.UUID, *, actor: Actor, prepare: str | None = None
) -> None:
    """Hand the completion to its claim's delivery method; map what it raises. With
    `prepare` (the address), only the method's `prepare`, before the delivering move."""
    method = method_of(completion.claim.delivery)
    if method is None:
        raise Permanent(State.FAILED, gettext_noop("This claim has no delivery method."))
    try:
        if prepare is not None:
            method.prepare(completion.claim, prepare)
        else:
            method.send(ledger.Run(completion, token, actor))
    except bitbadges.BitBadgesError as exc:
        life.note_refusal(completion.claim, exc)  # used up or halted: no more are sent
        raise bitbadges_failure(exc) from exc
    except SecretUnreadable as exc:
        raise Permanent(State.FAILED, SETTINGS_NEED_ATTENTION, str(exc)) from exc

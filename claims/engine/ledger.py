"""The ledger and the lease: every move of a completion, made only by the worker that
holds it, and written down.

A worker leases a completion (`take`): under a row lock it writes a fresh lease token
and expiry, then lets the lock go before any HTTP call. Every later write (`fenced`) is a
conditional UPDATE on that token and the expected state, so a worker that lost its lease
changes nothing. Each move leaves a CompletionEvent, written with it (`write`: on
PostgreSQL the UPDATE and its INSERT are one statement), and one log line (`told`).

`Run` is what a delivery method is given: the completion, the lease, and the few moves a
method makes itself (renew the lease before a call that cannot be repeated, note that
something went out, keep a reference, record the completion).
"""

import datetime
import functools
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from claims import queue, signals, wording
from claims.audit import Actor
from claims.engine import lease_read
from claims.engine.errors import LeaseLost
from claims.engine.ledger_write import write
from claims.engine.timing import lease_duration
from claims.models import Completion, CompletionEvent, TriggerDeployment
from core.addresses import normalize_address, to_bitbadges_address

logger = logging.getLogger(__name__)

State = Completion.State
Reason = CompletionEvent.Reason


# The moves other apps are told of (signals.completion_changed): the host site's webhooks.
CHANGED_STATES = (State.COMPLETED, State.FAILED, State.REVOKED)


def event(
    completion: Completion,
    from_state: str,
    to_state: str,
    actor: Actor,
    why: Reason,
    details: dict[str, Any] | None = None,
    *,
    reason: str | None = None,
) -> None:
    """Record a transition in the ledger, who caused it and why, and tell of it (`told`)."""
    row = event_row(completion, from_state, to_state, actor, why, details)
    row.save(force_insert=True)
    told(completion, row, actor, reason=reason)


def event_row(
    completion: Completion,
    from_state: str,
    to_state: str,
    actor: Actor,
    why: Reason,
    details: dict[str, Any] | None = None,
) -> CompletionEvent:
    """A transition's ledger row, not saved yet (`write` saves it with the move)."""
    return CompletionEvent(
        completion_id=completion.pk,
        from_state=from_state,
        to_state=to_state,
        reason=why,
        details=details or {},
        **actor.fields(),
    )


def told(
    completion: Completion, row: CompletionEvent, actor: Actor, *, reason: str | None = None
) -> None:
    """After a transition's row is written: the signal other apps hear inside the move's
    transaction (the host site's webhooks), and one log line: ids, states, the actor (a
    user by ID, never by name), the member-facing reason; never the evidence or the
    event details (those stay in the ledger, for admins)."""
    from_state, to_state = row.from_state, row.to_state
    if to_state in CHANGED_STATES and from_state != to_state:
        signals.completion_changing.send(
            sender=Completion, completion_id=completion.pk, from_state=from_state, to_state=to_state
        )
        transaction.on_commit(  # the host site's webhooks, once the move is there
            functools.partial(
                _robustly,
                signals.completion_changed,
                completion.pk,
                completion_id=completion.pk,
                from_state=from_state,
                to_state=to_state,
            )
        )
    reason = completion.reason if reason is None else reason
    logger.info(
        "Completion %s: %s -> %s",
        completion.pk,
        from_state,
        to_state,
        extra={
            "completion": completion.pk,
            "claim": completion.claim_id,
            "member": completion.member_id,
            "from_state": from_state,
            "to_state": to_state,
            "actor": str(actor),
            "actor_kind": actor.kind,
            "why": row.reason,
            "attempt": completion.attempts,
            "reason": reason if to_state not in (State.WAITING, State.CHECKING) else "",
        },
    )


# A deactivated member (is_active off) earns nothing: what is asked or queued for them is
# held, not eligible with this reason, until they are active again (check_requests.
# requests_for_reactivated, and rechecks_run as the net, ask for those rows again).
HELD_REASON = gettext_noop(
    "Held: this member's account is deactivated; nothing is delivered until it is active again."
)
HELD_DETAIL = "the member's account is deactivated"
QUEUED_REASON = gettext_noop("Queued for a check.")


def held(queryset: QuerySet[Completion]) -> QuerySet[Completion]:
    """The rows of `queryset` held for a deactivated member."""
    return queryset.filter(state=State.INELIGIBLE, reason=HELD_REASON)


def hold(completion: Completion, actor: Actor) -> None:
    """Hold a locked row (not completed, no live lease) for a deactivated member: not
    eligible with HELD_REASON, no attempt or re-check scheduled, nothing sent. A delivery
    a worker left mid-way stays an unknown outcome, checked upstream once it goes on (and
    keeps what it took); any other row lets go of what it took (`given_back`)."""
    from_state = completion.state
    if from_state == State.DELIVERING:
        completion.outcome_unknown = True
    freed = completion.address_key if not completion.outcome_unknown else ""
    for name, value in given_back(completion, sent=completion.outcome_unknown).items():
        setattr(completion, name, value)
    completion.state = State.INELIGIBLE
    completion.reason = HELD_REASON
    completion.lease_token = None
    completion.lease_expires_at = None
    completion.next_attempt_at = None
    completion.recheck_at = None
    completion.save()
    event(
        completion, from_state, State.INELIGIBLE, actor, Reason.NOT_ELIGIBLE, {"held": HELD_DETAIL}
    )
    if freed:
        address_freed(completion.claim_id, freed)


def given_back(completion: Completion, *, sent: bool) -> dict[str, str]:
    """What a row that goes on waiting, or stops, lets go of when nothing it sent may have
    landed (`sent` False): only a row that may have delivered holds anything.

    - The address (address_key, one-per-address claims): the next attempt takes it again
      under the claim's lock (delivery._start_delivery), so holding it meanwhile protects
      nothing and keeps its owner's other site accounts out.
    - The upstream identity, the same way, except on a row staff granted or re-issued:
      that delivery goes out with the identity the row carries (delivery._deliver_granted),
      which a re-issue keeps from the earlier delivery.
    """
    if sent:
        return {}
    fields = {"address_key": ""}
    if not completion.staff_granted:
        fields["upstream_identity"] = ""
    return fields


def address_key_of(address: str) -> str:
    """The canonical bb1 of an address as a member typed or proved it; "" if none or invalid."""
    try:
        return to_bitbadges_address(normalize_address(address)) if address else ""
    except (ValidationError, ValueError):
        return ""


def address_freed(claim_id: int, key: str) -> None:
    """A completion of the claim let go of the address `key`: once this commits, the
    members it was refused to ("Already claimed for this address.") are checked again."""
    transaction.on_commit(functools.partial(ask_again_for_address, claim_id, key))


def ask_again_for_address(claim_id: int, key: str) -> int:
    """Queue a check for each not-eligible row of the claim refused because another
    completion held the address `key`, whose member (active) still has that address;
    none while the address is held again. Returns how many were queued."""
    if address_taken(claim_id, key):
        return 0
    refused = (
        Completion.objects.filter(
            claim_id=claim_id,
            claim__enabled=True,
            state=State.INELIGIBLE,
            reason=wording.ADDRESS_CLAIMED,
            member__is_active=True,
        )
        .select_related("member")
        .only("pk", "claim_id", "member_id", "attempts", "member__address")
        .order_by("pk")
    )
    actor = Actor.system("the address was given back")
    now = timezone.now()
    queued = 0
    for completion in refused:
        if completion.member is None or address_key_of(completion.member.address) != key:
            continue
        with transaction.atomic():
            moved = Completion.objects.filter(
                pk=completion.pk, state=State.INELIGIBLE, reason=wording.ADDRESS_CLAIMED
            ).update(
                state=State.WAITING,
                next_attempt_at=now,
                reason=QUEUED_REASON,
                attempts=0,
                recheck_at=None,
                rechecks=0,
                updated_at=now,
            )
            if moved:
                completion.attempts = 0
                event(
                    completion,
                    State.INELIGIBLE,
                    State.WAITING,
                    actor,
                    Reason.REQUESTED,
                    {"address_free": key},
                    reason=QUEUED_REASON,
                )
                queue.process(completion.pk)
                queued += 1
    return queued


def address_holders(claim: Any, key: str) -> QuerySet[Completion]:
    """The completions of `claim` that hold the address `key` (bb1) on a one-per-address
    claim: each that took it (address_key: delivering, delivered, a send whose outcome is
    unknown), each delivered to it before the claim was one-per-address (its `address`,
    as BitBadges keeps it), and each that staff moved away from it:

    - revoked: a revoke frees nothing, whether or not its method took the delivery back
      (a revoke is staff deciding about that delivery; letting another site account claim
      the same address again would undo it). Only a Re-issue of that row delivers again.
    - re-issued to another address while this one still holds the earlier delivery (a
      BitBadges claim or a workflow takes nothing back; the ledger says whether it did).
    """
    revoked = Q(reason=Reason.REVOKED, details__address=key)
    still_there = Q(details__withdrawn=False) | ~Q(details__has_key="withdrawn")
    reissued = (
        Q(reason=Reason.REISSUED, from_state=State.COMPLETED, details__from_address=key)
        & still_there
    )
    # Only this claim's revokes and re-issues: the completion's index, never the whole ledger.
    moved_away = (
        CompletionEvent.objects.filter(
            completion__claim=claim, reason__in=(Reason.REVOKED, Reason.REISSUED)
        )
        .filter(revoked | reissued)
        .values("completion_id")
    )
    sent = Q(state__in=[State.DELIVERING, State.COMPLETED, State.REVOKED]) | Q(outcome_unknown=True)
    held = Q(address_key=key) | (Q(address=key) & sent) | Q(pk__in=moved_away)
    return Completion.objects.filter(held, claim=claim)


def address_taken(claim: Any, key: str, *, besides: int | None = None) -> bool:
    """Whether a completion of `claim` other than `besides` holds the address `key`."""
    holders = address_holders(claim, key)
    if besides is not None:
        holders = holders.exclude(pk=besides)
    return holders.exists()


def take(
    completion_id: int, *, actor: Actor, now: datetime.datetime
) -> tuple[Completion | None, uuid.UUID | None]:
    """Lock the row; if it is due, lease it to this worker (state checking). A due row of
    a deactivated member is held instead (`hold`)."""
    token = uuid.uuid4()
    with transaction.atomic():
        # The claim and the member come in the same query; only the completion is locked.
        completion = lease_read.read(completion_id)
        if completion is None:
            return None, None
        scheduled = (
            completion.state in (State.WAITING, State.RETRYING)
            and completion.paused_at is None
            and (completion.next_attempt_at is None or completion.next_attempt_at <= now)
        )
        abandoned = completion.state in (State.CHECKING, State.DELIVERING) and (
            completion.lease_expires_at is None or completion.lease_expires_at <= now
        )
        if not (scheduled or abandoned) or completion.member is None:
            return completion, None
        if not completion.member.is_active:
            hold(completion, actor)
            return completion, None
        from_state = completion.state
        details: dict[str, Any] = {"attempt": completion.attempts + 1}
        why = Reason.RECOVERED if abandoned else Reason.TAKEN
        if abandoned:
            details["stopped_while"] = from_state
        fields: dict[str, Any] = {
            "state": State.CHECKING,
            "lease_token": token,
            "lease_expires_at": now + lease_duration(),
            "attempts": completion.attempts + 1,
            "last_attempt_at": now,
            "next_attempt_at": None,
            "updated_at": timezone.now(),
        }
        if from_state == State.DELIVERING:
            # The worker holding it died mid-delivery: what it sent is unknown.
            fields["outcome_unknown"] = True
        # The row is locked: the move is certain, and made with its ledger row.
        row = event_row(completion, from_state, State.CHECKING, actor, why, details)
        write(completion.pk, fields, [row])
        for name, value in fields.items():
            setattr(completion, name, value)
        told(completion, row, actor)
    return completion, token


def fenced(
    completion: Completion,
    token: uuid.UUID,
    from_states: tuple[str, ...],
    to_state: str,
    *,
    actor: Actor,
    why: Reason,
    details: dict[str, Any] | None = None,
    only_if: tuple[Any, ...] = (),
    **fields: Any,
) -> bool:
    """Move the row if this worker still holds its lease and it is in `from_states`; the
    move and its ledger row are one write (`write`). `only_if`: conditions it also needs
    (filters); when they fail, False at once, for the caller to find out why."""
    # A move that empties address_key gives the address back (given_back).
    freed = completion.address_key if fields.get("address_key") == "" else ""
    values = {"state": to_state, "updated_at": timezone.now(), **fields}

    def move(state: str) -> tuple[bool, CompletionEvent | None]:
        """Whether it moved, and the ledger row written with it (None if none is)."""
        row = None
        if state != to_state or details:
            row = event_row(completion, state, to_state, actor, why, details)
        moved = write(
            completion.pk, values, [row] if row else [], *only_if, lease_token=token, state=state
        )
        return moved, row

    with transaction.atomic(savepoint=False):
        # While this worker holds the lease, the row is in the state it last wrote: try
        # that first (one conditional write); otherwise read what it is.
        current = completion.state if completion.state in from_states else None
        moved, written = move(current) if current is not None else (False, None)
        if not moved and only_if:
            return False
        if not moved:
            current = (
                Completion.objects.filter(
                    pk=completion.pk, lease_token=token, state__in=from_states
                )
                .values_list("state", flat=True)
                .first()
            )
            if current is None:
                logger.warning(
                    "Completion %s: lease lost before %s (another worker took over)",
                    completion.pk,
                    to_state,
                )
                return False
            moved, written = move(current)
            if not moved:
                return False
        completion.state = to_state
        for name, value in fields.items():
            setattr(completion, name, value)
        if written is not None:
            told(completion, written, actor, reason=fields.get("reason", ""))
        if freed:
            address_freed(completion.claim_id, freed)
    return True


def release(**fields: Any) -> dict[str, Any]:
    """The fields of a move that lets the lease go."""
    return {"lease_token": None, "lease_expires_at": None, **fields}


def renew_lease(completion: Completion, token: uuid.UUID) -> None:
    """Right before a call that cannot be repeated: still ours? Then hold it a full lease,
    for the call and the poll after it; a worker that lost its lease stops here. (Not
    needed right after the delivering move, which is as fenced and sets a full lease.)"""
    renewed = Completion.objects.filter(
        pk=completion.pk, lease_token=token, state=State.DELIVERING
    ).update(lease_expires_at=timezone.now() + lease_duration())
    if not renewed:
        raise LeaseLost()


def record_reference(
    completion: Completion, token: uuid.UUID, reference: str, *, actor: Actor
) -> None:
    """Keep what we sent (e.g. the attempt ID) before waiting on its result."""
    fenced(
        completion,
        token,
        (State.DELIVERING,),
        State.DELIVERING,
        actor=actor,
        why=Reason.SENT,
        details={"reference": reference[:200]},
        delivery_reference=reference,
    )


def was_sent(completion: Completion) -> bool:
    return bool(getattr(completion, "_sent", False) or completion.outcome_unknown)


def completed(
    completion: Completion,
    token: uuid.UUID,
    *,
    actor: Actor,
    reference: str,
    note: str = "",
    why: Reason = Reason.DELIVERED,
) -> bool:
    done = fenced(
        completion,
        token,
        (State.CHECKING, State.DELIVERING),
        State.COMPLETED,
        actor=actor,
        why=why,
        details={"reference": reference[:200], **({"note": note} if note else {})},
        **release(
            reason=note or gettext_noop("Completed."),
            delivery_reference=reference,
            completed_at=timezone.now(),
            outcome_unknown=False,
            resend_approved=False,
            next_attempt_at=None,
            recheck_at=None,
        ),
    )
    if done and completion.claim.trigger:
        # The claim is done for this member: its trigger has nothing left to tell us.
        for deployment_id in TriggerDeployment.objects.filter(
            claim=completion.claim, member=completion.member
        ).values_list("pk", flat=True):
            queue.trigger_remove(deployment_id)
    if done:
        transaction.on_commit(  # notifications
            functools.partial(
                _robustly, signals.completion_completed, completion.pk, completion=completion
            )
        )
    return done


def _robustly(signal: Any, pk: int, /, **kwargs: Any) -> None:
    """Send `signal` after the move committed: one failing listener never undoes or fails
    the move, which is recorded already; it is logged."""
    for receiver, answer in signal.send_robust(sender=Completion, **kwargs):
        if isinstance(answer, Exception):
            logger.error(
                "Completion %s: a receiver of %s failed",
                pk,
                signal,
                exc_info=answer,
                extra={"completion": pk, "receiver": repr(receiver)},
            )


@dataclass
class Run:
    """One worker's hold on one completion while a delivery method sends it."""

    completion: Completion
    token: uuid.UUID
    actor: Actor

    def renew_lease(self) -> None:
        renew_lease(self.completion, self.token)

    def mark_sent(self) -> None:
        """Called right before a call that cannot be repeated (complete, a workflow, a
        store add): from here on, an error leaves an unknown outcome to check first."""
        self.completion._sent = True  # type: ignore[attr-defined]

    def record(self, reference: str) -> None:
        record_reference(self.completion, self.token, reference, actor=self.actor)

    def completed(self, reference: str, note: str = "") -> bool:
        return completed(
            self.completion, self.token, actor=self.actor, reference=reference, note=note
        )

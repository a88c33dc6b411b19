"""Staff actions on the ledger: revoke, re-issue to a corrected address, grant by hand.

Each is a transition of the one row per (claim, member), made by a staff user with a
reason they write, and left in the ledger (CompletionEvent: who, the reason, the
addresses and what happened upstream). The rules that keep "exactly once" true:

- Revoke: a completed row becomes revoked. Where the method can take the delivery
  back (a dynamic store: the address is removed) that is done first, and only when
  BitBadges confirms it does the ledger change; otherwise nothing changes. A BitBadges
  claim cannot be undone upstream, and a workflow is not run again: for those only the
  ledger changes, and the sentence returned says so. A revoked row is never reopened by
  a request for a check (check_requests.py); only Re-issue delivers it again.
- Re-issue: a completed (or revoked) row is delivered again, once, to the member's
  address as it is now. What went to the old address is taken back first where the
  method can; the row goes back to waiting, marked `staff_granted`, and the worker
  delivers it through the normal path (leases, unknown outcomes, verification). An
  address that still holds an earlier delivery (a BitBadges claim or a workflow takes
  nothing back; the ledger records whether a revoke did) is refused: that would deliver
  twice. So is an address the member has not proven, on a claim that requires a proven
  address (staff do not choose where a Re-issue goes: a typed address may be a typo).
- Grant: a member the engine found not eligible (or never checked) gets the claim: the
  row is made or moved to waiting, marked `staff_granted`; the worker delivers it
  without checking the requirements again, nor the proven address a claim may require
  (the sentence says when the address is not proven). One row per (claim, member) still holds: a
  completed or revoked row is not granted again (Re-issue is for that). A grant or
  re-issue that stops with nothing sent (failed, not eligible) ends there: a later
  request for the row is a normal check (delivery._grant_ends).

While a revoke or re-issue calls BitBadges, the row carries a lease (as a worker's does)
so a second staff action on it is refused instead of racing; the HTTP call is made
outside any transaction. A staff member's page is waiting (nginx gives up after 35 s,
gunicorn after 30 s): BitBadges gets WITHDRAW_BUDGET seconds in all, of which at most
WITHDRAW_WATCH watching a removal land; past that the removal BitBadges accepted is
said to be still under way, and one whose answer never came is refused as not known.
"""

import unicodedata
import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from claims import bitbadges, queue
from claims.audit import Actor
from claims.engine import ledger
from claims.engine.errors import ClaimsError
from claims.engine.methods import Withdrawal, method_of
from claims.engine.timing import lease_duration, poll_deadline
from claims.models import Claim, Completion, CompletionEvent
from claims.secrets import SecretUnreadable
from core.addresses import normalize_address, to_bitbadges_address
from core.client import budget_remaining, upstream_budget
from users.models import User

State = Completion.State
Reason = CompletionEvent.Reason

REASON_MAX = 500  # characters of a staff member's reason
REVOKED_REASON = gettext_noop(
    "The organiser took this claim back. Contact the site's support if you think this is a mistake."
)
REISSUED_REASON = gettext_noop("Re-issued to your corrected address: queued.")
GRANTED_REASON = gettext_noop("Granted by the organiser: queued.")
ALLOWED_CONTROLS = "\r\n\t"
# Seconds BitBadges may take, in all, for one Revoke or Re-issue (the store call and its
# retries, then watching it land); well within gunicorn's 30 s and nginx's 35 s.
WITHDRAW_BUDGET = 15.0
WITHDRAW_WATCH = 4.0  # of which, at most, watching a removal BitBadges accepted land


class StaffActionRefused(ClaimsError):
    """A staff action that cannot be done; str() is the sentence for the staff member.
    Nothing was changed, here or upstream."""


def clean_reason(raw: object) -> str:
    """The staff member's reason, trimmed; refused when empty, too long, or carrying
    control characters (a NUL, an escape) other than line breaks and tabs."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise StaffActionRefused("Give a reason: it is kept in the ledger with your name.")
    if len(text) > REASON_MAX:
        raise StaffActionRefused(
            f"Keep the reason to {REASON_MAX} characters; this one has {len(text)}."
        )
    if any(unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROLS for ch in text):
        raise StaffActionRefused(
            "The reason contains control characters (such as NUL); type it as plain text."
        )
    return text.replace("\r\n", "\n")


def member_address(member: User) -> str:
    """The member's address as BitBadges keeps it (bb1); refused when none or invalid."""
    raw = (member.address or "").strip()
    if not raw:
        raise StaffActionRefused(
            f"{member.get_username()} has no BitBadges address: there is nowhere to deliver "
            "to. Ask them to add one first."
        )
    try:
        return to_bitbadges_address(normalize_address(raw))
    except ValidationError as exc:
        raise StaffActionRefused(
            f"{member.get_username()}'s BitBadges address is not valid "
            f"({' '.join(exc.messages)}): ask them to correct it first."
        ) from None


def _usable(claim: Claim, member: User | None, verb: str) -> User:
    if member is None:
        raise StaffActionRefused(f"The member deleted their account: nothing to {verb}.")
    if not member.is_active:
        raise StaffActionRefused(
            f"{member.get_username()}'s account is deactivated: nothing is delivered to it."
        )
    if not claim.enabled:
        raise StaffActionRefused(f"The claim {claim.name} is disabled: enable it first.")
    return member


def _hold(
    completion_id: int, states: tuple[str, ...], refusal: str
) -> tuple[Completion, uuid.UUID]:
    """Lease a settled row for one staff action (no other may run on it meanwhile)."""
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        completion = (
            Completion.objects.select_for_update(of=("self",))
            .select_related("claim", "member")
            .filter(pk=completion_id)
            .first()
        )
        if completion is None:
            raise StaffActionRefused("There is no such completion.")
        if completion.state not in states:
            raise StaffActionRefused(refusal.format(state=completion.get_state_display()))
        if completion.lease_expires_at is not None and completion.lease_expires_at > now:
            raise StaffActionRefused(
                "Another action on this completion is under way; reload the page in a minute."
            )
        Completion.objects.filter(pk=completion.pk).update(
            lease_token=token, lease_expires_at=now + lease_duration()
        )
        completion.lease_token = token
    return completion, token


def _let_go(completion: Completion, token: uuid.UUID) -> None:
    Completion.objects.filter(pk=completion.pk, lease_token=token).update(
        lease_token=None, lease_expires_at=None
    )


def _withdraw(completion: Completion, token: uuid.UUID, address: str) -> Withdrawal:
    """Take back upstream what went to `address`, within WITHDRAW_BUDGET seconds; on any
    failure let the row go as it was and refuse (the removal is safe to repeat)."""
    method = method_of(completion.claim.delivery)
    if method is None:
        return Withdrawal(
            "The claim has no delivery method: nothing was changed upstream.", taken_back=False
        )
    left = budget_remaining()  # inside a web request, what its own budget has left
    seconds = WITHDRAW_BUDGET if left is None else max(0.0, min(WITHDRAW_BUDGET, left))
    try:
        with upstream_budget(seconds):
            return method.withdraw(
                completion.claim, address, watch=min(WITHDRAW_WATCH, poll_deadline())
            )
    except (bitbadges.BitBadgesError, SecretUnreadable) as exc:
        _let_go(completion, token)
        if getattr(exc, "outcome_unknown", False):
            raise StaffActionRefused(
                f"BitBadges gave no clear answer ({exc}), so whether {address} was removed "
                "is not known: the removal may still be under way. This completion was not "
                f"changed (still {completion.get_state_display().lower()}); try again in a "
                "minute (removing twice is harmless)."
            ) from exc
        raise StaffActionRefused(
            f"BitBadges did not confirm the removal of {address} ({exc}). Nothing was "
            "changed: try again (removing twice is harmless)."
        ) from exc
    except BaseException:
        _let_go(completion, token)
        raise


def still_holding(completion: Completion) -> set[str]:
    """The addresses that still hold what this completion delivered earlier: the one a
    completed row was delivered to, and each address a revoke or re-issue did not take
    back (from the ledger; a revoke recorded before it said so is read from its method)."""
    method = method_of(completion.claim.delivery)
    takes_back = method is not None and method.takes_back
    held: set[str] = set()
    events = completion.events.filter(reason__in=(Reason.REVOKED, Reason.REISSUED)).order_by(
        "at", "pk"
    )
    for from_state, why, details in events.values_list("from_state", "reason", "details"):
        if from_state != State.COMPLETED or not isinstance(details, dict):
            continue  # a re-issue of a revoked row took nothing more back
        address = details.get("address" if why == Reason.REVOKED else "from_address")
        if not isinstance(address, str) or not address:
            continue
        if details.get("withdrawn", takes_back):
            held.discard(address)
        else:
            held.add(address)
    if completion.state == State.COMPLETED and completion.address:
        held.add(completion.address)
    return held


def delivers_twice(completion: Completion, address: str) -> str:
    """Why re-issuing to `address` is refused, or "" when it may go there."""
    if address not in still_holding(completion):
        return ""
    if completion.state == State.COMPLETED and address == completion.address:
        return (
            f"This was delivered to {address}, which is still the member's address: "
            "nothing to re-issue. The member corrects their address first."
        )
    return (
        f"{address} still holds what this claim delivered to it before (this claim's "
        "delivery method cannot take it back): re-issuing to it would deliver twice. The "
        "member corrects their address first."
    )


def held_elsewhere(claim: Claim, address: str, *, besides: int | None) -> str:
    """Why delivering `claim` to `address` is refused on a one-per-address claim (another
    completion holds the address: ledger.address_holders), or "" when it may go there."""
    if not claim.one_completion_per_address or not ledger.address_taken(
        claim, address, besides=besides
    ):
        return ""
    return (
        f"{address} already holds this claim through another completion, and the claim "
        "allows one completion per address (a revoked one keeps its address taken)."
    )


def address_proven(member: User, address: str) -> bool:
    """Whether `member` has proven `address` (bb1): it is their address, and Sign in with
    BitBadges returned it (users.User.address_proven)."""
    if not member.address_proven or not member.address:
        return False
    try:
        return to_bitbadges_address(normalize_address(member.address)) == address
    except ValidationError:
        return False


def not_proven(claim: Claim, member: User, address: str) -> str:
    """On a claim that requires a proven address, a sentence saying that `address` is not
    proven by `member`; "" when it is, or when the claim does not require it."""
    if not claim.require_proven_address or address_proven(member, address):
        return ""
    return (
        f"{address} is not proven: {member.get_username()} typed it (Sign in with BitBadges "
        "did not return it), and this claim requires a proven address."
    )


def reissue_unproven(claim: Claim, member: User, address: str) -> str:
    """Why a Re-issue to `address` is refused on a claim that requires a proven address
    (a typo, or a stranger's address, is what the rule keeps out; staff do not choose the
    address of a Re-issue), or ""."""
    why = not_proven(claim, member, address)
    if not why:
        return ""
    return (
        f"{why} Nothing was re-issued. Ask the member to connect BitBadges with the address "
        "they want it delivered to (their profile, Sign in with BitBadges), then re-issue."
    )


def _lost(completion: Completion, token: uuid.UUID) -> StaffActionRefused:
    _let_go(completion, token)
    return StaffActionRefused(
        "The completion changed while this ran (another action, or its lease ran out); "
        "reload the page and look again."
    )


def revoke(*, completion_id: int, staff: User, reason: object) -> str:
    """Revoke a completed completion; the sentence for the staff member."""
    why = clean_reason(reason)
    completion, token = _hold(
        completion_id,
        (State.COMPLETED,),
        "Only a completed completion can be revoked; this one is {state}.",
    )
    address = completion.address
    upstream = _withdraw(completion, token, address)
    # The row keeps its address_key (one completion per address): a revoke frees nothing,
    # so no other site account claims that address again (ledger.address_holders).
    moved = ledger.fenced(
        completion,
        token,
        (State.COMPLETED,),
        State.REVOKED,
        actor=Actor.staff(staff),
        why=Reason.REVOKED,
        details={
            "staff_reason": why,
            "address": address,
            "upstream": upstream.sentence,
            "withdrawn": upstream.taken_back,
        },
        **ledger.release(
            reason=REVOKED_REASON,
            next_attempt_at=None,
            recheck_at=None,
            outcome_unknown=False,
            resend_approved=False,
        ),
    )
    if not moved:
        raise _lost(completion, token)
    return f"Revoked. {upstream.sentence}"


def reissue(*, completion_id: int, staff: User, reason: object) -> str:
    """Deliver a completed (or revoked) completion again, once, to the member's address
    as it is now; the sentence for the staff member."""
    why = clean_reason(reason)
    completion, token = _hold(
        completion_id,
        Completion.SETTLED,
        "Only a completed or revoked completion can be re-issued; this one is {state}.",
    )
    try:
        member = _usable(completion.claim, completion.member, "re-issue")
        new_address = member_address(member)
        refusal = (
            reissue_unproven(completion.claim, member, new_address)
            or delivers_twice(completion, new_address)
            or held_elsewhere(completion.claim, new_address, besides=completion.pk)
        )
        if refusal:
            raise StaffActionRefused(refusal)
    except StaffActionRefused:
        _let_go(completion, token)
        raise
    old_address, from_state = completion.address, completion.state
    withdrawn: dict[str, bool] = {}
    if from_state == State.COMPLETED:
        taken = _withdraw(completion, token, old_address)
        upstream, withdrawn = taken.sentence, {"withdrawn": taken.taken_back}
    else:
        upstream = "It was revoked already: nothing more was taken back."
    now = timezone.now()
    with transaction.atomic():
        moved = ledger.fenced(
            completion,
            token,
            (from_state,),
            State.WAITING,
            actor=Actor.staff(staff),
            why=Reason.REISSUED,
            details={
                "staff_reason": why,
                "from_address": old_address,
                "to_address": new_address,
                "upstream": upstream,
                **withdrawn,
            },
            **ledger.release(
                reason=REISSUED_REASON,
                address=new_address,
                staff_granted=True,
                attempts=0,
                next_attempt_at=now,
                delivery_reference="",
                outcome_unknown=False,
                resend_approved=False,
                recheck_at=None,
                rechecks=0,
            ),
        )
        if moved:
            queue.process(completion.pk)
    if not moved:
        raise _lost(completion, token)
    return f"Re-issue to {new_address} queued. {upstream}"


def grant(*, claim: Claim, member: User, staff: User, reason: object) -> str:
    """Grant `claim` to `member` by hand, whatever the engine found; the sentence for
    the staff member. The worker delivers it through the claim's method."""
    why = clean_reason(reason)
    _usable(claim, member, "grant")
    address = member_address(member)
    own = Completion.objects.filter(claim=claim, member=member).values_list("pk", flat=True)
    if taken := held_elsewhere(claim, address, besides=own.first()):
        raise StaffActionRefused(taken)
    # A grant overrides the claim's rules, the proven address too; it says so.
    unproven = not_proven(claim, member, address)
    if unproven:
        unproven = f" {unproven} Your grant delivers there anyway."
    now = timezone.now()
    actor = Actor.staff(staff)
    queued = {
        "state": State.WAITING,
        "staff_granted": True,
        "address": address,
        "attempts": 0,
        "next_attempt_at": now,
        "reason": GRANTED_REASON,
        "recheck_at": None,
        "rechecks": 0,
    }
    details = {"staff_reason": why, "address": address}
    name = member.get_username()
    with transaction.atomic():
        completion, created = Completion.objects.get_or_create(
            claim=claim, member=member, defaults=queued
        )
        if created:
            ledger.event(completion, "", State.WAITING, actor, Reason.GRANTED, details)
            queue.process(completion.pk)
            return f"Granted to {name}: delivery to {address} queued.{unproven}"
        completion = Completion.objects.select_for_update().get(pk=completion.pk)
        _grantable(completion, name)
        from_state = completion.state
        for field, value in queued.items():
            setattr(completion, field, value)
        if completion.paused_at is not None:
            completion.next_attempt_at = None  # the pause queues it when it ends
        completion.save()
        ledger.event(completion, from_state, State.WAITING, actor, Reason.GRANTED, details)
        if completion.paused_at is None:
            queue.process(completion.pk)
    if completion.paused_at is not None:
        return (
            f"Granted to {name}: it is delivered to {address} when the delivery pause ends."
            f"{unproven}"
        )
    return f"Granted to {name}: delivery to {address} queued.{unproven}"


def _grantable(completion: Completion, name: str) -> None:
    """Refuse a grant over a row that is settled, held by a worker, or whose last send
    may have landed."""
    state = completion.get_state_display().lower()
    if completion.state in Completion.SETTLED:
        raise StaffActionRefused(
            f"{name} already has a completion of this claim ({state}): one per member. "
            "To deliver it again, use Re-issue on that completion."
        )
    if completion.state in (State.CHECKING, State.DELIVERING):
        raise StaffActionRefused(
            f"A worker is {state} {name} for this claim right now; try again in a minute."
        )
    if completion.staff_granted and completion.state in Completion.IN_PROGRESS:
        raise StaffActionRefused(
            f"This claim is granted to {name} already; its delivery is under way ({state})."
        )
    if completion.outcome_unknown:
        raise StaffActionRefused(
            f"An earlier delivery to {name} may have landed (outcome unknown): settle it "
            "first (Retry checks BitBadges before anything is sent again)."
        )

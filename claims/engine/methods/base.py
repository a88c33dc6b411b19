"""What every delivery method does, and the checks they share.

A method is one way a completion reaches BitBadges. The engine asks each the same four
things: send a completion (`send`, after `prepare` checked what it can without
changing anything), say whether an earlier send landed when its answer
was lost (`verify`), check a claim's settings on BitBadges before it goes live
(`check_settings`), and describe itself (`label` for operators, `describe` for members).
Everything else (leases, retries, the ledger, the pause) is the engine's.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_noop

from claims import bitbadges
from claims.engine.errors import Transient
from claims.engine.ledger import Run
from claims.models import Claim, Completion
from claims.preflight import ClaimSettings, Problem

CONFIRMED = "Completed (confirmed with BitBadges after a lost answer)."


@dataclass(frozen=True)
class Verdict:
    """Whether an earlier send landed: `reference` and `note` are recorded with it."""

    delivered: bool
    reference: str = ""
    note: str = ""


@dataclass(frozen=True)
class Withdrawal:
    """What a staff member's Revoke or Re-issue did upstream to an address's delivery:
    `sentence` for staff (kept in the ledger); `taken_back` when the address no longer
    holds it, or will not once BitBadges has run the removal it accepted. An address
    that still holds a delivery is never delivered to again (staff_actions)."""

    sentence: str
    taken_back: bool


class DeliveryMethod:
    value: str = ""  # Claim.Delivery
    label: str = ""  # short, for the admin's lists
    # The secret the admin must hold for this method: (form field, what to say if missing).
    secret: tuple[str, str] | None = None
    # After "certainly not delivered", may the engine send again by itself? A workflow
    # may still be running or may have turned the member down: an admin decides.
    resends_by_itself = True
    # Can `withdraw` take a delivery back upstream (so the address may be delivered to
    # again)? Read for revokes recorded before the ledger said so itself.
    takes_back = False

    def prepare(self, claim: Claim, address: str) -> None:
        """Calls that change nothing upstream and may stop the delivery (e.g. a simulated
        completion), made before the row is marked delivering: that move, fenced on the
        lease, is then the last write before `send`. Raises as `send` does."""

    def send(self, run: Run) -> None:
        """Deliver run.completion to run.completion.address; record it with run.completed()."""
        raise NotImplementedError

    def verify(self, completion: Completion) -> Verdict:
        """After an unknown outcome: did the earlier send land? Raises
        bitbadges.CannotVerify (or CannotAsk) when nothing can tell."""
        raise NotImplementedError

    def check_settings(
        self, client: bitbadges.BitBadgesClient, settings: ClaimSettings
    ) -> list[Problem]:
        """What on BitBadges would make every member fail; only calls that change nothing."""
        raise NotImplementedError

    def describe(self, claim: Claim) -> str:
        """One sentence for members: how the badge reaches them."""
        raise NotImplementedError

    def withdraw(self, claim: Claim, address: str, *, watch: float) -> Withdrawal:
        """A staff member's Revoke or Re-issue: take back, where the upstream can, what
        was delivered to `address`, and say what happened there. Safe to repeat; raises
        a BitBadges error when the upstream did not accept it. `watch`: the most seconds
        to spend seeing a queued removal land (a staff member's page is waiting)."""
        return Withdrawal("Nothing was changed upstream.", taken_back=False)

    def calls_bitbadges(self, claim: Claim) -> bool:
        """Does delivering this claim call BitBadges (and so wait on its credits)?"""
        return True

    def verified_by_attempts(self, claim: Claim) -> bool:
        """Are unknown outcomes checked on the claim's attempts (bitbadges_check asks
        BitBadges whether that route answers)?"""
        return bool(claim.bitbadges_claim_id)


def recorded_attempt(client: bitbadges.BitBadgesClient, attempt_id: str) -> bitbadges.AttemptStatus:
    """The attempt we were told of, resolved: still pending is checked again later."""
    status = client.attempt_status(attempt_id)
    if status.pending:
        raise Transient(
            gettext_noop("BitBadges is still processing; we will check again."),
            f"attempt {attempt_id} still pending",
            outcome_unknown=True,
        )
    return status


def verify_by_attempts(client: bitbadges.BitBadgesClient, claim: Claim, address: str) -> Verdict:
    """The address's successful attempts at the claim, as BitBadges lists them."""
    count = client.success_count(claim.bitbadges_claim_id, address)
    if count > 0:
        return Verdict(True, f"confirmed by BitBadges' attempts for {address}", CONFIRMED)
    return Verdict(False, note=f"BitBadges lists no successful attempt for {address}")

"""Delivery by BitBadges claim: this site completes the claim for the member's address.

The claim is gated by a password plugin only this site knows, with sign-in off
(docs/fidelity.md, "Claims checked before they go live"); a simulation checks the
password before anything is used up, `complete` queues an attempt, and its status says
whether it landed.
"""

from claims import bitbadges
from claims.engine.ledger import Run
from claims.engine.methods.base import (
    CONFIRMED,
    DeliveryMethod,
    Verdict,
    Withdrawal,
    recorded_attempt,
    verify_by_attempts,
)
from claims.engine.timing import poll_deadline, poll_interval
from claims.models import Claim, Completion
from claims.preflight import (
    NEEDS_THE_MEMBER,
    PASSWORD,
    PROBE_ADDRESS,
    SIGN_IN,
    ClaimSettings,
    Problem,
    fetch_claim,
    plugins,
)


class BitBadgesClaim(DeliveryMethod):
    value = Claim.Delivery.BITBADGES
    label = "BitBadges claim"
    secret = (
        "password",
        "The BitBadges method needs the password plugin's password: type it here.",
    )

    def withdraw(self, claim: Claim, address: str, *, watch: float) -> Withdrawal:
        # BitBadges has no route that undoes a completed claim (docs/fidelity.md, "Staff
        # actions"): only the ledger changes, and the address keeps its badge.
        return Withdrawal(
            f"The badge stays on BitBadges: BitBadges cannot undo a completed claim, so "
            f"{address} keeps what it received. Only this site's ledger changed.",
            taken_back=False,
        )

    def prepare(self, claim: Claim, address: str) -> None:
        """The simulation: BitBadges checks the password (and the claim's state) for the
        address before anything is used up."""
        inputs = {claim.password_instance_id: {"password": claim.password()}}
        bitbadges.get_client().simulate(claim.bitbadges_claim_id, address, inputs=inputs)

    def send(self, run: Run) -> None:
        completion = run.completion
        claim = completion.claim
        client = bitbadges.get_client()
        inputs = {claim.password_instance_id: {"password": claim.password()}}
        # No renew_lease: the delivering move, just made (after `prepare`), is fenced on
        # the lease and set a full one; nothing was called since.
        run.mark_sent()
        attempt_id = client.complete(claim.bitbadges_claim_id, completion.address, inputs=inputs)
        run.record(attempt_id)
        client.wait_for_attempt(attempt_id, interval=poll_interval(), deadline=poll_deadline())
        run.completed(attempt_id)

    def verify(self, completion: Completion) -> Verdict:
        """The attempt we recorded, if any; else the address's successful attempts."""
        client = bitbadges.get_client()
        attempt_id = completion.delivery_reference
        if attempt_id:
            status = recorded_attempt(client, attempt_id)
            if status.success:
                return Verdict(True, attempt_id, CONFIRMED)
            return Verdict(
                False, note=f"attempt {attempt_id} failed: {status.error or 'no reason'}"
            )
        return verify_by_attempts(client, completion.claim, completion.address)

    def describe(self, claim: Claim) -> str:
        return "We complete the claim on BitBadges for your address as soon as you qualify."

    def check_settings(
        self, client: bitbadges.BitBadgesClient, settings: ClaimSettings
    ) -> list[Problem]:
        claim = fetch_claim(client, settings.bitbadges_claim_id)
        if isinstance(claim, Problem):
            return [claim]
        problems = []
        found = plugins(claim)
        ids = [plugin.get("pluginId") for plugin in found]
        if SIGN_IN in ids:
            problems.append(
                Problem(
                    "This BitBadges claim requires sign-in (its Requires Proof of Address plugin, "
                    "initiatedBy), so only the member, signed in to BitBadges, can complete it; this "
                    "site completes claims for members with its API key. In the claim builder, turn "
                    "sign-in off and gate the claim with a password only this site knows, or "
                    "deliver it by dynamic store instead.",
                    field="delivery",
                )
            )
        passwords = [
            plugin.get("instanceId") for plugin in found if plugin.get("pluginId") == PASSWORD
        ]
        if not passwords:
            problems.append(
                Problem(
                    "This BitBadges claim has no Password plugin. Add one in the claim builder, with "
                    "a password only this site knows: with sign-in off it is what stops anyone else "
                    "from completing the claim.",
                    field="delivery",
                )
            )
        elif settings.password_instance_id not in passwords:
            named = ", ".join(repr(instance) for instance in passwords)
            problems.append(
                Problem(
                    f"The BitBadges claim's password plugin has the instance ID {named}, not "
                    f"{settings.password_instance_id!r}: enter that.",
                    field="password_instance_id",
                )
            )
        for plugin_id in ids:
            if plugin_id in NEEDS_THE_MEMBER:
                problems.append(
                    Problem(
                        f"The BitBadges claim checks {NEEDS_THE_MEMBER[plugin_id]} ({plugin_id} "
                        "plugin), which needs the member's own BitBadges session or input; this site "
                        "checks members itself. Remove that plugin, or deliver by dynamic store.",
                        field="delivery",
                    )
                )
        if claim.get("manualDistribution") is True:
            problems.append(
                Problem(
                    "The BitBadges claim is set to manual distribution, so BitBadges hands nothing "
                    "out for it. Turn manual distribution off.",
                    field="bitbadges_claim_id",
                )
            )
        if not problems and settings.password:
            problems += _simulated(client, settings)
        return problems


def _simulated(client: bitbadges.BitBadgesClient, settings: ClaimSettings) -> list[Problem]:
    """Simulate a completion with the password: BitBadges checks it, nothing is used up.

    The probe address is nobody's, so refusals about the address (a list, a per-address
    limit) say nothing about the claim and are ignored.
    """
    inputs = {settings.password_instance_id: {"password": settings.password}}
    try:
        client.simulate(settings.bitbadges_claim_id, PROBE_ADDRESS, inputs=inputs)
    except bitbadges.WrongPassword:
        return [
            Problem(
                "BitBadges says the password is wrong for this claim's password plugin. Type the "
                "password the claim builder shows.",
                field="password",
            )
        ]
    except (
        bitbadges.SignInRequired,
        bitbadges.ClaimMisconfigured,
        bitbadges.VersionMismatch,
    ) as exc:
        return [Problem(f"BitBadges refuses a completion of this claim: {exc.message}.")]
    except (bitbadges.ClaimExhausted, bitbadges.ClaimHalted, bitbadges.OutsideWindow) as exc:
        return [
            Problem(
                f"BitBadges would refuse a completion now: {exc.message}. Members wait or fail "
                "until that changes on BitBadges.",
                blocking=False,
            )
        ]
    except bitbadges.ClaimRejected:
        return []  # about the probe address (not listed, per-address limit): not the claim's
    return []

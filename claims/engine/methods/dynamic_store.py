"""Delivery by dynamic store: this site adds the member's address to a BitBadges dynamic
store, and the member claims on BitBadges, where a whitelist plugin reads that store.

Store additions land after a short lag, so the store is read until the address shows
up; an unknown outcome is settled by reading the store.
"""

import time

from django.utils.translation import gettext_noop

from claims import bitbadges
from claims.engine.errors import Transient
from claims.engine.ledger import Run
from claims.engine.methods.base import DeliveryMethod, Verdict, Withdrawal
from claims.engine.timing import poll_deadline, poll_interval
from claims.models import Claim, Completion
from claims.preflight import PROBE_ADDRESS, WHITELIST, ClaimSettings, Problem, fetch_claim, plugins


class DynamicStore(DeliveryMethod):
    value = Claim.Delivery.DYNAMIC_STORE
    label = "Dynamic store"
    secret = ("store_secret", "The dynamic store method needs the store's secret: type it here.")
    takes_back = True

    def send(self, run: Run) -> None:
        completion = run.completion
        claim = completion.claim
        client = bitbadges.get_client()
        run.mark_sent()
        client.store_add(claim.store_id, claim.store_secret(), completion.address)
        reference = f"store {claim.store_id}: added {completion.address}"
        run.record(reference)
        if not _wait_in_store(client, claim, completion.address):
            raise Transient(
                gettext_noop(
                    "BitBadges has not shown your address in the list yet; we will check again."
                ),
                f"{completion.address} not in store {claim.store_id} after {poll_deadline():g} s",
                outcome_unknown=True,
            )
        run.completed(reference)

    def verify(self, completion: Completion) -> Verdict:
        claim = completion.claim
        client = bitbadges.get_client()
        if client.store_contains(claim.store_id, claim.store_secret(), completion.address):
            reference = completion.delivery_reference or f"store {claim.store_id}"
            return Verdict(
                True, reference, "Completed (confirmed in the store after a lost answer)."
            )
        return Verdict(False, note=f"{completion.address} is not in store {claim.store_id}")

    def withdraw(self, claim: Claim, address: str, *, watch: float) -> Withdrawal:
        """Remove the address from the store (removing twice leaves the same store), then
        watch it leave for at most `watch` seconds: BitBadges queues store actions, and
        one it accepted lands by itself."""
        client = bitbadges.get_client()
        client.store_remove(claim.store_id, claim.store_secret(), address)
        try:
            gone = _wait_in_store(client, claim, address, present=False, seconds=watch)
        except bitbadges.BitBadgesError:
            gone = False  # the removal was accepted; only reading the store failed
        if gone:
            done = f"Removed {address} from the dynamic store {claim.store_id}."
        else:
            done = (
                f"BitBadges accepted the removal of {address} from the dynamic store "
                f"{claim.store_id}; it is still under way (not landed when last read) and "
                "lands by itself."
            )
        return Withdrawal(
            f"{done} A badge already claimed on BitBadges through the store stays with that "
            "address.",
            taken_back=True,
        )

    def describe(self, claim: Claim) -> str:
        return "Your address joins the list on BitBadges; you then claim the badge there."

    def verified_by_attempts(self, claim: Claim) -> bool:
        return False  # the store says whether the address went in

    def check_settings(
        self, client: bitbadges.BitBadgesClient, settings: ClaimSettings
    ) -> list[Problem]:
        problems = []
        if settings.bitbadges_claim_id:
            claim = fetch_claim(client, settings.bitbadges_claim_id)
            if isinstance(claim, Problem):
                return [claim]
            lists = [plugin for plugin in plugins(claim) if plugin.get("pluginId") == WHITELIST]
            if not lists:
                problems.append(
                    Problem(
                        "The BitBadges claim has no whitelist plugin, so adding members to the "
                        f"dynamic store {settings.store_id!r} lets nobody claim it. Add a whitelist "
                        "plugin that reads that store (privately: use dynamic store).",
                        field="store_id",
                    )
                )
            for plugin in lists:
                public = plugin.get("publicParams") or {}
                private = plugin.get("privateParams") or {}
                if isinstance(public, dict) and (public.get("list") or public.get("listId")):
                    problems.append(
                        Problem(
                            "The BitBadges claim's whitelist is a public address list, not the "
                            "dynamic store: switch it to use the dynamic store "
                            f"{settings.store_id!r}.",
                            field="store_id",
                        )
                    )
                store = private.get("dynamicDataId") if isinstance(private, dict) else None
                if store and store != settings.store_id:
                    problems.append(
                        Problem(
                            f"The BitBadges claim's whitelist reads the dynamic store {store!r}, "
                            f"not {settings.store_id!r}.",
                            field="store_id",
                        )
                    )
        else:
            problems.append(
                Problem(
                    "No BitBadges claim ID: the claim's plugins cannot be checked. Add it so this "
                    "site can check the claim reads the store.",
                    field="bitbadges_claim_id",
                    blocking=False,
                )
            )
        if settings.store_id and settings.store_secret:
            try:
                client.store_contains(settings.store_id, settings.store_secret, PROBE_ADDRESS)
            except bitbadges.StoreRefused as exc:
                problems.append(
                    Problem(
                        f"BitBadges refused the dynamic store: {exc.message}. Check the store ID and "
                        "type the store's data secret again.",
                        field="store_secret",
                    )
                )
        return problems


def _wait_in_store(
    client: bitbadges.BitBadgesClient,
    claim: Claim,
    address: str,
    *,
    present: bool = True,
    seconds: float | None = None,
) -> bool:
    """Store actions land after a short lag: poll until the address shows up (or, with
    `present` false, until it has gone), for at most `seconds` (CLAIMS_POLL_DEADLINE
    unless given)."""
    deadline = time.monotonic() + (poll_deadline() if seconds is None else seconds)
    interval = poll_interval()
    while True:
        if client.store_contains(claim.store_id, claim.store_secret(), address) is present:
            return True
        if time.monotonic() + interval > deadline:
            return False
        time.sleep(interval)
        interval = min(interval * 1.5, 10.0)

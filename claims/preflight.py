"""Check a claim against BitBadges before it goes live: what would make every member fail.

The admin runs this when a claim is saved, and `manage.py bitbadges_check` for every
enabled claim. Each delivery method needs its BitBadges claim set up its own way
(docs/fidelity.md, "Claims checked before they go live"):

- bitbadges: the server completes the claim for the member's address with its API key,
  which BitBadges allows only when the claim has no sign-in (`initiatedBy`) and is gated
  by a `password` plugin whose password only this site knows. Plugins that need the
  member's own BitBadges session or input (social logins, codes) can never pass.
- dynamic_store: the member claims on BitBadges themselves, so sign-in is normal there;
  the claim needs a `whitelist` plugin (the store is private, so which store it reads is
  not visible with an API key), and the store must accept the secret we hold.
- workflow: the workflow does what it likes; a claim ID given must exist.

Only calls that change nothing are made: the claim fetch, a simulation (which uses
nothing up) and a store lookup, each with an address nobody owns.
"""

from __future__ import annotations

from dataclasses import dataclass

from claims import bitbadges

# The all-zero address (BitBadges' `anonymous` plugin uses it): nobody's, so a lookup
# or a simulation with it changes nothing and reveals nothing.
PROBE_ADDRESS = "bb1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqs7gvmv"

SIGN_IN = "initiatedBy"
PASSWORD = "password"
WHITELIST = "whitelist"
# Plugins a backend with only an API key can never satisfy: they read the member's own
# BitBadges session (social connections) or an input only the member has (a code).
NEEDS_THE_MEMBER = {
    "discord": "Discord",
    "github": "GitHub",
    "github-contributions": "GitHub contributions",
    "google": "Google",
    "twitch": "Twitch",
    "twitter": "X (Twitter)",
    "email": "email",
    "codes": "claim codes",
}
# Plugins that pass or fail on their own, whoever completes the claim.
HARMLESS = {"numUses", "transferTimes", "halt", "custom-instructions", "url-clicker", WHITELIST}


@dataclass(frozen=True)
class Problem:
    """Something to change on BitBadges (or in the claim here). `field` is the admin
    form field it concerns (None: the claim as a whole); `blocking` ones stop a save."""

    text: str
    field: str | None = None
    blocking: bool = True


class CheckUnavailable(Exception):
    """BitBadges could not be asked (down, throttled, refusing our key, out of credits)."""


@dataclass(frozen=True)
class ClaimSettings:
    """What the check needs of a claim, saved or not (the admin checks a form)."""

    delivery: str
    bitbadges_claim_id: str = ""
    password_instance_id: str = ""
    password: str = ""
    store_id: str = ""
    store_secret: str = ""

    @classmethod
    def of(cls, claim) -> ClaimSettings:
        return cls(
            delivery=claim.delivery,
            bitbadges_claim_id=claim.bitbadges_claim_id,
            password_instance_id=claim.password_instance_id,
            password=claim.password() if claim.has_password else "",
            store_id=claim.store_id,
            store_secret=claim.store_secret() if claim.has_store_secret else "",
        )


def claim_problems(settings: ClaimSettings, *, client=None) -> list[Problem]:
    """Everything about this claim's BitBadges side that would stop its delivery.

    Raises CheckUnavailable when BitBadges cannot be asked. The caller decides whether
    that blocks (enabling a claim) or only warns (saving a draft).
    """
    from claims.models import Claim

    try:
        client = client or bitbadges.get_client()
        if settings.delivery == Claim.Delivery.BITBADGES:
            return _completed_by_us(client, settings)
        if settings.delivery == Claim.Delivery.DYNAMIC_STORE:
            return _claimed_from_store(client, settings)
        if settings.delivery == Claim.Delivery.WORKFLOW and settings.bitbadges_claim_id:
            claim = _fetch(client, settings.bitbadges_claim_id)
            return [] if isinstance(claim, dict) else [claim]
        return []
    except bitbadges.BitBadgesError as exc:
        # What the checks expect became a Problem above; anything else means BitBadges
        # could not be asked properly (down, throttled, our key, an answer we cannot read).
        raise CheckUnavailable(str(exc)) from exc


def _fetch(client, claim_id: str) -> dict | Problem:
    try:
        return client.get_claim(claim_id)
    except bitbadges.ClaimNotFound:
        return Problem(
            f"BitBadges has no claim {claim_id!r}. Copy the claim ID from the claim builder.",
            field="bitbadges_claim_id",
        )


def _plugins(claim: dict) -> list[dict]:
    return [plugin for plugin in claim.get("plugins") or [] if isinstance(plugin, dict)]


def _completed_by_us(client, settings: ClaimSettings) -> list[Problem]:
    claim = _fetch(client, settings.bitbadges_claim_id)
    if isinstance(claim, Problem):
        return [claim]
    problems = []
    plugins = _plugins(claim)
    ids = [plugin.get("pluginId") for plugin in plugins]
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
        plugin.get("instanceId") for plugin in plugins if plugin.get("pluginId") == PASSWORD
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


def _simulated(client, settings: ClaimSettings) -> list[Problem]:
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


def _claimed_from_store(client, settings: ClaimSettings) -> list[Problem]:
    problems = []
    if settings.bitbadges_claim_id:
        claim = _fetch(client, settings.bitbadges_claim_id)
        if isinstance(claim, Problem):
            return [claim]
        lists = [plugin for plugin in _plugins(claim) if plugin.get("pluginId") == WHITELIST]
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

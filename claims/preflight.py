"""What checking a claim against BitBadges before it goes live is made of: the claim's
settings as checked, the problems found, and the lookups every delivery method uses.

The admin checks a claim when it is saved, and `manage.py bitbadges_check` every enabled
claim, through services.claim_problems; each delivery method's `check_settings`
(claims/engine/methods/) checks its BitBadges claim its own way (docs/fidelity.md,
"Claims checked before they go live"):

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


def fetch_claim(client, claim_id: str) -> dict | Problem:
    try:
        return client.get_claim(claim_id)
    except bitbadges.ClaimNotFound:
        return Problem(
            f"BitBadges has no claim {claim_id!r}. Copy the claim ID from the claim builder.",
            field="bitbadges_claim_id",
        )


def plugins(claim: dict) -> list[dict]:
    return [plugin for plugin in claim.get("plugins") or [] if isinstance(plugin, dict)]

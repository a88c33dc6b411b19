"""BitBadges' errors: one family, `BitBadgesError`, on core.client.UpstreamError, and
`classify_claim_error`, which reads BitBadges' refusal texts.

BitBadges is classified by its own error text first and the status code second
(IDX-2024 answered 500 for every claim failure).
"""

from __future__ import annotations

import re
from typing import Any

from core.client import Throttled, UpstreamError

CHECK_FIRST = "The request may have been acted on: check before trying again"


class BitBadgesError(UpstreamError):
    """A call to BitBadges failed. `str(exc)` says while doing what, and what happened.

    `message` is BitBadges' own errorMessage when it gave one, else a sentence of ours;
    `transient` says whether the same call is worth trying again later.
    """

    service = "BitBadges"
    transient = False
    # True when the request may have reached BitBadges and been acted on.
    outcome_unknown = False


class NotConfigured(BitBadgesError):
    """No API key or no API URL."""


class Unauthorized(BitBadgesError):
    """401: the API key is missing or refused."""


class PaymentRequired(BitBadgesError):
    """402: the API key's account is out of credits. Every request answers 402 until it
    is topped up (DOCS api/README.md), so the caller pauses rather than retries."""

    def __init__(self, message: str = "", *, top_up_url: str | None = None, **kwargs: Any) -> None:
        self.top_up_url = top_up_url
        if top_up_url and "hint" not in kwargs:
            kwargs["hint"] = f"Top up at {top_up_url}"
        super().__init__(message, **kwargs)


class RateLimited(Throttled, BitBadgesError):
    """429: too many requests; `retry_after` is BitBadges' wish in seconds, if given."""


class Unavailable(BitBadgesError):
    """BitBadges could not be reached or failed (timeouts, connection errors, 5xx).

    `outcome_unknown` is True when the request may have reached BitBadges and been
    acted on (a claim completed, a store changed): look before trying again.
    """

    transient = True


class InvalidResponse(BitBadgesError):
    """BitBadges answered, but not with the JSON expected.

    `outcome_unknown` is True when the call was `complete` and BitBadges answered 2xx:
    the attempt may have been queued all the same.
    """

    transient = True


class ClaimRejected(BitBadgesError):
    """BitBadges refused the claim for this address; the same call will fail again.

    `admin_problem` says whether an admin must change something (a claim's settings, a
    password) rather than the member's case being refused (not listed, used up).
    """

    admin_problem = True


class InvalidAddress(ClaimRejected):
    """The address is neither 0x + 40 hex digits nor a valid bb1 address."""

    admin_problem = False


class ClaimNotFound(ClaimRejected):
    """No claim has this id (or the id is not in BitBadges' format)."""


class ClaimExhausted(ClaimRejected):
    """Every use of the claim is taken."""

    admin_problem = False


class AlreadyClaimed(ClaimRejected):
    """This address has used up its own share of the claim."""

    admin_problem = False


class WrongPassword(ClaimRejected):
    """The password plugin refused the password sent."""


class VersionMismatch(ClaimRejected):
    """The claim changed since its version was read."""


class NotWhitelisted(ClaimRejected):
    """The address is not on the claim's list (or store)."""

    admin_problem = False


class OutsideWindow(ClaimRejected):
    """The claim is not open at this time."""

    admin_problem = False


class ClaimHalted(ClaimRejected):
    """The claim's manager has halted it."""

    admin_problem = False


class SignInRequired(ClaimRejected):
    """The claim needs the user's own BitBadges sign-in, which a backend cannot give."""


class ClaimMisconfigured(ClaimRejected):
    """The claim's settings on BitBadges stop a backend from completing it: manual
    distribution, no numUses plugin, a plugin input it refuses as malformed."""


class StoreRefused(BitBadgesError):
    """A dynamic store refused the request: no such store, or the wrong data secret.

    The same request fails again until an admin corrects the claim's store settings.
    """


class CannotVerify(BitBadgesError):
    """BitBadges cannot say now whether an address completed a claim: the routes that
    would tell are missing, refuse us, or answer something we cannot trust. This is not
    "no": look again later, or leave it to a person."""

    transient = True
    outcome_unknown = True


class AttemptTimeout(BitBadgesError):
    """The attempt was still pending at the deadline; it may yet succeed or fail."""

    transient = True
    outcome_unknown = True

    def __init__(self, message: str = "", *, attempt_id: str = "", **kwargs: Any) -> None:
        self.attempt_id = attempt_id
        super().__init__(message, **kwargs)


# Most specific first: the first pattern found in the text decides. Matched
# case-insensitively anywhere, because IDX-2024 wrapped plugin failures as
# "One or more of the challenges were not satisfied (<Plugin>) : Error: <message>".
# Sources for each text: docs/fidelity.md, "Refusal texts".
_CLAIM_ERRORS: tuple[tuple[re.Pattern[str], type[ClaimRejected]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), cls)
    for pattern, cls in (
        (r"overall max uses exceeded", ClaimExhausted),
        (r"already exceeded max uses", AlreadyClaimed),
        (r"incorrect password", WrongPassword),
        (r"not in whitelist|not in list of whitelisted users", NotWhitelisted),
        (r"outside the approved time window|invalid transfer time", OutsideWindow),
        (r"claim halted", ClaimHalted),
        # initiatedBy: the docs' texts, and IDX-2024's route-level check. The second
        # docs text says "Invalid address": it must win over InvalidAddress below.
        (
            r"must be authenticated|authentication required|"
            r"does not match the address of the signed in user",
            SignInRequired,
        ),
        (
            r"manual distribution|no numuses plugin|invalid configuration|typia|"
            r"invalid request payload",
            ClaimMisconfigured,
        ),
        (r"invalid claimid format|no doc found|claim not found", ClaimNotFound),
        (r"could not convert|well-formed|invalid address", InvalidAddress),
        (r"updated since|version", VersionMismatch),
        (
            r"challenges were not satisfied|code already used|invalid code|"
            r"invalid details|data secret|dynamic data doc not found",
            ClaimRejected,
        ),
    )
)

# Texts a dynamic store route answers for a store we cannot use (DOCS plugins.md names
# them; the store routes' status codes are unconfirmed, so the text decides).
STORE_REFUSALS = re.compile(r"invalid data secret|dynamic data doc not found", re.IGNORECASE)


def classify_claim_error(text: str) -> type[ClaimRejected] | None:
    """The ClaimRejected subclass for one of BitBadges' claim failure messages, if known."""
    for pattern, cls in _CLAIM_ERRORS:
        if pattern.search(text or ""):
            return cls
    return None

"""The emulated BitBadges' ground rules: its texts, errors and settings, addresses and
claim ids, and the complete/simulate payload check that every route shares.

The package as a whole (sandbox/bitbadges/): the views in views.py answer the HTTP API
(urls.py); claims.py, attempts.py, stores.py and credits.py are what they (and tests, and
the demo Pipedream workflow) call directly; demo.py makes the demo's claims. Sign In with
BitBadges (the authorize page, the token and revoke routes) is siwbb.py, siwbb_exchange.py
and siwbb_views.py.
docs/fidelity.md names the source of each behaviour.

How it behaves, and where it picks one reading of what the docs leave open:
- A completion is simulated first (the plugins are checked against the current state);
  a failure is answered at once and queues nothing. A pass queues an attempt that
  resolves `SANDBOX_BITBADGES_ATTEMPT_DELAY` seconds later (default 1.0). Nothing runs
  in the background: every sandbox request (and the helpers here) first resolves the
  attempts that are due, checking the plugins again under a lock on the claim row, so
  a claim used up in between fails then, and two resolvers never take one claim number.
- Store actions land `SANDBOX_BITBADGES_STORE_LAG` seconds (default 1.5) after they
  were sent, applied lazily in the same way.
- Addresses are accepted as 0x (EIP-55 when mixed case) or bb1 and kept as bb1.

Fidelity (docs/fidelity.md; sources in the notes of issue 12): refusals on complete,
simulate and status are HTTP 500 {"errorMessage"} as the 2024 indexer's catch blocks
send them (IDX-2024 src/routes/claims.ts:809-815, 975-981, 896-902); payload-shape
errors are 400 "Invalid request payload. " + typia's errors (IDX-2024
src/routes/search.ts:244-248, with the checks of bitbadgesjs-sdk 0.27.2's typia). Texts
that changed between the 2024 indexer and the 2026 docs follow
`SANDBOX_BITBADGES_WORDING` ("docs", the default, or "idx-2024"). Every choice no
source settles is marked "unconfirmed" where it is made.
"""

import json
import re

from django.conf import settings
from django.core.exceptions import ValidationError

from core.addresses import to_bitbadges_address
from sandbox.bitbadges.models import (
    BitBadgesClaim,
)

ADDRESS_ERROR = "Could not convert. Please make sure inputted address is well-formed"
NO_DOC = "No doc found"
BAD_CLAIM_ID = "Invalid claimId format"
BAD_ATTEMPT_ID = "Invalid claimAttemptId format"
VERSION_MISMATCH = "Claim has been updated since last fetch"
PRIVATE_PARAMS_REFUSED = "You must be authenticated to fetch private params"
STORE_NOT_FOUND = "Dynamic data doc not found"
BAD_SECRET = "Invalid data secret"
INVALID_PAYLOAD = "Invalid request payload. "
# unconfirmed: no source gives the attempts route's refusals (sandbox-notes.md).
ATTEMPT_ERRORS_REFUSED = (
    "You must be the manager of this claim, signed in with the Read Private Claim Data "
    "scope, to fetch failed attempts"
)
ATTEMPTS_HIDDEN = (
    "This claim hides its current state (hideCurrentState): only its manager can view its attempts"
)
BAD_BOOKMARK = "Invalid bookmark"
SIMULATED_ATTEMPT_ID = "0" * 64
PENDING_SHAPES = ("no-doc", "false-empty", "missing")
ATTEMPTS_PAGE_SIZE = 25

HEX_RE = re.compile(r"^[0-9a-fA-F]+$")
MAX_CLAIM_ID_LENGTH = 64  # what the sandbox stores; a longer hex id is simply not found

# Plugin ids and display names (the wrapped error names the plugin), as IDX-2024 named
# them (src/integrations/*.ts `name:`).
PLUGIN_NAMES = {
    "numUses": "One Time Use",
    "initiatedBy": "Requires Proof of Address",
    "halt": "Halt Status",
    "transferTimes": "Transfer Times",
    "whitelist": "Whitelist",
    "password": "Password",
    "custom-instructions": "Custom Instructions",  # unconfirmed: not an IDX-2024 plugin
}

# Texts that differ between the 2026 docs and the 2024 indexer (SANDBOX_BITBADGES_WORDING).
WORDINGS = ("docs", "idx-2024")
TEXTS = {
    # DOCS@1951c5c api/claims/plugins.md vs IDX-2024 src/integrations/whitelist.ts:43
    "not_listed": {
        "docs": "User not in whitelist",
        "idx-2024": "User not in list of whitelisted users.",
    },
    # DOCS 2026 plugins.md vs IDX-2024 src/integrations/transferTimes.ts:22
    "outside_window": {
        "docs": "We are currently outside the approved time window.",
        "idx-2024": "Invalid transfer time",
    },
    # DOCS api/README.md vs IDX-2024 src/indexer.ts:135-167 (the trailing comma is theirs)
    "rate_limited": {
        "docs": "Exceeded rate limit. Too many requests.",
        "idx-2024": "Exceeded rate limit. Too many requests,",
    },
}
# The initiatedBy refusal without a session: the plugin's error under "docs" (DOCS@1951c5c
# plugins.md, IDX-2024 src/integrations/signature.ts:17), the route-level check under
# "idx-2024" (IDX-2024 src/routes/claims.ts:468-475, which runs before the plugins).
SIGN_IN_PLUGIN_ERROR = "Must be authenticated to claim"
SIGN_IN_ROUTE_ERROR = "Authentication required with the Complete Claims scope"
# The rate limit per minute: 10,000 per account in the docs (api/README.md); the 2024
# indexer's apiKeyTierLimiter allowed 1000 (src/indexer.ts:149-152).
RATE_LIMITS = {"docs": 10_000, "idx-2024": 1000}

# docs api/README.md "Out of credits (402)" (DOCS@1951c5c, @96b0639; OLD-DOCS credits.md).
NO_CREDITS_ERROR = "Insufficient credits"
NO_CREDITS_MESSAGE = "Insufficient API credits. Top up at /developer?tab=apiKeys."
TOP_UP_URL = "/developer?tab=apiKeys"
CREDIT_DECIMALS = 6


class BitBadgesError(Exception):
    """A refusal, answered as {"errorMessage": message} with `status` (or `body` when set)."""

    def __init__(self, status: int, message: str, body: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body

    def as_body(self) -> dict:
        return self.body if self.body is not None else {"errorMessage": self.message}


class Refusal(Exception):
    """A claim check that fails; str() is the errorMessage BitBadges sends."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


class RouteRefusal(Refusal):
    """A check of the route itself (not a plugin): its text is sent unwrapped."""


class PluginFailure(Refusal):
    """A plugin that fails: wrapped as IDX-2024 src/routes/claims.ts:683-685 does."""

    def __init__(self, plugin_id: str, message: str):
        super().__init__(message)
        self.plugin_id = plugin_id

    def __str__(self):
        return (
            f"One or more of the challenges were not satisfied "
            f"({PLUGIN_NAMES[self.plugin_id]}) : {self.message}"
        )


# --- Settings ------------------------------------------------------------------------


def attempt_delay() -> float:
    return float(getattr(settings, "SANDBOX_BITBADGES_ATTEMPT_DELAY", 1.0))


def store_lag() -> float:
    return float(getattr(settings, "SANDBOX_BITBADGES_STORE_LAG", 1.5))


def pending_shape() -> str:
    shape = getattr(settings, "SANDBOX_BITBADGES_PENDING_SHAPE", "false-empty")
    return shape if shape in PENDING_SHAPES else "false-empty"


def wording() -> str:
    """SANDBOX_BITBADGES_WORDING: "docs" (default) or "idx-2024"; read on every call."""
    value = getattr(settings, "SANDBOX_BITBADGES_WORDING", "docs")
    return value if value in WORDINGS else "docs"


def text(name: str) -> str:
    return TEXTS[name][wording()]


def rate_limit() -> int:
    return RATE_LIMITS[wording()]


def success_route_enabled() -> bool:
    """SANDBOX_BITBADGES_SUCCESS_ROUTE: serve the removed success route (default off)."""
    return bool(getattr(settings, "SANDBOX_BITBADGES_SUCCESS_ROUTE", False))


# --- Addresses and ids ---------------------------------------------------------------


def bb_address(value, status: int = 500) -> str:
    """The bb1 form of a 0x or bb1 address; BitBadgesError (500 by default: the SDK's
    converter throws inside the route's try, IDX-2024 claims.ts catch) for anything else."""
    try:
        return to_bitbadges_address(value)
    except (ValidationError, TypeError, ValueError):
        raise BitBadgesError(status, ADDRESS_ERROR) from None


def check_claim_id(claim_id: str) -> None:
    """IDX-2024 validator.isHexadecimal(claimId) (claims.ts:796, :918): 500 when not hex."""
    if not isinstance(claim_id, str) or not HEX_RE.match(claim_id):
        raise BitBadgesError(500, BAD_CLAIM_ID)


def claim_get(claim_id: str) -> BitBadgesClaim:
    """The claim, or BitBadgesError 500: "Invalid claimId format" / "No doc found"
    (IDX-2024 claims.ts:443; for GET /api/v0/claim/{id} unconfirmed: no source)."""
    check_claim_id(claim_id)
    claim = None
    if len(claim_id) <= MAX_CLAIM_ID_LENGTH:
        claim = BitBadgesClaim.objects.filter(claim_id=claim_id).first()
    if claim is None:
        raise BitBadgesError(500, NO_DOC)
    return claim


# --- Payloads ------------------------------------------------------------------------

_ABSENT = object()


def _typia(path: str, expected: str, value=_ABSENT) -> dict:
    """One typia IValidation error; JSON.stringify drops an undefined value."""
    error = {"path": path, "expected": expected}
    if value is not _ABSENT:
        error["value"] = value
    return error


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_claim_payload(body, kind: str = "complete") -> dict:
    """The complete/simulate body as bitbadgesjs-sdk 0.27.2's typia checks it
    (dist/esm/api-indexer/BitBadgesApi.js completeClaim/simulateClaim): an object with a
    number `_expectedVersion` and, if present, a string array `_specificInstanceIds`.
    BitBadgesError 400 "Invalid request payload. [errors]" (IDX-2024 search.ts:244-248)."""
    root = "iCompleteClaimPayload" if kind == "complete" else "iSimulateClaimPayload"
    errors = []
    if body is None or not isinstance(body, (dict, list)):
        errors.append(_typia("$input", root, body))
    else:
        fields = body if isinstance(body, dict) else {}
        version = fields.get("_expectedVersion", _ABSENT)
        if not _is_number(version):
            errors.append(_typia("$input._expectedVersion", "number", version))
        if "_specificInstanceIds" in fields:
            only = fields["_specificInstanceIds"]
            if not isinstance(only, list):
                errors.append(
                    _typia("$input._specificInstanceIds", "(Array<string> | undefined)", only)
                )
            else:
                errors.extend(
                    _typia(f"$input._specificInstanceIds[{index}]", "string", item)
                    for index, item in enumerate(only)
                    if not isinstance(item, str)
                )
    if errors:
        raise BitBadgesError(400, INVALID_PAYLOAD + _js_json(errors))
    return body


def _js_json(value) -> str:
    """JSON.stringify's compact form."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

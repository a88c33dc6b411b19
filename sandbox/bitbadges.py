"""The emulated BitBadges claims service: claims, their plugins, attempts, dynamic stores.

The HTTP layer is sandbox/bitbadges_api.py; this module is what it (and tests, and the
demo Pipedream workflow) call directly. docs/fidelity.md names the source of each behaviour.

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

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from core.addresses import to_bitbadges_address
from sandbox.models import (
    BitBadgesAttempt,
    BitBadgesClaim,
    BitBadgesCredits,
    BitBadgesStore,
    BitBadgesStoreAction,
    BitBadgesStoreEntry,
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


# --- Lazy work: due attempts and due store actions -----------------------------------


def tick() -> None:
    """What a request does first: land due store actions, then resolve due attempts."""
    store_actions_apply_due()
    attempts_resolve_due()


def store_actions_apply_due() -> int:
    """Apply the store actions whose time has come, in order; the number applied."""
    applied = 0
    now = timezone.now()
    due = BitBadgesStoreAction.objects.filter(applied_at__isnull=True, effective_at__lte=now)
    for pk in due.order_by("effective_at", "pk").values_list("pk", flat=True):
        with transaction.atomic():
            action = (
                BitBadgesStoreAction.objects.select_for_update()
                .filter(pk=pk, applied_at__isnull=True)
                .first()
            )
            if action is None:  # applied by a concurrent request
                continue
            if action.action == BitBadgesStoreAction.Name.ADD:
                try:
                    with transaction.atomic():
                        BitBadgesStoreEntry.objects.get_or_create(
                            store_id=action.store_id, address=action.address
                        )
                except IntegrityError:
                    pass  # added concurrently: the address is in, which is the point
            else:
                BitBadgesStoreEntry.objects.filter(
                    store_id=action.store_id, address=action.address
                ).delete()
            action.applied_at = timezone.now()
            action.save(update_fields=["applied_at"])
            applied += 1
    return applied


def attempts_resolve_due() -> int:
    """Resolve the queued attempts that are due (plugins checked again); the number resolved."""
    store_actions_apply_due()
    resolved = 0
    due = BitBadgesAttempt.objects.filter(
        status=BitBadgesAttempt.Status.PENDING, due_at__lte=timezone.now()
    )
    for pk, claim_pk in due.order_by("due_at", "pk").values_list("pk", "claim_id"):
        with transaction.atomic():
            # The claim row first: attempts on one claim resolve one at a time.
            claim = BitBadgesClaim.objects.select_for_update().filter(pk=claim_pk).first()
            attempt = (
                BitBadgesAttempt.objects.select_for_update()
                .filter(pk=pk, status=BitBadgesAttempt.Status.PENDING)
                .first()
            )
            if claim is None or attempt is None:
                continue
            try:
                check_claim(claim, attempt.address, attempt.body)
            except Refusal as failure:
                # IDX-2024 src/queue.ts:824-863 stores e.toString(): "Error: " + message.
                attempt.status = BitBadgesAttempt.Status.FAILED
                attempt.error = f"Error: {failure}"
            else:
                attempt.status = BitBadgesAttempt.Status.SUCCESS
                attempt.claim_number = claim.num_uses
                claim.num_uses += 1
                claim.save(update_fields=["num_uses"])
            attempt.resolved_at = timezone.now()
            attempt.save(update_fields=["status", "error", "claim_number", "resolved_at"])
            resolved += 1
    return resolved


# --- Plugins -------------------------------------------------------------------------


def plugin_ids(claim: BitBadgesClaim) -> list[str]:
    """The claim's plugin instances, in the order they are checked."""
    ids = ["numUses"]
    if claim.requires_sign_in:
        ids.append("initiatedBy")
    if claim.halted:
        ids.append("halt")
    if claim.window_start or claim.window_end:
        ids.append("transferTimes")
    if claim.whitelist is not None or claim.store_id:
        ids.append("whitelist")
    if claim.password:
        ids.append(claim.password_instance_id)
    if claim.instructions:
        ids.append("custom-instructions")
    return ids


def plugin_id_of(claim: BitBadgesClaim, instance_id: str) -> str:
    if claim.password and instance_id == claim.password_instance_id:
        return "password"
    return instance_id


def successes(claim: BitBadgesClaim, address: str | None = None):
    attempts = claim.attempts.filter(status=BitBadgesAttempt.Status.SUCCESS)
    return attempts.filter(address=address) if address else attempts


def _store_has(claim: BitBadgesClaim, address: str) -> bool:
    store = BitBadgesStore.objects.filter(dynamic_data_id=claim.store_id).first()
    if store is None:
        raise PluginFailure("whitelist", STORE_NOT_FOUND)
    if not secrets.compare_digest(store.data_secret.encode(), claim.store_secret.encode()):
        raise PluginFailure("whitelist", BAD_SECRET)
    return store.entries.filter(address=address).exists()


# Plugins checked whatever `_specificInstanceIds` names: numUses (a use is a use), and
# initiatedBy (the sandbox never has a session; IDX-2024's route-level check ignores it).
ALWAYS_CHECKED = ("numUses", "initiatedBy")


def check_claim(
    claim: BitBadgesClaim, address: str, body: dict, only: list[str] | None = None
) -> None:
    """Raise a Refusal unless the claim may be completed now by `address` with `body`.

    The route-level sign-in check first (under "idx-2024"), then every plugin (or those
    in `only`, plus numUses and initiatedBy), in order.
    """
    if claim.requires_sign_in and wording() == "idx-2024":
        raise RouteRefusal(SIGN_IN_ROUTE_ERROR)
    check_plugins(claim, address, body, only)


def check_plugins(
    claim: BitBadgesClaim, address: str, body: dict, only: list[str] | None = None
) -> None:
    """Raise PluginFailure unless every plugin (or those in `only`, plus numUses and
    initiatedBy) passes."""
    now = timezone.now()
    for instance_id in plugin_ids(claim):
        if only is not None and instance_id not in ALWAYS_CHECKED and instance_id not in only:
            continue
        plugin = plugin_id_of(claim, instance_id)
        if plugin == "numUses":
            if claim.num_uses >= claim.max_uses:
                raise PluginFailure(plugin, "Overall max uses exceeded")
        elif plugin == "initiatedBy":
            # API keys only, never a signed-in session: always refused.
            raise PluginFailure(plugin, SIGN_IN_PLUGIN_ERROR)
        elif plugin == "halt":
            raise PluginFailure(plugin, "Claim halted")
        elif plugin == "transferTimes":
            if (claim.window_start and now < claim.window_start) or (
                claim.window_end and now > claim.window_end
            ):
                raise PluginFailure(plugin, text("outside_window"))
        elif plugin == "whitelist":
            listed = (
                _store_has(claim, address) if claim.store_id else address in (claim.whitelist or [])
            )
            if not listed:
                raise PluginFailure(plugin, text("not_listed"))
            limit = claim.max_uses_per_address
            if limit is not None and successes(claim, address).count() >= limit:
                raise PluginFailure(plugin, "User already exceeded max uses")
        elif plugin == "password":
            given = body.get(instance_id) if isinstance(body, dict) else None
            password = given.get("password") if isinstance(given, dict) else None
            if not isinstance(password, str) or not secrets.compare_digest(
                password.encode(), claim.password.encode()
            ):
                raise PluginFailure(plugin, "Incorrect password")
        # custom-instructions: always passes.


# --- Complete, simulate, status ------------------------------------------------------


def _check_version(claim: BitBadgesClaim, payload: dict) -> None:
    """IDX-2024 claims.ts:447: -1 skips the check; any other number must be the version."""
    value = payload["_expectedVersion"]
    if value != -1 and value != claim.version:
        raise BitBadgesError(500, VERSION_MISMATCH)


def _storable(value):
    """Plugin inputs as the sandbox can keep them: PostgreSQL's JSON refuses NUL, which no
    stored password or code can hold either, so it is replaced (it still matches nothing)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def _plugin_inputs(body: dict) -> dict:
    return {key: value for key, value in body.items() if not key.startswith("_")}


def simulate(claim_id: str, address: str, body) -> str:
    """Check a completion without queuing it: the placeholder attempt id, or BitBadgesError."""
    tick()
    payload = validate_claim_payload(body, "simulate")
    claim = claim_get(claim_id)
    bb = bb_address(address)
    _check_version(claim, payload)
    try:
        check_claim(claim, bb, payload, payload.get("_specificInstanceIds"))
    except Refusal as refusal:
        raise BitBadgesError(500, str(refusal)) from None
    return SIMULATED_ATTEMPT_ID


def complete(claim_id: str, address: str, body) -> BitBadgesAttempt:
    """Simulate, then queue an attempt (returned); BitBadgesError when the simulation fails.

    Every call that reaches a claim (a valid payload, a known claim, a well-formed
    address) is recorded (complete_calls counts them), refused ones with the status
    "rejected".
    """
    tick()
    payload = validate_claim_payload(body, "complete")
    claim = claim_get(claim_id)
    bb = bb_address(address)
    now = timezone.now()
    attempt = BitBadgesAttempt(
        attempt_id=secrets.token_hex(32),
        claim=claim,
        address=bb,
        body=_storable(_plugin_inputs(payload)),
        created_at=now,
        due_at=now + timedelta(seconds=attempt_delay()),
        status=BitBadgesAttempt.Status.PENDING,
    )
    try:
        _check_version(claim, payload)
        check_claim(claim, bb, payload, payload.get("_specificInstanceIds"))
    except (BitBadgesError, Refusal) as exc:
        error = exc if isinstance(exc, BitBadgesError) else BitBadgesError(500, str(exc))
        attempt.status = BitBadgesAttempt.Status.REJECTED
        attempt.error = error.message
        attempt.body = {}  # nothing to check again later; kept for complete_calls only
        attempt.resolved_at = now
        attempt.save()
        raise error from None
    attempt.save()
    return attempt


def attempt_status(attempt_id: str) -> tuple[int, dict]:
    """(status code, body) for GET/POST claims/status/{attempt_id}.

    A non-hex id: 500 "Invalid claimAttemptId format" (IDX-2024 claims.ts:872); an
    unknown one: 500 "No doc found" (claims.ts:884).
    """
    if not isinstance(attempt_id, str) or not HEX_RE.match(attempt_id):
        return 500, {"errorMessage": BAD_ATTEMPT_ID}
    if attempt_id == SIMULATED_ATTEMPT_ID:
        return 200, {"success": True, "error": "", "bitbadgesAddress": ""}
    attempt = (
        BitBadgesAttempt.objects.exclude(status=BitBadgesAttempt.Status.REJECTED)
        .filter(attempt_id=attempt_id)
        .first()
    )
    if attempt is None:
        return 500, {"errorMessage": NO_DOC}
    if attempt.status == BitBadgesAttempt.Status.PENDING:
        shape = pending_shape()
        if shape == "no-doc":
            return 500, {"errorMessage": NO_DOC}
        if shape == "missing":
            return 200, {"bitbadgesAddress": attempt.address}
        return 200, {"success": False, "error": "", "bitbadgesAddress": attempt.address}
    return 200, {
        "success": attempt.status == BitBadgesAttempt.Status.SUCCESS,
        "error": attempt.error,
        "bitbadgesAddress": attempt.address,
    }


def success_check(claim_id: str, address: str) -> dict:
    """The removed GET claims/success route (served only with SANDBOX_BITBADGES_SUCCESS_ROUTE)."""
    claim = claim_get(claim_id)
    bb = bb_address(address)
    numbers = list(
        successes(claim, bb).order_by("claim_number").values_list("claim_number", flat=True)
    )
    return {"successCount": len(numbers), "claimNumbers": numbers}


# --- Claim attempts (GET /api/v0/claims/{claimId}/attempts) --------------------------


def _bookmark(skip: int) -> str:
    """The docs' bookmark: base64url of {"skip":n}, unpadded (DOCS@4723311 endpoints.md
    sample "eyJza2lwIjoyNX0")."""
    raw = _js_json({"skip": skip}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MAX_SKIP = 10**12


def _bookmark_skip(bookmark) -> int:
    """The offset a bookmark stands for; an empty one is the first page. Anything the
    sandbox did not hand out: 500 "Invalid bookmark" (unconfirmed)."""
    if not bookmark:
        return 0
    try:
        if not isinstance(bookmark, str) or len(bookmark) > 200:
            raise ValueError
        padded = bookmark + "=" * (-len(bookmark) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        skip = data["skip"]
        if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip <= MAX_SKIP:
            raise ValueError
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error, RecursionError):
        raise BitBadgesError(500, BAD_BOOKMARK) from None
    return skip


def claim_attempts(
    claim_id: str, *, address: str = "", include_errors: bool = False, bookmark: str = ""
) -> dict:
    """One page of a claim's successful attempts, newest first: {docs, bookmark, total}.

    The answer as bitbadgesjs-sdk 0.27.2 types it (requests.ts:671-691); `total` counts
    every matching success. The sandbox has no sessions, so it is never the manager:
    failed attempts (`includeErrors`) are refused, as is every request for a claim whose
    numUses hides its current state (unconfirmed texts).
    """
    claim = claim_get(claim_id)
    if claim.hide_current_state:
        raise BitBadgesError(500, ATTEMPTS_HIDDEN)
    if include_errors:
        raise BitBadgesError(500, ATTEMPT_ERRORS_REFUSED)
    attempts = successes(claim)
    if address:
        attempts = attempts.filter(address=bb_address(address))
    skip = _bookmark_skip(bookmark)
    total = attempts.count()
    page = attempts.order_by("-created_at", "-pk")[skip : skip + ATTEMPTS_PAGE_SIZE]
    docs = [
        {
            "success": True,
            "attemptedAt": int(attempt.created_at.timestamp() * 1000),
            "claimId": claim.claim_id,
            "bitbadgesAddress": attempt.address,
            "claimAttemptId": attempt.attempt_id,
            "claimNumber": attempt.claim_number,
        }
        for attempt in page
    ]
    # As in the docs' sample, the next bookmark is there even past the last page.
    return {"docs": docs, "bookmark": _bookmark(skip + ATTEMPTS_PAGE_SIZE), "total": total}


# --- Credits -------------------------------------------------------------------------


def _credits_row() -> BitBadgesCredits:
    pk = BitBadgesCredits.SINGLETON_PK
    row = BitBadgesCredits.objects.filter(pk=pk).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return BitBadgesCredits.objects.create(pk=pk)
    except IntegrityError:  # made by a concurrent request
        return BitBadgesCredits.objects.get(pk=pk)


def _debit_one() -> bool:
    return bool(
        BitBadgesCredits.objects.filter(
            pk=BitBadgesCredits.SINGLETON_PK, used__lt=F("on_chain_total")
        ).update(used=F("used") + 1)
    )


def no_credits_body(on_chain_total: int, used: int) -> dict:
    """The docs' 402 body, numbers as JSON numbers."""
    return {
        "error": NO_CREDITS_ERROR,
        "errorMessage": NO_CREDITS_MESSAGE,
        "topUpUrl": TOP_UP_URL,
        "onChainTotal": on_chain_total,
        "used": used,
        "remaining": 0,
        "decimals": CREDIT_DECIMALS,
    }


def credits_debit() -> None:
    """Spend one credit of the API key's account, or BitBadgesError 402 when none is left.

    One conditional UPDATE (used < on_chain_total): two requests racing for the last
    credit cannot both win.
    """
    if _debit_one():
        return
    _credits_row()  # the first request ever: make the row, then try again
    if _debit_one():
        return
    row = _credits_row()
    raise BitBadgesError(
        402, NO_CREDITS_MESSAGE, body=no_credits_body(row.on_chain_total, row.used)
    )


def credits_exhausted_body() -> dict:
    """The 402 body of an injected fault: the account's on-chain total, all of it used
    (unconfirmed: an injected 402 has no real figures; these are consistent with it)."""
    row = _credits_row()
    return no_credits_body(row.on_chain_total, row.on_chain_total)


def credits() -> BitBadgesCredits:
    """The account's credits (on_chain_total, used, remaining)."""
    return _credits_row()


def credits_remaining() -> int:
    return _credits_row().remaining


def credits_set(remaining: int) -> BitBadgesCredits:
    """Set the balance: `used` moves so that `remaining` are left (the total grows if it
    has to). credits_set(0) makes every request answer 402."""
    if isinstance(remaining, bool) or not isinstance(remaining, int) or remaining < 0:
        raise ValueError(f"remaining must be a whole number >= 0, not {remaining!r}")
    with transaction.atomic():
        row = _credits_row()
        row = BitBadgesCredits.objects.select_for_update().get(pk=row.pk)
        if remaining > row.on_chain_total:
            row.on_chain_total, row.used = remaining, 0
        else:
            row.used = row.on_chain_total - remaining
        row.save()
    return row


def credits_top_up(amount: int) -> BitBadgesCredits:
    """Add `amount` credits on chain (the docs: the balance confirms on-chain)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"amount must be a whole number >= 0, not {amount!r}")
    _credits_row()
    BitBadgesCredits.objects.filter(pk=BitBadgesCredits.SINGLETON_PK).update(
        on_chain_total=F("on_chain_total") + amount
    )
    return _credits_row()


# --- Claim documents -----------------------------------------------------------------


def _ms(value) -> str:
    return str(int(value.timestamp() * 1000))


def _plugin(instance_id, plugin_id, public_params, private_params, public_state, private):
    return {
        "instanceId": instance_id,
        "pluginId": plugin_id,
        "version": "0",
        "publicParams": public_params,
        "privateParams": private_params if private else {},
        "publicState": public_state,
    }


def claimed_users(claim: BitBadgesClaim) -> dict[str, list[int]]:
    users: dict[str, list[int]] = {}
    for address, number in (
        successes(claim).order_by("claim_number").values_list("address", "claim_number")
    ):
        users.setdefault(address, []).append(number)
    return users


def claim_json(claim: BitBadgesClaim, *, private: bool = False, claimed: bool = False) -> dict:
    """The claim as iClaimDetails: numbers as strings where BitBadges uses NumberType."""
    plugins = []
    for instance_id in plugin_ids(claim):
        plugin = plugin_id_of(claim, instance_id)
        if plugin == "numUses":
            state = {
                "numUses": claim.num_uses,
                "usedClaimNumbers": list(range(claim.num_uses)),
            }
            if claimed:
                state["claimedUsers"] = claimed_users(claim)
            public = {"maxUses": claim.max_uses}
            if claim.hide_current_state:
                # SDK-0.27.2 interfaces.ts:976 (numUses publicParams hideCurrentState).
                # unconfirmed: whether BitBadges then hides publicState; the sandbox shows it.
                public["hideCurrentState"] = True
            plugins.append(_plugin(instance_id, plugin, public, {}, state, private))
        elif plugin == "initiatedBy":
            # No params (IDX-2024 src/testutil/plugins.ts:146-154; DOCS@4723311 example).
            plugins.append(_plugin(instance_id, plugin, {}, {}, {}, private))
        elif plugin == "halt":
            plugins.append(_plugin(instance_id, plugin, {}, {}, {}, private))
        elif plugin == "transferTimes":
            start = _ms(claim.window_start) if claim.window_start else "1"
            end = _ms(claim.window_end) if claim.window_end else "18446744073709551615"
            plugins.append(
                _plugin(
                    instance_id,
                    plugin,
                    {"transferTimes": [{"start": start, "end": end}]},
                    {},
                    {},
                    private,
                )
            )
        elif plugin == "whitelist":
            public = {}
            if claim.max_uses_per_address is not None:
                public["maxUsesPerAddress"] = claim.max_uses_per_address
            if claim.store_id:
                secret_params = {
                    "useDynamicStore": True,
                    "dynamicDataId": claim.store_id,
                    "dataSecret": claim.store_secret,
                }
            else:
                secret_params = {"list": {"addresses": list(claim.whitelist or [])}}
            plugins.append(_plugin(instance_id, plugin, public, secret_params, {}, private))
        elif plugin == "password":
            plugins.append(
                _plugin(instance_id, plugin, {}, {"password": claim.password}, {}, private)
            )
        elif plugin == "custom-instructions":
            plugins.append(
                _plugin(instance_id, plugin, {"instructions": claim.instructions}, {}, {}, private)
            )
    return {
        "_includesPrivateParams": private,
        "claimId": claim.claim_id,
        "standaloneClaim": True,
        "approach": "api",
        "plugins": plugins,
        "version": str(claim.version),
        "lastUpdated": _ms(claim.updated_at),
        "metadata": {"name": claim.label or claim.claim_id, "description": "", "image": ""},
    }


# --- Dynamic stores ------------------------------------------------------------------


def _store(dynamic_data_id, data_secret) -> BitBadgesStore:
    """The store, checked against its secret. unconfirmed: no source gives the store
    routes' status for an unknown store or a wrong secret; the OpenAPI lists 200/400/500
    only, so 500 with the documented claim-time texts (DOCS@1951c5c plugins.md)."""
    if not isinstance(dynamic_data_id, str) or not dynamic_data_id:
        raise BitBadgesError(400, "dynamicDataId is required.")
    store = None
    if len(dynamic_data_id) <= 100 and "\x00" not in dynamic_data_id:
        store = BitBadgesStore.objects.filter(dynamic_data_id=dynamic_data_id).first()
    if store is None:
        raise BitBadgesError(500, STORE_NOT_FOUND)
    if not isinstance(data_secret, str) or not secrets.compare_digest(
        data_secret.encode(), store.data_secret.encode()
    ):
        raise BitBadgesError(500, BAD_SECRET)
    return store


@dataclass
class StoreAction:
    name: str
    address: str


def parse_store_action(action_name, payload) -> StoreAction:
    if action_name not in BitBadgesStoreAction.Name.values:
        raise BitBadgesError(400, f"Invalid actionName {action_name!r}: use add or remove.")
    if not isinstance(payload, dict) or "address" not in payload:
        raise BitBadgesError(
            400, "payload.address is required: stores hold addresses only (0x or bb1)."
        )
    # unconfirmed: a malformed address in a store action's payload stays a 400 (the
    # OpenAPI's "Invalid configuration or request"); no source gives it.
    return StoreAction(action_name, bb_address(payload["address"], status=400))


def store_actions_record(
    dynamic_data_id, data_secret, actions: list[StoreAction], *, simulate: bool = False
) -> None:
    """Queue validated actions on a store; they land after the store lag."""
    store = _store(dynamic_data_id, data_secret)
    if simulate:
        return
    now = timezone.now()
    effective = now + timedelta(seconds=store_lag())
    BitBadgesStoreAction.objects.bulk_create(
        BitBadgesStoreAction(
            store=store,
            action=a.name,
            address=bb_address(a.address, status=400),
            created_at=now,
            effective_at=effective,
        )
        for a in actions
    )


def store_value(dynamic_data_id, data_secret, key) -> dict:
    store = _store(dynamic_data_id, data_secret)
    if not isinstance(key, str) or not key:
        raise BitBadgesError(400, "key is required.")
    address = bb_address(key, status=400)  # unconfirmed, as for store actions
    return {"key": key, "inStore": store.entries.filter(address=address).exists()}


# --- Helpers for tests and demos (no HTTP) -------------------------------------------


def claim_create(
    *,
    claim_id=None,
    label="",
    max_uses=100,
    password=None,
    password_instance_id="pwd",  # noqa: S107 (an instance id, not a password)
    whitelist=None,
    store=None,
    max_uses_per_address=None,
    halted=False,
    window=None,
    version=0,
    instructions="",
    requires_sign_in=False,
    hide_current_state=False,
) -> BitBadgesClaim:
    """Create a claim. `store` is a BitBadgesStore or its dynamicDataId; `window` is
    (start, end) datetimes, either may be None; `requires_sign_in` adds the initiatedBy
    plugin; `hide_current_state` sets numUses' hideCurrentState."""
    claim_id = claim_id or secrets.token_hex(16)
    check_claim_id(claim_id)
    if len(claim_id) > MAX_CLAIM_ID_LENGTH:
        raise BitBadgesError(500, BAD_CLAIM_ID)
    store_id = store_secret = ""
    if store is not None:
        if not isinstance(store, BitBadgesStore):
            store = BitBadgesStore.objects.get(dynamic_data_id=store)
        store_id, store_secret = store.dynamic_data_id, store.data_secret
    start, end = window if window else (None, None)
    return BitBadgesClaim.objects.create(
        claim_id=claim_id,
        label=label,
        max_uses=max_uses,
        password=password or "",
        password_instance_id=password_instance_id,
        whitelist=[bb_address(a) for a in whitelist] if whitelist is not None else None,
        store_id=store_id,
        store_secret=store_secret,
        max_uses_per_address=max_uses_per_address,
        halted=halted,
        window_start=start,
        window_end=end,
        version=version,
        instructions=instructions,
        requires_sign_in=requires_sign_in,
        hide_current_state=hide_current_state,
    )


def store_create(*, label="", store_id=None, secret=None) -> BitBadgesStore:
    return BitBadgesStore.objects.create(
        dynamic_data_id=store_id or secrets.token_hex(16),
        data_secret=secret or secrets.token_hex(24),
        label=label,
    )


def completions(claim_id: str, address: str | None = None) -> int:
    """Successful completions of a claim (by one address, in either form)."""
    attempts_resolve_due()
    claim = BitBadgesClaim.objects.get(claim_id=claim_id)
    return successes(claim, bb_address(address) if address else None).count()


def complete_calls(claim_id: str, address: str | None = None) -> int:
    """How many POST .../complete requests reached the claim, refused ones included."""
    attempts = BitBadgesAttempt.objects.filter(claim__claim_id=claim_id)
    if address:
        attempts = attempts.filter(address=bb_address(address))
    return attempts.count()


def store_contains(store_id: str, address: str) -> bool:
    """Whether the address is in the store now (landed actions only)."""
    store_actions_apply_due()
    return BitBadgesStoreEntry.objects.filter(
        store__dynamic_data_id=store_id, address=bb_address(address)
    ).exists()


DEMO = {
    "github-starter": {
        "claim_id": "5a4dbb0000000000000000000000a001",
        "label": "GitHub starter (password-gated)",
        "password_instance_id": "pwd",
        "password": "sandbox-github-starter",
    },
    "store-members": {
        "claim_id": "5a4dbb0000000000000000000000a002",
        "label": "Store members (whitelist by dynamic store)",
        "store_id": "5a4dbb00000000000000000000000d01",
        "store_secret": "sandbox-members-store-secret",
    },
    "workflow-github": {
        "claim_id": "5a4dbb0000000000000000000000a003",
        "label": "GitHub via a Pipedream workflow",
        "password_instance_id": "pwd",
        "password": "sandbox-workflow-github",
        "workflow_url_path": "/sandbox/pipedream/workflows/en-sandbox-claim-github/",
    },
}
DEMO_MAX_USES = 1_000_000


def _create_once(claim_id: str, **kwargs) -> None:
    """Create a claim unless it exists; a concurrent creator winning is fine."""
    if BitBadgesClaim.objects.filter(claim_id=claim_id).exists():
        return
    try:
        with transaction.atomic():
            claim_create(claim_id=claim_id, **kwargs)
    except IntegrityError:
        pass


def demo_claims_ensure() -> dict:
    """Create the three demo claims if absent (fixed ids); their parameters.

    Idempotent, and safe to call from concurrent requests. An existing demo claim is
    left as it is (its uses included).
    """
    for key in ("github-starter", "workflow-github"):
        demo = DEMO[key]
        _create_once(
            demo["claim_id"],
            label=demo["label"],
            max_uses=DEMO_MAX_USES,
            password=demo["password"],
            password_instance_id=demo["password_instance_id"],
        )
    members = DEMO["store-members"]
    try:
        with transaction.atomic():
            store, _ = BitBadgesStore.objects.get_or_create(
                dynamic_data_id=members["store_id"],
                defaults={"data_secret": members["store_secret"], "label": "Sandbox members"},
            )
    except IntegrityError:
        store = BitBadgesStore.objects.get(dynamic_data_id=members["store_id"])
    _create_once(
        members["claim_id"],
        label=members["label"],
        max_uses=DEMO_MAX_USES,
        store=store,
        max_uses_per_address=1,
    )
    return {
        key: {name: value for name, value in demo.items() if name != "label"}
        for key, demo in DEMO.items()
    }


# The claim behind the product's event-driven demo claim: a member who stars
# catalogue.DEMO_STARRED_REPO on GitHub gets it.
DEMO_STAR = {
    "claim_id": "5a4dbb0000000000000000000000a004",
    "label": "Stargazers (password-gated)",
    "password_instance_id": "pwd",
    "password": "sandbox-star",
}


def demo_star_claim_ensure() -> dict:
    """Create the stargazers' demo claim if absent (a fixed id); its parameters.

    Idempotent like demo_claims_ensure(); an existing claim is left as it is.
    """
    _create_once(
        DEMO_STAR["claim_id"],
        label=DEMO_STAR["label"],
        max_uses=DEMO_MAX_USES,
        password=DEMO_STAR["password"],
        password_instance_id=DEMO_STAR["password_instance_id"],
    )
    return {name: value for name, value in DEMO_STAR.items() if name != "label"}


def overview() -> dict:
    """What the control page shows: claims with their uses, and stores with entries."""
    tick()
    claims = []
    for claim in BitBadgesClaim.objects.annotate(
        pending=Count("attempts", filter=Q(attempts__status=BitBadgesAttempt.Status.PENDING))
    ):
        per_address = {}
        for address, count in (
            successes(claim).values_list("address").annotate(n=Count("pk")).order_by("address")
        ):
            per_address[address] = count
        claims.append(
            {
                "claim": claim,
                "plugins": [plugin_id_of(claim, i) for i in plugin_ids(claim)],
                "per_address": per_address,
                "pending": claim.pending,
            }
        )
    stores = []
    for store in BitBadgesStore.objects.prefetch_related("entries"):
        stores.append(
            {
                "store": store,
                "entries": list(store.entries.all()),
                "queued": store.actions.filter(applied_at__isnull=True).count(),
            }
        )
    row = credits()
    return {
        "claims": claims,
        "stores": stores,
        "credits": {
            "on_chain_total": row.on_chain_total,
            "used": row.used,
            "remaining": row.remaining,
        },
        "wording": wording(),
        "success_route": success_route_enabled(),
    }

"""The emulated BitBadges' claim attempts: complete, simulate, status, the attempts
list, and the lazy resolution of queued attempts (`tick`, before every request)."""

import base64
import binascii
import json
import secrets
from datetime import timedelta

from django.db import connections, transaction
from django.utils import timezone

from core import database
from sandbox.bitbadges.base import (
    ATTEMPT_ERRORS_REFUSED,
    ATTEMPTS_HIDDEN,
    ATTEMPTS_PAGE_SIZE,
    BAD_ATTEMPT_ID,
    BAD_BOOKMARK,
    HEX_RE,
    NO_DOC,
    SIMULATED_ATTEMPT_ID,
    VERSION_MISMATCH,
    BitBadgesError,
    Refusal,
    _js_json,
    attempt_delay,
    bb_address,
    claim_get,
    pending_shape,
    validate_claim_payload,
)
from sandbox.bitbadges.claims import check_claim, successes
from sandbox.bitbadges.models import (
    BitBadgesAttempt,
    BitBadgesClaim,
    BitBadgesStoreAction,
)
from sandbox.bitbadges.stores import store_actions_apply_due

# --- Lazy work: due attempts and due store actions -----------------------------------


def tick() -> None:
    """What a request does first: land due store actions, then resolve due attempts
    (attempts_resolve_due does both, in that order). One look first finds whether either
    has anything due: most requests find nothing, and then that look is all they cost."""
    if _anything_due(timezone.now()):
        attempts_resolve_due()


def _anything_due(now) -> bool:
    """Whether a store action or an attempt is due: one statement, written out (compiled
    by the ORM it cost more CPU than the rest of the request's queries). "Due" is what
    store_actions_apply_due and attempts_resolve_due take: keep the three alike."""
    connection = connections[BitBadgesAttempt.objects.db]
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_due_statement(connection), [at, BitBadgesAttempt.Status.PENDING.value, at])
        return cursor.fetchone() is not None


@database.written
def _due_statement(connection) -> str:
    quote = connection.ops.quote_name

    def column(model, name: str) -> str:
        return database.column(connection, model, name)

    actions, attempts = (
        quote(BitBadgesStoreAction._meta.db_table),
        quote(BitBadgesAttempt._meta.db_table),
    )
    return (
        f"SELECT 1 FROM {actions} WHERE {column(BitBadgesStoreAction, 'applied_at')} "  # noqa: S608
        f"IS NULL AND {column(BitBadgesStoreAction, 'effective_at')} <= %s "
        f"UNION ALL SELECT 1 FROM {attempts} WHERE "
        f"{column(BitBadgesAttempt, 'status')} = %s AND {column(BitBadgesAttempt, 'due_at')} <= %s "
        "LIMIT 1"
    )


def attempts_resolve_due() -> int:
    """Resolve the queued attempts that are due (plugins checked again); the number resolved."""
    store_actions_apply_due()
    resolved = 0
    due = BitBadgesAttempt.objects.filter(  # due as _anything_due says it
        status=BitBadgesAttempt.Status.PENDING, due_at__lte=timezone.now()
    )
    for pk, claim_pk in due.order_by("due_at", "pk").values_list("pk", "claim_id"):
        resolved += _resolve(pk, claim_pk) is not None
    return resolved


def _resolve(pk: int, claim_pk: int) -> BitBadgesAttempt | None:
    """Resolve one pending attempt: the attempt as resolved, or None if another request
    has resolved it."""
    with transaction.atomic():
        # The claim row first: attempts on one claim resolve one at a time.
        claim = BitBadgesClaim.objects.select_for_update().filter(pk=claim_pk).first()
        attempt = (
            BitBadgesAttempt.objects.select_for_update()
            .filter(pk=pk, status=BitBadgesAttempt.Status.PENDING)
            .first()
        )
        if claim is None or attempt is None:
            return None
        _judge(claim, attempt)
        attempt.save(update_fields=["status", "error", "claim_number", "resolved_at"])
    return attempt


def _judge(claim: BitBadgesClaim, attempt: BitBadgesAttempt) -> None:
    """Settle `attempt` against `claim` as it is now (its row locked by the caller): the
    plugins checked again; a success takes the claim's next number (saved), a refusal
    keeps its error. The attempt itself is left for the caller to save."""
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
    if attempt.due_at > now:
        attempt.save()
        return attempt
    # Due at once (SANDBOX_BITBADGES_ATTEMPT_DELAY 0): judged as it is queued, in one
    # transaction under the claim's lock as a due attempt is, and never seen pending.
    # Its time is taken under the lock, so claim numbers follow the attempts' times.
    with transaction.atomic():
        locked = BitBadgesClaim.objects.select_for_update().get(pk=claim.pk)
        attempt.created_at = attempt.due_at = timezone.now()
        _judge(locked, attempt)
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

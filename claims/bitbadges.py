"""Client for the BitBadges API: the only module that speaks HTTP to BitBadges.

What it guarantees, so that callers need not:
- a timeout on every call, and retries with backoff only where a retry is safe:
  idempotent calls on timeouts, dropped connections and unrecognised 5xx; every call
  on 429 (nothing was processed); `complete` never once the request may have left;
- one error family (`BitBadgesError`) classified from BitBadges' own error text first
  and the status code second (IDX-2024 answered 500 for every claim failure), whose
  text a person can act on, and never the API key or a store's data secret in an
  error message or a log line;
- addresses checked before any request, path segments quoted so that an id cannot
  change the route, and the answers checked before they are believed.

Facts about the API: ../shared/docs/bitbadges-api.md.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError

from core import http as http_support
from core.addresses import to_bitbadges_address

logger = logging.getLogger("claims.bitbadges")

# A Retry-After longer than this is not slept through: the caller (a web request, a
# task) is better off failing now and trying later.
MAX_RETRY_AFTER = 30.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
# Status polling grows its interval by this factor, up to this many seconds.
POLL_GROWTH = 1.5
POLL_CAP = 10.0
MAX_ID_LENGTH = 256
USER_AGENT = "connect-and-claim (python-requests)"
# BitBadges' web app: links in its answers (the 402's topUpUrl) are relative to it.
DEFAULT_SITE_URL = "https://bitbadges.io"
# The placeholder attempt id a simulation answers (IDX-2024 claims.ts), used to probe.
SIMULATED_ATTEMPT_ID = "0" * 64

OP_COMPLETE = "complete claim"
OP_SIMULATE = "simulate claim"
OP_STATUS = "get claim attempt status"
OP_SUCCESS = "check claim successes"
OP_ATTEMPTS = "list claim attempts"
OP_GET_CLAIM = "get claim"
OP_STORE_ADD = "add to dynamic store"
OP_STORE_REMOVE = "remove from dynamic store"
OP_STORE_CONTAINS = "look up dynamic store"

# Keys whose values are secrets wherever they appear in a body kept on an error.
_SECRET_KEYS = frozenset({"dataSecret", "password", "code", "seedCode", "x-api-key", "apiKey"})
# Plugin input fields whose values are secrets to keep out of messages.
_SECRET_INPUTS = frozenset({"password", "code", "seedCode", "secret"})
_NO_DOC = re.compile(r"no doc found", re.IGNORECASE)
_CHECK_FIRST = "The request may have been acted on: check before trying again"


# --- Errors --------------------------------------------------------------------------


class BitBadgesError(Exception):
    """A call to BitBadges failed. `str(exc)` says while doing what, and what happened.

    `message` is BitBadges' own errorMessage when it gave one, else a sentence of ours;
    `transient` says whether the same call is worth trying again later.
    """

    transient = False
    # True when the request may have reached BitBadges and been acted on.
    outcome_unknown = False

    def __init__(
        self,
        message: str = "",
        *,
        operation: str = "",
        status: int | None = None,
        body: Any = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.operation = operation
        self.status = status
        self.body = body
        self.hint = hint
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        text = self.message.rstrip(". ") or "BitBadges answered with an error"
        if self.operation:
            text = f"{self.operation}: {text}"
        if self.status is not None:
            text += f" (HTTP {self.status})"
        if self.hint:
            text += f". {self.hint}"
        return text


class NotConfigured(BitBadgesError):
    """No API key or no API URL."""


class Unauthorized(BitBadgesError):
    """401: the API key is missing or refused."""


class PaymentRequired(BitBadgesError):
    """402: the API key's account is out of credits. Every request answers 402 until it
    is topped up (DOCS api/README.md), so the caller pauses rather than retries."""

    def __init__(self, message: str = "", *, top_up_url: str | None = None, **kwargs) -> None:
        self.top_up_url = top_up_url
        if top_up_url and "hint" not in kwargs:
            kwargs["hint"] = f"Top up at {top_up_url}"
        super().__init__(message, **kwargs)


class RateLimited(BitBadgesError):
    """429: too many requests; `retry_after` is BitBadges' wish in seconds, if given."""

    transient = True

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kwargs) -> None:
        self.retry_after = retry_after
        if retry_after is not None and "hint" not in kwargs:
            kwargs["hint"] = f"Try again in {retry_after:g} s"
        super().__init__(message, **kwargs)


class Unavailable(BitBadgesError):
    """BitBadges could not be reached or failed (timeouts, connection errors, 5xx).

    `outcome_unknown` is True when the request may have reached BitBadges and been
    acted on (a claim completed, a store changed): look before trying again.
    """

    transient = True

    def __init__(self, message: str = "", *, outcome_unknown: bool = False, **kwargs) -> None:
        self.outcome_unknown = outcome_unknown
        super().__init__(message, **kwargs)


class InvalidResponse(BitBadgesError):
    """BitBadges answered, but not with the JSON expected.

    `outcome_unknown` is True when the call was `complete` and BitBadges answered 2xx:
    the attempt may have been queued all the same.
    """

    transient = True

    def __init__(self, message: str = "", *, outcome_unknown: bool = False, **kwargs) -> None:
        self.outcome_unknown = outcome_unknown
        super().__init__(message, **kwargs)


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

    def __init__(self, message: str = "", *, attempt_id: str = "", **kwargs) -> None:
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
_STORE_REFUSALS = re.compile(r"invalid data secret|dynamic data doc not found", re.IGNORECASE)


def classify_claim_error(text: str) -> type[ClaimRejected] | None:
    """The ClaimRejected subclass for one of BitBadges' claim failure messages, if known."""
    for pattern, cls in _CLAIM_ERRORS:
        if pattern.search(text or ""):
            return cls
    return None


# --- Values --------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptStatus:
    """Where one claim attempt stands. `error` is BitBadges' text without "Error: "."""

    attempt_id: str
    pending: bool
    success: bool
    error: str
    address: str  # bitbadgesAddress, "" when absent


@dataclass(frozen=True)
class ClaimAttempt:
    """One attempt from the attempts route (`error` without "Error: ")."""

    attempt_id: str
    success: bool
    claim_number: int | None
    address: str  # bitbadgesAddress
    error: str


@dataclass(frozen=True)
class AttemptsPage:
    attempts: tuple[ClaimAttempt, ...]
    bookmark: str
    total: int | None


# Per API URL, the method the status route answers to: GET (OpenAPI, Python SDK) until
# a server refuses it, then POST (JS SDK, IDX-2024). Module-level, because a client is
# built per request.
_status_methods: dict[str, str] = {}


# --- Client --------------------------------------------------------------------------


class BitBadgesClient:
    def __init__(
        self,
        *,
        api_url: str,
        api_key: str,
        timeout: float = 10.0,
        max_retries: int = 3,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        site_url: str = DEFAULT_SITE_URL,
    ) -> None:
        if not api_url:
            raise NotConfigured("no BitBadges API URL was given", operation="configure")
        if not api_key:
            raise NotConfigured("no BitBadges API key was given", operation="configure")
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self._session = session or _shared_session()
        self._sleep = sleep
        self._clock = clock
        self.site_url = (site_url or DEFAULT_SITE_URL).rstrip("/")

    def __repr__(self) -> str:
        return f"<BitBadgesClient {self.api_url}>"

    @classmethod
    def from_settings(cls) -> BitBadgesClient:
        """Build a client from the BITBADGES_* settings, read now (not at import)."""
        missing = [
            name
            for name in ("BITBADGES_API_URL", "BITBADGES_API_KEY")
            if not getattr(settings, name, "")
        ]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise NotConfigured(
                f"{' and '.join(missing)} {verb} not set",
                operation="configure",
                hint="Set it in the environment or in .env",
            )
        return cls(
            api_url=settings.BITBADGES_API_URL,
            api_key=settings.BITBADGES_API_KEY,
            timeout=getattr(settings, "BITBADGES_TIMEOUT", 10.0),
            max_retries=getattr(settings, "BITBADGES_MAX_RETRIES", 3),
            site_url=getattr(settings, "BITBADGES_SITE_URL", DEFAULT_SITE_URL),
        )

    # --- Claims --------------------------------------------------------------------

    def simulate(
        self,
        claim_id: str,
        address: str,
        *,
        inputs: dict[str, dict] | None = None,
        expected_version: int = -1,
    ) -> str:
        """Dry-run a claim for `address`; returns the (placeholder) attempt id.

        Uses nothing up. A pass does not promise that `complete` will pass.
        """
        return self._attempt("simulate", OP_SIMULATE, claim_id, address, inputs, expected_version)

    def complete(
        self,
        claim_id: str,
        address: str,
        *,
        inputs: dict[str, dict] | None = None,
        expected_version: int = -1,
    ) -> str:
        """Queue a claim attempt for `address`; returns its id (poll it: 200 is not success).

        Never retried once the request may have reached BitBadges: a resent request can
        take another claim number. Such a failure is Unavailable(outcome_unknown=True).
        """
        return self._attempt("complete", OP_COMPLETE, claim_id, address, inputs, expected_version)

    def _attempt(
        self,
        action: str,
        operation: str,
        claim_id: str,
        address: str,
        inputs: dict[str, dict] | None,
        expected_version: int,
    ) -> str:
        address = _address(address, operation)
        path = (
            f"/api/v0/claims/{action}/{_segment(claim_id, 'claim id', operation)}/{quote(address)}"
        )
        if isinstance(expected_version, bool) or not isinstance(expected_version, int):
            raise TypeError(f"expected_version must be an int, not {expected_version!r}")
        inputs = dict(inputs or {})
        for instance_id, value in inputs.items():
            if not isinstance(instance_id, str) or not instance_id:
                raise TypeError(f"plugin instance ids must be non-empty text: {instance_id!r}")
            if instance_id == "_expectedVersion":
                raise ValueError("pass the version as expected_version, not in inputs")
            if not isinstance(value, dict):
                raise TypeError(f"the input for plugin {instance_id!r} must be a dict")
        # An unreadable answer to `complete` may still hide a queued attempt.
        mutating = action == "complete"
        body = self._request_json(
            "POST",
            path,
            operation=operation,
            idempotent=not mutating,
            mutating=mutating,
            json_body={"_expectedVersion": expected_version, **inputs},
            secrets=_input_secrets(inputs),
        )
        attempt_id = body.get("claimAttemptId") if isinstance(body, dict) else None
        if not isinstance(attempt_id, str) or not attempt_id.strip():
            raise _invalid(
                body,
                operation,
                "the field claimAttemptId is missing or empty",
                outcome_unknown=mutating,
            )
        return attempt_id.strip()

    def attempt_status(self, attempt_id: str) -> AttemptStatus:
        """One look at an attempt. A failed attempt is returned, not raised."""
        operation = OP_STATUS
        path = f"/api/v0/claims/status/{_segment(attempt_id, 'claim attempt id', operation)}"
        method = _status_methods.get(self.api_url, "GET")
        response = self._status_call(method, path)
        if method == "GET" and response.status_code in (404, 405) and not _is_pending(response):
            # This server does not route GET (IDX-2024 routed POST only).
            logger.info("BitBadges refused GET on the status route; using POST from now on")
            _status_methods[self.api_url] = "POST"
            response = self._status_call("POST", path)
        if _is_pending(response):
            return AttemptStatus(attempt_id, pending=True, success=False, error="", address="")
        if response.status_code >= 400:
            if response.status_code == 404:
                raise _logged(
                    BitBadgesError(
                        "BitBadges has no claim status route at"
                        f" {self.api_url}/api/v0/claims/status/",
                        operation=operation,
                        status=404,
                        hint="Check BITBADGES_API_URL",
                    )
                )
            raise _logged(self._error(response, operation, claim_route=True))
        body = _parse_json(response, operation, self._secrets())
        if not isinstance(body, dict):
            raise _invalid(body, operation, "expected a JSON object")
        success, error = body.get("success"), body.get("error")
        if success is not None and not isinstance(success, bool):
            raise _invalid(body, operation, f"success should be true or false, not {success!r}")
        if error is not None and not isinstance(error, str):
            error = str(error)
        error = _strip_error(error or "")
        address = body.get("bitbadgesAddress")
        address = address if isinstance(address, str) else ""
        # Pending is undocumented: IDX-2024 had no doc yet (above), the docs poll until
        # `success` appears, the agent docs loop while `!success && !error`.
        if success is None or (success is False and not error):
            return AttemptStatus(attempt_id, pending=True, success=False, error="", address=address)
        return AttemptStatus(attempt_id, False, success, "" if success else error, address)

    def _status_call(self, method: str, path: str) -> requests.Response:
        return self._call(
            method,
            path,
            operation=OP_STATUS,
            idempotent=True,
            json_body={} if method == "POST" else None,
            raise_for_status=False,
        )

    def wait_for_attempt(
        self, attempt_id: str, *, interval: float = 2.0, deadline: float = 30.0
    ) -> AttemptStatus:
        """Poll until the attempt resolves; return it on success, raise on failure.

        A failure raises the ClaimRejected subclass its text names; transient errors are
        tolerated until `deadline` seconds have passed, then AttemptTimeout.
        """
        started = self._clock()
        delay = max(0.0, float(interval))
        cap = max(delay, POLL_CAP)
        last_problem = ""
        while True:
            try:
                status = self.attempt_status(attempt_id)
            except BitBadgesError as exc:
                if not exc.transient:
                    raise
                last_problem = str(exc)
                wait = max(delay, getattr(exc, "retry_after", None) or 0.0)
            else:
                if not status.pending:
                    if status.success:
                        return status
                    cls = classify_claim_error(status.error) or ClaimRejected
                    raise cls(
                        status.error or "the claim attempt failed without a reason",
                        operation=OP_COMPLETE,
                    )
                last_problem = ""
                wait = delay
            remaining = deadline - (self._clock() - started)
            if remaining <= 0:
                detail = f" (last error: {last_problem})" if last_problem else ""
                raise _logged(
                    AttemptTimeout(
                        f"the claim attempt was still pending after {deadline:g} s{detail}",
                        operation=OP_STATUS,
                        attempt_id=attempt_id,
                        hint="It may still succeed: check its status again later",
                    )
                )
            self._sleep(min(wait, remaining))
            delay = min(cap, delay * POLL_GROWTH) if delay else min(cap, 0.5)

    def claim_attempts(
        self,
        claim_id: str,
        *,
        address: str | None = None,
        include_errors: bool = False,
        bookmark: str | None = None,
    ) -> AttemptsPage:
        """One page of a claim's attempts: GET /api/v0/claims/{id}/attempts.

        Without `include_errors` BitBadges lists the successful attempts (failed ones
        need the Read Private Claim Data scope). `address` is sent as bb1.
        """
        operation = OP_ATTEMPTS
        path = f"/api/v0/claims/{_segment(claim_id, 'claim id', operation)}/attempts"
        params: dict[str, str] = {}
        if address is not None:
            params["address"] = _address(address, operation)
        if include_errors:
            params["includeErrors"] = "true"
        if bookmark:
            params["bookmark"] = bookmark
        body = self._request_json(
            "GET", path, operation=operation, idempotent=True, params=params or None
        )
        return _attempts_page(body, operation)

    def success_count(self, claim_id: str, address: str) -> int:
        """How many times `address` has completed the claim (0 when never).

        Read from the successful attempts for the address (the route BitBadges' SDK now
        uses); where that route does not exist, from the older success route. Raises
        CannotVerify when neither can tell: a missing or refusing route is never "0".
        """
        address = _address(address, OP_SUCCESS)
        try:
            page = self.claim_attempts(claim_id, address=address)
        except ClaimRejected as exc:
            if exc.status == 404 and classify_claim_error(exc.message) is None:
                # No such route here (a 404 that names no claim): the older route.
                return self._legacy_success_count(claim_id, address)
            if isinstance(exc, ClaimNotFound):
                raise
            # Logged once already, where the call raised it.
            raise _cannot_verify(exc, "the attempts route refused") from exc
        except Unavailable as exc:
            if exc.status == 500 and _error_text(exc.body):
                # A 500 with a text is how BitBadges refuses (IDX-2024; a claim hiding its
                # state refuses anyone but its manager): it will not tell, it is not down.
                raise _cannot_verify(exc, "the attempts route refused") from exc
            raise
        return _successes_for(page, address)

    def _legacy_success_count(self, claim_id: str, address: str) -> int:
        operation = OP_SUCCESS
        path = (
            f"/api/v0/claims/success/{_segment(claim_id, 'claim id', operation)}/{quote(address)}"
        )
        response = self._call(
            "GET", path, operation=operation, idempotent=True, raise_for_status=False
        )
        if response.status_code == 404 and not _recognised(response):
            # BitBadges removed this route (docs/fidelity.md): 404 means "cannot say".
            raise _logged(
                CannotVerify(
                    "neither the claim attempts route nor the older success route is served"
                    f" at {self.api_url}",
                    operation=operation,
                    status=404,
                    hint="Check BITBADGES_API_URL; an admin can check the claim on BitBadges",
                )
            )
        if response.status_code >= 400:
            exc = self._error(response, operation, claim_route=True)
            if isinstance(exc, ClaimRejected) and not isinstance(exc, ClaimNotFound):
                raise _logged(_cannot_verify(exc, "the success route refused")) from None
            raise _logged(exc)
        body = _parse_json(response, operation, self._secrets())
        count = _number(body.get("successCount")) if isinstance(body, dict) else None
        if count is None:
            raise _invalid(body, operation, "successCount is missing or not a whole number")
        return count

    def probe(self) -> None:
        """One cheap request that needs the key and a credit: the status of the
        simulation placeholder. Returns when BitBadges accepted the key and answered
        about the id; raises Unauthorized, PaymentRequired, RateLimited, Unavailable, or
        BitBadgesError when nothing at this URL answers like BitBadges."""
        # A refusal about the id itself ("No doc found") still means the key and credits
        # were accepted.
        with contextlib.suppress(ClaimRejected):
            self.attempt_status(SIMULATED_ATTEMPT_ID)

    def get_claim(self, claim_id: str, *, private_params: bool = False) -> dict:
        """The claim's iClaimDetails (private params only for its creator or manager)."""
        operation = OP_GET_CLAIM
        path = f"/api/v0/claim/{_segment(claim_id, 'claim id', operation)}"
        body = self._request_json(
            "GET",
            path,
            operation=operation,
            idempotent=True,
            params={"fetchPrivateParams": "true"} if private_params else None,
        )
        if isinstance(body, dict) and "claim" in body and body["claim"] is None:
            raise _logged(ClaimNotFound("BitBadges has no claim with this id", operation=operation))
        claim = body.get("claim") if isinstance(body, dict) else None
        if not isinstance(claim, dict):
            raise _invalid(body, operation, "expected an object with a `claim` object")
        if not claim.get("claimId") or not isinstance(claim.get("plugins"), list):
            raise _invalid(body, operation, "the claim has no claimId or no list of plugins")
        return claim

    # --- Dynamic stores ------------------------------------------------------------

    def store_add(self, store_id: str, secret: str, address: str) -> None:
        """Add `address` to a dynamic store (queued by BitBadges: visible in 1-2 s)."""
        self._store_action("add", OP_STORE_ADD, store_id, secret, address)

    def store_remove(self, store_id: str, secret: str, address: str) -> None:
        self._store_action("remove", OP_STORE_REMOVE, store_id, secret, address)

    def _store_action(
        self, action: str, operation: str, store_id: str, secret: str, address: str
    ) -> None:
        address = _address(address, operation)
        _segment(store_id, "dynamic store id", operation)
        self._call(
            "POST",
            "/api/v0/storeActions/single",
            operation=operation,
            # Adding an address twice, or removing it twice, leaves the same store.
            idempotent=True,
            mutating=True,
            json_body={
                "dynamicDataId": store_id,
                "dataSecret": secret,
                "actionName": action,
                "payload": {"address": address},
            },
            secrets=(secret,),
            claim_route=False,
        )

    def store_contains(self, store_id: str, secret: str, address: str) -> bool:
        operation = OP_STORE_CONTAINS
        address = _address(address, operation)
        path = f"/api/v0/dynamicStore/{_segment(store_id, 'dynamic store id', operation)}/value"
        body = self._request_json(
            "GET",
            path,
            operation=operation,
            idempotent=True,
            params={"key": address, "dataSecret": secret},
            secrets=(secret,),
            claim_route=False,
        )
        in_store = body.get("inStore") if isinstance(body, dict) else None
        if not isinstance(in_store, bool):
            raise _invalid(body, operation, "the field inStore is missing or not true/false")
        return in_store

    # --- HTTP ----------------------------------------------------------------------

    def _secrets(self, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
        return (self._api_key, *extra)

    def _request_json(
        self, method: str, path: str, *, operation: str, secrets: tuple[str, ...] = (), **kwargs
    ) -> Any:
        response = self._call(method, path, operation=operation, secrets=secrets, **kwargs)
        outcome_unknown = bool(kwargs.get("mutating"))
        return _parse_json(
            response, operation, self._secrets(secrets), outcome_unknown=outcome_unknown
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        idempotent: bool,
        mutating: bool = False,
        params: dict | None = None,
        json_body: Any = None,
        secrets: tuple[str, ...] = (),
        claim_route: bool = True,
        raise_for_status: bool = True,
    ) -> requests.Response:
        headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "x-api-key": self._api_key,
        }
        url = self.api_url + path
        try:
            response = http_support.send_with_retries(
                self._session,
                method,
                url,
                service="BitBadges",
                where=_loggable(url, self._secrets(secrets)),
                logger=logger,
                timeout=self.timeout,
                max_retries=self.max_retries,
                idempotent=idempotent,
                sleep=self._sleep,
                max_retry_after=MAX_RETRY_AFTER,
                backoff_base=BACKOFF_BASE,
                backoff_cap=BACKOFF_CAP,
                # A 5xx that names a claim failure is BitBadges' final answer.
                retry_server_error=lambda response: not _recognised(response),
                params=params,
                json=json_body,
                headers=headers,
            )
        except http_support.TransportFailure as failure:
            raise _logged(
                self._transport_error(
                    failure.exc,
                    url,
                    operation,
                    failure.attempts,
                    outcome_unknown=mutating and not failure.nothing_sent,
                )
            ) from failure.exc
        if raise_for_status and response.status_code >= 400:
            raise _logged(
                self._error(
                    response,
                    operation,
                    claim_route=claim_route,
                    mutating=mutating,
                    secrets=secrets,
                )
            )
        return response

    def _transport_error(
        self,
        exc: requests.RequestException,
        url: str,
        operation: str,
        attempts: int,
        *,
        outcome_unknown: bool,
    ) -> Unavailable:
        host = urlsplit(url).netloc
        detail = type(exc).__name__ + (f", after {attempts} attempts" if attempts > 1 else "")
        if isinstance(exc, requests.ConnectTimeout):
            text = f"could not connect to BitBadges at {host} within {self.timeout:g} s"
        elif isinstance(exc, requests.Timeout):
            text = f"BitBadges at {host} did not answer within {self.timeout:g} s"
        elif isinstance(exc, requests.ConnectionError):
            text = f"could not reach BitBadges at {host}"
        else:
            text = f"the request to BitBadges at {host} failed"
        hint = _CHECK_FIRST if outcome_unknown else None
        return Unavailable(
            _redact(f"{text} ({detail})", self._secrets()),
            operation=operation,
            outcome_unknown=outcome_unknown,
            hint=hint,
        )

    def _error(
        self,
        response: requests.Response,
        operation: str,
        *,
        claim_route: bool,
        mutating: bool = False,
        secrets: tuple[str, ...] = (),
    ) -> BitBadgesError:
        """The error for a 4xx/5xx: BitBadges' text first, the status code second.

        IDX-2024 answered 500 with a text for every claim refusal, so a 5xx is not
        "down" when its text names a refusal. After a request that may have changed
        something (`complete`, a store add), a text we do not know is an unknown
        outcome: it is checked upstream before anything is sent again.
        """
        status = response.status_code
        secrets = self._secrets(secrets)
        body = http_support.body_or_text(response)
        text = _error_text(body)
        message = _redact(_error_message(body, status), secrets)
        kwargs: dict[str, Any] = dict(
            operation=operation, status=status, body=_scrub(body, secrets)
        )
        if not claim_route and _STORE_REFUSALS.search(text):
            return StoreRefused(
                message, hint="Check the claim's dynamic store ID and store secret", **kwargs
            )
        cls = classify_claim_error(text) if claim_route else None
        if cls is not None:
            return cls(message, **kwargs)
        if status == 401:
            return Unauthorized(message, hint="Check BITBADGES_API_KEY", **kwargs)
        if status == 402:
            url = body.get("topUpUrl") if isinstance(body, dict) else None
            return PaymentRequired(
                message, top_up_url=self._site_link(url) if isinstance(url, str) else None, **kwargs
            )
        if status == 429:
            return RateLimited(message, retry_after=http_support.retry_after(response), **kwargs)
        if mutating:
            return Unavailable(message, outcome_unknown=True, hint=_CHECK_FIRST, **kwargs)
        if status == 404 and claim_route:
            return ClaimNotFound(message, **kwargs)
        if status >= 500 or status == 408:
            return Unavailable(message, **kwargs)
        if claim_route:
            return ClaimRejected(message, **kwargs)
        return BitBadgesError(message, **kwargs)

    def _site_link(self, url: str) -> str:
        """A link BitBadges gave relative to its web app (the 402's topUpUrl), made whole."""
        url = url.strip()
        if url.startswith("/") and not url.startswith("//"):
            return self.site_url + url
        return url


# --- Module-level helpers --------------------------------------------------------------


# One pooled session per process: connections to BitBadges are kept alive.
_pool = http_support.SessionPool()
_shared_session = _pool.get
close_shared_session = _pool.close


def get_client() -> BitBadgesClient:
    """The client for the current settings; cheap enough to call once per request."""
    return BitBadgesClient.from_settings()


def _address(value: str, operation: str) -> str:
    """The address as BitBadges stores and answers it (bb1), or InvalidAddress before
    anything is sent. BitBadges documents and exemplifies bb1 for stores; only the
    whitelist plugin is documented to match both spellings (docs/fidelity.md)."""
    try:
        return to_bitbadges_address(value)
    except ValidationError as exc:
        raise InvalidAddress(" ".join(exc.messages), operation=operation) from None


def _segment(value: str, what: str, operation: str) -> str:
    """One path segment, quoted so that no id can reach another route."""
    if not isinstance(value, str) or not value.strip():
        raise _bad_id(f"the {what} is empty", what, operation)
    if value in (".", "..") or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise _bad_id(f"{value[:40]!r} is not a valid {what}", what, operation)
    return quote(value, safe="")


def _bad_id(message: str, what: str, operation: str) -> BitBadgesError:
    cls = ClaimNotFound if what == "claim id" else BitBadgesError
    return cls(message, operation=operation)


def _input_secrets(inputs: dict[str, dict]) -> tuple[str, ...]:
    return tuple(
        str(value)
        for fields in inputs.values()
        for key, value in fields.items()
        if key in _SECRET_INPUTS and value
    )


_redact = http_support.redact


def _loggable(url: str, secrets: tuple[str, ...]) -> str:
    # The query string (a store's dataSecret) is never logged.
    parts = urlsplit(url)
    return _redact(f"{parts.netloc}{parts.path}", secrets)


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """A copy of a body fit to keep on an exception: secrets replaced."""
    return http_support.scrub(
        value, secret_keys=_SECRET_KEYS, redact_text=lambda text: _redact(text, secrets)
    )


def _error_text(body: Any) -> str:
    """Everything BitBadges said about the error, for classification."""
    if isinstance(body, dict):
        parts = [body.get("errorMessage"), body.get("error")]
        return " ".join(part for part in parts if isinstance(part, str))
    if isinstance(body, str) and not body.lstrip().startswith("<") and len(body) <= 300:
        return body  # a short plain-text error; never an HTML page
    return ""


def _strip_error(text: str) -> str:
    # IDX-2024 stored `e.toString()`, hence a leading "Error: ".
    text = text.strip()
    while text.lower().startswith("error:"):
        text = text[len("error:") :].strip()
    return text


def _error_message(body: Any, status: int) -> str:
    if isinstance(body, dict):
        for key in ("errorMessage", "error", "message"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return _strip_error(value)
    elif isinstance(body, str) and body.strip():
        text = " ".join(body.split())
        if text.lower().startswith(("<!doctype", "<html")):
            return f"BitBadges answered HTTP {status} with an HTML page"
        return text[:300]
    return f"BitBadges answered HTTP {status} without saying why"


def _recognised_text(text: str) -> bool:
    return bool(_NO_DOC.search(text)) or classify_claim_error(text) is not None


def _recognised(response: requests.Response) -> bool:
    """True when a 5xx carries a known failure (IDX-2024's 500s): not worth retrying."""
    return _recognised_text(_error_text(http_support.body_or_text(response)))


def _is_pending(response: requests.Response) -> bool:
    """The status route's "no result yet": IDX-2024 answered 500 "No doc found"."""
    if response.status_code not in (404, 500):
        return False
    return bool(_NO_DOC.search(_error_text(http_support.body_or_text(response))))


def _parse_json(
    response: requests.Response,
    operation: str,
    secrets: tuple[str, ...],
    *,
    outcome_unknown: bool = False,
) -> Any:
    """The JSON body; InvalidResponse if there is none."""
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("Content-Type") or "no Content-Type"
        text = response.text
        shown = repr(_redact(text[:80], secrets)) if text else "an empty body"
        raise _logged(
            InvalidResponse(
                f"expected JSON, got {kind} with {shown}",
                operation=operation,
                status=response.status_code,
                body=_redact(text[:2000], secrets) or None,
                outcome_unknown=outcome_unknown,
                hint=_CHECK_FIRST if outcome_unknown else None,
            )
        ) from None


def _invalid(
    body: Any, operation: str, message: str, *, outcome_unknown: bool = False
) -> InvalidResponse:
    return _logged(
        InvalidResponse(
            message,
            operation=operation,
            body=_scrub(body, ()),
            outcome_unknown=outcome_unknown,
            hint=_CHECK_FIRST if outcome_unknown else None,
        )
    )


def _number(value: Any) -> int | None:
    """A whole number BitBadges may send as a number or a string (NumberType)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _attempts_page(body: Any, operation: str) -> AttemptsPage:
    docs = body.get("docs") if isinstance(body, dict) else None
    if not isinstance(docs, list) or not all(isinstance(doc, dict) for doc in docs):
        raise _invalid(body, operation, "expected an object with a list of attempts in docs")
    attempts = []
    for doc in docs:
        success = doc.get("success")
        if not isinstance(success, bool):
            raise _invalid(body, operation, f"an attempt's success is {success!r}")
        address = doc.get("bitbadgesAddress")
        error = doc.get("error")
        attempts.append(
            ClaimAttempt(
                attempt_id=str(doc.get("claimAttemptId") or ""),
                success=success,
                claim_number=_number(doc.get("claimNumber")),
                address=address.strip() if isinstance(address, str) else "",
                error=_strip_error(error) if isinstance(error, str) else "",
            )
        )
    bookmark = body.get("bookmark")
    return AttemptsPage(
        attempts=tuple(attempts),
        bookmark=bookmark if isinstance(bookmark, str) else "",
        total=_number(body.get("total")),
    )


def _successes_for(page: AttemptsPage, address: str) -> int:
    """The successful attempts of `address` in an attempts page asked for `address`.

    Every attempt must be that address's: a server that ignored the filter would
    otherwise count other members' badges as this one's. `total` counts the successful
    attempts across pages (the SDK reads it so) and is trusted only when the page holds
    nothing but successes of this address.
    """
    strangers = [a.address for a in page.attempts if a.address.lower() != address.lower()]
    if strangers:
        raise _logged(
            CannotVerify(
                "the attempts route answered for other addresses than the one asked for"
                f" ({strangers[0]})",
                operation=OP_ATTEMPTS,
            )
        )
    successes = sum(1 for attempt in page.attempts if attempt.success)
    if page.total is not None and successes == len(page.attempts):
        return max(page.total, successes)
    return successes


def _cannot_verify(exc: BitBadgesError, what: str) -> CannotVerify:
    return CannotVerify(
        f"{what}: {exc.message or exc}",
        operation=exc.operation,
        status=exc.status,
        body=exc.body,
        hint="Checked again later; an admin can look the claim up on BitBadges",
    )


def _logged(exc: BitBadgesError) -> BitBadgesError:
    # IDX-2024 answered every claim refusal with a 500: a member's refusal is normal
    # work whatever its status; a claim set up wrong is worth a warning.
    serious = None
    if isinstance(exc, ClaimRejected):
        serious = exc.admin_problem
    return http_support.log_upstream_error(logger, "BitBadges", exc, serious=serious)

"""Claim attempts: simulate and complete a claim for an address, then follow the attempt
until BitBadges says how it ended."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from claims.bitbadges.client import (
    OP_COMPLETE,
    OP_SIMULATE,
    OP_STATUS,
    BitBadgesBase,
    checked_address,
    input_secrets,
    is_pending,
    logger,
    segment,
    strip_error,
)
from claims.bitbadges.errors import (
    AttemptTimeout,
    BitBadgesError,
    ClaimRejected,
    classify_claim_error,
)

# Status polling grows its interval by this factor, up to this many seconds.
POLL_GROWTH = 1.5
POLL_CAP = 10.0
# The placeholder attempt id a simulation answers (IDX-2024 claims.ts), used to probe.
SIMULATED_ATTEMPT_ID = "0" * 64


@dataclass(frozen=True)
class AttemptStatus:
    """Where one claim attempt stands. `error` is BitBadges' text without "Error: "."""

    attempt_id: str
    pending: bool
    success: bool
    error: str
    address: str  # bitbadgesAddress, "" when absent


# Per API URL, the method the status route answers to: GET (OpenAPI, Python SDK) until
# a server refuses it, then POST (JS SDK, IDX-2024). Module-level, because a client is
# built per request.
_status_methods: dict[str, str] = {}


class Attempts(BitBadgesBase):
    def simulate(
        self,
        claim_id: str,
        address: str,
        *,
        inputs: dict[str, dict[str, Any]] | None = None,
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
        inputs: dict[str, dict[str, Any]] | None = None,
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
        inputs: dict[str, dict[str, Any]] | None,
        expected_version: int,
    ) -> str:
        address = checked_address(address, operation)
        path = (
            f"/api/v0/claims/{action}/{segment(claim_id, 'claim id', operation)}/{quote(address)}"
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
            secrets=input_secrets(inputs),
        )
        attempt_id = body.get("claimAttemptId") if isinstance(body, dict) else None
        if not isinstance(attempt_id, str) or not attempt_id.strip():
            raise self._invalid(
                body,
                operation,
                "the field claimAttemptId is missing or empty",
                outcome_unknown=mutating,
            )
        return attempt_id.strip()

    def attempt_status(self, attempt_id: str) -> AttemptStatus:
        """One look at an attempt. A failed attempt is returned, not raised."""
        operation = OP_STATUS
        path = f"/api/v0/claims/status/{segment(attempt_id, 'claim attempt id', operation)}"
        method = _status_methods.get(self.api_url, "GET")
        response = self._status_call(method, path)
        if method == "GET" and response.status_code in (404, 405) and not is_pending(response):
            # This server does not route GET (IDX-2024 routed POST only).
            logger.info("BitBadges refused GET on the status route; using POST from now on")
            _status_methods[self.api_url] = "POST"
            response = self._status_call("POST", path)
        if is_pending(response):
            return AttemptStatus(attempt_id, pending=True, success=False, error="", address="")
        if response.status_code >= 400:
            if response.status_code == 404:
                raise self.logged(
                    BitBadgesError(
                        "BitBadges has no claim status route at"
                        f" {self.api_url}/api/v0/claims/status/",
                        operation=operation,
                        status=404,
                        hint="Check BITBADGES_API_URL",
                    )
                )
            raise self.logged(self.error_from_response(response, operation))
        body = self._parse_json(response, operation)
        if not isinstance(body, dict):
            raise self._invalid(body, operation, "expected a JSON object")
        success, error = body.get("success"), body.get("error")
        if success is not None and not isinstance(success, bool):
            raise self._invalid(
                body, operation, f"success should be true or false, not {success!r}"
            )
        if error is not None and not isinstance(error, str):
            error = str(error)
        error = strip_error(error or "")
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
                raise self.logged(
                    AttemptTimeout(
                        f"the claim attempt was still pending after {deadline:g} s{detail}",
                        operation=OP_STATUS,
                        attempt_id=attempt_id,
                        hint="It may still succeed: check its status again later",
                    )
                )
            self._sleep(min(wait, remaining))
            delay = min(cap, delay * POLL_GROWTH) if delay else min(cap, 0.5)

    def probe(self) -> None:
        """One cheap request that needs the key and a credit: the status of the
        simulation placeholder. Returns when BitBadges accepted the key and answered
        about the id; raises Unauthorized, PaymentRequired, RateLimited, Unavailable, or
        BitBadgesError when nothing at this URL answers like BitBadges."""
        # A refusal about the id itself ("No doc found") still means the key and credits
        # were accepted.
        with contextlib.suppress(ClaimRejected):
            self.attempt_status(SIMULATED_ATTEMPT_ID)

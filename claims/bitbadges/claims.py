"""A claim and what BitBadges records of it: the claim's details, its attempts, and how
many times an address completed it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from claims.bitbadges.client import (
    OP_ATTEMPTS,
    OP_GET_CLAIM,
    OP_SUCCESS,
    BitBadgesBase,
    checked_address,
    error_text,
    number,
    recognised,
    segment,
    strip_error,
)
from claims.bitbadges.errors import (
    BitBadgesError,
    CannotVerify,
    ClaimNotFound,
    ClaimRejected,
    Unavailable,
    classify_claim_error,
)
from claims.bitbadges.life import ClaimLife, life_of


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


class Claims(BitBadgesBase):
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
        path = f"/api/v0/claims/{segment(claim_id, 'claim id', operation)}/attempts"
        params: dict[str, str] = {}
        if address is not None:
            params["address"] = checked_address(address, operation)
        if include_errors:
            params["includeErrors"] = "true"
        if bookmark:
            params["bookmark"] = bookmark
        body = self._request_json(
            "GET", path, operation=operation, idempotent=True, params=params or None
        )
        return self._attempts_page(body, operation)

    def success_count(self, claim_id: str, address: str) -> int:
        """How many times `address` has completed the claim (0 when never).

        Read from the successful attempts for the address (the route BitBadges' SDK now
        uses); where that route does not exist, from the older success route. Raises
        CannotVerify when neither can tell: a missing or refusing route is never "0".
        """
        address = checked_address(address, OP_SUCCESS)
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
            if exc.status == 500 and error_text(exc.body):
                # A 500 with a text is how BitBadges refuses (IDX-2024; a claim hiding its
                # state refuses anyone but its manager): it will not tell, it is not down.
                raise _cannot_verify(exc, "the attempts route refused") from exc
            raise
        return self._successes_for(page, address)

    def _legacy_success_count(self, claim_id: str, address: str) -> int:
        operation = OP_SUCCESS
        path = f"/api/v0/claims/success/{segment(claim_id, 'claim id', operation)}/{quote(address)}"
        response = self._call(
            "GET", path, operation=operation, idempotent=True, raise_for_status=False
        )
        if response.status_code == 404 and not recognised(response):
            # BitBadges removed this route (docs/fidelity.md): 404 means "cannot say".
            raise self.logged(
                CannotVerify(
                    "neither the claim attempts route nor the older success route is served"
                    f" at {self.api_url}",
                    operation=operation,
                    status=404,
                    hint="Check BITBADGES_API_URL; an admin can check the claim on BitBadges",
                )
            )
        if response.status_code >= 400:
            exc = self.error_from_response(response, operation)
            if isinstance(exc, ClaimRejected) and not isinstance(exc, ClaimNotFound):
                raise self.logged(_cannot_verify(exc, "the success route refused")) from None
            raise self.logged(exc)
        body = self._parse_json(response, operation)
        count = number(body.get("successCount")) if isinstance(body, dict) else None
        if count is None:
            raise self._invalid(body, operation, "successCount is missing or not a whole number")
        return count

    def get_claim(self, claim_id: str, *, private_params: bool = False) -> dict[str, Any]:
        """The claim's iClaimDetails (private params only for its creator or manager)."""
        operation = OP_GET_CLAIM
        path = f"/api/v0/claim/{segment(claim_id, 'claim id', operation)}"
        body = self._request_json(
            "GET",
            path,
            operation=operation,
            idempotent=True,
            params={"fetchPrivateParams": "true"} if private_params else None,
        )
        if isinstance(body, dict) and "claim" in body and body["claim"] is None:
            raise self.logged(
                ClaimNotFound("BitBadges has no claim with this id", operation=operation)
            )
        claim = body.get("claim") if isinstance(body, dict) else None
        if not isinstance(claim, dict):
            raise self._invalid(body, operation, "expected an object with a `claim` object")
        if not claim.get("claimId") or not isinstance(claim.get("plugins"), list):
            raise self._invalid(body, operation, "the claim has no claimId or no list of plugins")
        return claim

    def claim_life(self, claim_id: str) -> ClaimLife:
        """The claim's uses, windows and halt as BitBadges shows them now (bitbadges/life.py)."""
        claim = self.get_claim(claim_id)
        return life_of(claim, fetched_at=datetime.datetime.now(tz=datetime.UTC))

    def _attempts_page(self, body: Any, operation: str) -> AttemptsPage:
        docs = body.get("docs") if isinstance(body, dict) else None
        if not isinstance(docs, list) or not all(isinstance(doc, dict) for doc in docs):
            raise self._invalid(
                body, operation, "expected an object with a list of attempts in docs"
            )
        attempts = []
        for doc in docs:
            success = doc.get("success")
            if not isinstance(success, bool):
                raise self._invalid(body, operation, f"an attempt's success is {success!r}")
            address = doc.get("bitbadgesAddress")
            error = doc.get("error")
            attempts.append(
                ClaimAttempt(
                    attempt_id=str(doc.get("claimAttemptId") or ""),
                    success=success,
                    claim_number=number(doc.get("claimNumber")),
                    address=address.strip() if isinstance(address, str) else "",
                    error=strip_error(error) if isinstance(error, str) else "",
                )
            )
        bookmark = body.get("bookmark")
        return AttemptsPage(
            attempts=tuple(attempts),
            bookmark=bookmark if isinstance(bookmark, str) else "",
            total=number(body.get("total")),
        )

    def _successes_for(self, page: AttemptsPage, address: str) -> int:
        """The successful attempts of `address` in an attempts page asked for `address`.

        Every attempt must be that address's: a server that ignored the filter would
        otherwise count other members' badges as this one's. `total` counts the successful
        attempts across pages (the SDK reads it so) and is trusted only when the page holds
        nothing but successes of this address.
        """
        strangers = [a.address for a in page.attempts if a.address.lower() != address.lower()]
        if strangers:
            raise self.logged(
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

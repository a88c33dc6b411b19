"""Fault injection on the emulated BitBadges' endpoints: the shared machinery
(sandbox/common/faults.py) with BitBadges' answers.

An injected 429 is {"errorMessage": "Exceeded rate limit. Too many requests."} (per
SANDBOX_BITBADGES_WORDING) with express-rate-limit's draft-6 RateLimit-* headers and
Retry-After; a 402 is the documented "Insufficient credits" body; any other status is
{"errorMessage": "..."}; a malformed answer is cut-short JSON.
"""

from django.http import HttpResponse, JsonResponse

from sandbox.bitbadges.base import rate_limit, text
from sandbox.bitbadges.credits import credits_exhausted_body
from sandbox.common import faults
from sandbox.common.faults import _reason

RATE_WINDOW_SECONDS = 60  # BitBadges: windowMs 60 * 1000 (IDX-2024 src/indexer.ts:135-167)
BITBADGES_MALFORMED_BODY = b'{"claimAttemptId": "'  # cut short: not valid JSON


def _bitbadges_rate_headers(response: HttpResponse, limit: int, retry_after: int) -> HttpResponse:
    """express-rate-limit 7.3.1 with standardHeaders: true (draft-6) and legacyHeaders:
    false (IDX-2024 src/indexer.ts:135-167; index.mjs:25-35, 700-705): RateLimit-Policy,
    -Limit, -Remaining, -Reset (omitted when 0) and Retry-After, in seconds; no
    X-RateLimit-*. The window's reset is taken to be `retry_after` seconds away."""
    response["RateLimit-Policy"] = f"{limit};w={RATE_WINDOW_SECONDS}"
    response["RateLimit-Limit"] = str(limit)
    response["RateLimit-Remaining"] = "0"
    if retry_after:
        response["RateLimit-Reset"] = str(retry_after)
    response["Retry-After"] = str(retry_after)
    return response


def bitbadges_error_response(
    status: int, retry_after: int = 1, error_message: str | None = None
) -> HttpResponse:
    """An injected status as BitBadges answers it: {"errorMessage": ...}."""
    if status == 429:
        body = {"errorMessage": error_message or text("rate_limited")}
        response = JsonResponse(body, status=429)
        return _bitbadges_rate_headers(response, rate_limit(), retry_after)
    if status == 402:
        body = credits_exhausted_body()
        if error_message:
            body["errorMessage"] = error_message
        return JsonResponse(body, status=402)
    message = error_message or f"{_reason(status)} (injected by the sandbox)"
    return JsonResponse({"errorMessage": message}, status=status)


def injectable(endpoint: str):
    """Decorate a BitBadges view so the faults configured for `endpoint` apply to it."""
    return faults.injectable(
        endpoint, error_response=bitbadges_error_response, malformed_body=BITBADGES_MALFORMED_BODY
    )

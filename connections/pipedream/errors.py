"""Pipedream's errors: one family, `PipedreamError`, on core.client.UpstreamError.

The class says what happened (refused, missing, throttled, down, unreadable); `str(exc)`
says it with the operation, in words a person can act on, without secrets.
"""

from __future__ import annotations

import http
from typing import Any

from core.client import Throttled, UpstreamError


class PipedreamError(UpstreamError):
    """A call to Pipedream failed. `str(exc)` says what happened and while doing what.

    `outcome_unknown` is set where the call changes something (it is not idempotent)
    and no readable answer came back: a transport failure after the request left, a
    5xx or 408, a 2xx whose body is not JSON.
    """

    service = "Pipedream"
    summary = "Pipedream answered with an error"

    def __init__(
        self,
        message: str = "",
        *,
        operation: str = "",
        status: int | None = None,
        code: str | None = None,
        body: Any = None,
        headline: str | None = None,
        hint: str | None = None,
        transient: bool | None = None,
        outcome_unknown: bool | None = None,
    ) -> None:
        self.code = code
        self.headline = headline
        super().__init__(
            message,
            operation=operation,
            status=status,
            body=body,
            hint=hint,
            transient=transient,
            outcome_unknown=outcome_unknown,
        )

    def _sentence(self) -> str:
        text = self.headline or self.summary
        if self.headline is None and self.status is not None:
            text += f" ({status_text(self.status)})"
        if self.operation:
            text += f" while trying to {self.operation}"
        if self.message:
            text += f": {self.message.rstrip('. ')}"
        if self.hint:
            text += f". {self.hint}"
        return text


class BadRequest(PipedreamError):
    summary = "Pipedream rejected the request"


class Unauthorized(PipedreamError):
    summary = "Pipedream refused the credentials"


class NotFound(PipedreamError):
    summary = "Pipedream found nothing there"


class RateLimited(Throttled, PipedreamError):
    summary = "Pipedream is rate limiting this project"


class Unavailable(PipedreamError):
    summary = "Pipedream is unavailable"
    transient = True


class InvalidResponse(PipedreamError):
    summary = "Pipedream's answer is not the JSON expected"
    transient = True


class NotConfigured(PipedreamError):
    summary = "The Pipedream client is not configured"

    def _sentence(self) -> str:
        return f"{self.message}: set it in the environment or in .env"


_ERROR_FOR_STATUS: dict[int, type[PipedreamError]] = {
    400: BadRequest,
    422: BadRequest,
    401: Unauthorized,
    403: Unauthorized,
    404: NotFound,
    408: Unavailable,
    429: RateLimited,
}


def status_text(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def error_class(status: int) -> type[PipedreamError]:
    """The error for an answer with this status (400 or more)."""
    return _ERROR_FOR_STATUS.get(status) or (Unavailable if status >= 500 else PipedreamError)


def error_message(body: Any) -> tuple[str, str | None]:
    """Pipedream's own message and code from an error body, whatever its shape."""
    if isinstance(body, dict):
        error, description = body.get("error"), body.get("error_description")
        code = body.get("code")
        if isinstance(description, str) and description:
            # OAuth style: {"error": "invalid_client", "error_description": "..."}.
            return description, code or (error if isinstance(error, str) else None)
        if error is None:
            error = body.get("message")
        return _flatten(error) if error is not None else "", code
    if isinstance(body, str):
        text = " ".join(body.split())
        if text.lower().startswith(("<!doctype", "<html")):
            return "(an HTML page)", None
        return text[:300], None
    return "", None


def _flatten(value: Any) -> str:
    # {"account": ["account and user mismatch"]} -> "account: account and user mismatch"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_flatten(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "; ".join(_flatten(item) for item in value)
    return str(value)

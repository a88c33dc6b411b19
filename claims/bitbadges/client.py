"""The BitBadges client's base: settings, and BitBadges' rules for
core.client.BaseApiClient (the API key, which 5xx answers are final, which error a
failure is), with the checks every endpoint makes before it sends anything.

The resource modules (attempts, claims, stores) add the endpoints;
claims/bitbadges/__init__.py puts them together as BitBadgesClient.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, Self
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.exceptions import ValidationError

from claims.bitbadges.errors import (
    CHECK_FIRST,
    STORE_REFUSALS,
    BitBadgesError,
    ClaimNotFound,
    ClaimRejected,
    InvalidAddress,
    InvalidResponse,
    NotConfigured,
    PaymentRequired,
    RateLimited,
    StoreRefused,
    Unauthorized,
    Unavailable,
    classify_claim_error,
)
from core.addresses import to_bitbadges_address
from core.client import BaseApiClient, SessionPool, UpstreamError, body_or_text, retry_after

logger = logging.getLogger("claims.bitbadges")

MAX_RETRY_AFTER = 30.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
MAX_ID_LENGTH = 256
# BitBadges' web app: links in its answers (the 402's topUpUrl) are relative to it.
DEFAULT_SITE_URL = "https://bitbadges.io"

OP_COMPLETE = "complete claim"
OP_SIMULATE = "simulate claim"
OP_STATUS = "get claim attempt status"
OP_SUCCESS = "check claim successes"
OP_ATTEMPTS = "list claim attempts"
OP_GET_CLAIM = "get claim"
OP_STORE_ADD = "add to dynamic store"
OP_STORE_REMOVE = "remove from dynamic store"
OP_STORE_CONTAINS = "look up dynamic store"
# A dynamic store's routes refuse in their own words; every other route is a claim's.
STORE_OPERATIONS = frozenset({OP_STORE_ADD, OP_STORE_REMOVE, OP_STORE_CONTAINS})

# Plugin input fields whose values are secrets to keep out of messages.
_SECRET_INPUTS = frozenset({"password", "code", "seedCode", "secret"})
_NO_DOC = re.compile(r"no doc found", re.IGNORECASE)


class BitBadgesBase(BaseApiClient):
    """Settings, and the plumbing every BitBadges endpoint uses."""

    service = "BitBadges"
    logger = logging.getLogger("claims.bitbadges")
    # One pooled session per process: connections to BitBadges are kept alive.
    pool = SessionPool()
    secret_keys = frozenset({"dataSecret", "password", "code", "seedCode", "x-api-key", "apiKey"})
    max_retry_after = MAX_RETRY_AFTER
    backoff_base = BACKOFF_BASE
    backoff_cap = BACKOFF_CAP

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
        super().__init__(
            base_url=api_url,
            timeout=timeout,
            max_retries=max_retries,
            session=session,
            sleep=sleep,
        )
        self._api_key = api_key
        self._clock = clock
        self.site_url = (site_url or DEFAULT_SITE_URL).rstrip("/")

    def __repr__(self) -> str:
        return f"<BitBadgesClient {self.api_url}>"

    @classmethod
    def from_settings(cls) -> Self:
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

    # --- Hooks of BaseApiClient ----------------------------------------------------

    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,)

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "x-api-key": self._api_key}

    def final_answer(self, response: requests.Response) -> bool:
        # A 5xx that names a claim failure is BitBadges' final answer.
        return recognised(response)

    def serious(self, exc: UpstreamError) -> bool | None:
        # IDX-2024 answered every claim refusal with a 500: a member's refusal is normal
        # work whatever its status; a claim set up wrong is worth a warning.
        return exc.admin_problem if isinstance(exc, ClaimRejected) else None

    def transport_error(
        self,
        exc: requests.RequestException,
        *,
        url: str,
        operation: str,
        attempts: int,
        outcome_unknown: bool,
    ) -> Unavailable:
        return Unavailable(
            self.transport_message(exc, url, attempts),
            operation=operation,
            outcome_unknown=outcome_unknown,
            hint=CHECK_FIRST if outcome_unknown else None,
        )

    def error_from_response(
        self,
        response: requests.Response,
        operation: str,
        *,
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
        claim_route = operation not in STORE_OPERATIONS
        body = body_or_text(response)
        text = error_text(body)
        message = self.redact(_error_message(body, status), secrets)
        kwargs: dict[str, Any] = dict(
            operation=operation, status=status, body=self.scrub(body, secrets)
        )
        if not claim_route and STORE_REFUSALS.search(text):
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
            return RateLimited(message, retry_after=retry_after(response), **kwargs)
        if mutating:
            return Unavailable(message, outcome_unknown=True, hint=CHECK_FIRST, **kwargs)
        if status == 404 and claim_route:
            return ClaimNotFound(message, **kwargs)
        if status >= 500 or status == 408:
            return Unavailable(message, **kwargs)
        if claim_route:
            return ClaimRejected(message, **kwargs)
        return BitBadgesError(message, **kwargs)

    # --- Plumbing for the endpoints ------------------------------------------------

    def _site_link(self, url: str) -> str:
        """A link BitBadges gave relative to its web app (the 402's topUpUrl), made whole."""
        url = url.strip()
        if url.startswith("/") and not url.startswith("//"):
            return self.site_url + url
        return url

    def _request_json(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        idempotent: bool,
        mutating: bool = False,
        secrets: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> Any:
        response = self._call(
            method,
            path,
            operation=operation,
            idempotent=idempotent,
            mutating=mutating,
            secrets=secrets,
            **kwargs,
        )
        # An unreadable answer to `complete` may still hide a queued attempt.
        return self._parse_json(response, operation, secrets, outcome_unknown=mutating)

    def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        idempotent: bool,
        mutating: bool = False,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        secrets: tuple[str, ...] = (),
        raise_for_status: bool = True,
    ) -> requests.Response:
        return self.send(
            method,
            self.api_url + path,
            operation=operation,
            idempotent=idempotent,
            mutating=mutating,
            secrets=secrets,
            raise_for_status=raise_for_status,
            params=params,
            json=json_body,
        )

    def _parse_json(
        self,
        response: requests.Response,
        operation: str,
        secrets: tuple[str, ...] = (),
        *,
        outcome_unknown: bool = False,
    ) -> Any:
        """The JSON body; InvalidResponse if there is none."""
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type") or "no Content-Type"
            text = response.text
            shown = repr(self.redact(text[:80], secrets)) if text else "an empty body"
            raise self.logged(
                InvalidResponse(
                    f"expected JSON, got {kind} with {shown}",
                    operation=operation,
                    status=response.status_code,
                    body=self.redact(text[:2000], secrets) or None,
                    outcome_unknown=outcome_unknown,
                    hint=CHECK_FIRST if outcome_unknown else None,
                )
            ) from None

    def _invalid(
        self, body: Any, operation: str, message: str, *, outcome_unknown: bool = False
    ) -> InvalidResponse:
        return self.logged(
            InvalidResponse(
                message,
                operation=operation,
                body=self.scrub(body),
                outcome_unknown=outcome_unknown,
                hint=CHECK_FIRST if outcome_unknown else None,
            )
        )


def checked_address(value: str, operation: str) -> str:
    """The address as BitBadges stores and answers it (bb1), or InvalidAddress before
    anything is sent. BitBadges documents and exemplifies bb1 for stores; only the
    whitelist plugin is documented to match both spellings (docs/fidelity.md)."""
    try:
        return to_bitbadges_address(value)
    except ValidationError as exc:
        raise InvalidAddress(" ".join(exc.messages), operation=operation) from None


def segment(value: str, what: str, operation: str) -> str:
    """One path segment, quoted so that no id can reach another route."""
    if not isinstance(value, str) or not value.strip():
        raise _bad_id(f"the {what} is empty", what, operation)
    if value in (".", "..") or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise _bad_id(f"{value[:40]!r} is not a valid {what}", what, operation)
    return quote(value, safe="")


def _bad_id(message: str, what: str, operation: str) -> BitBadgesError:
    cls = ClaimNotFound if what == "claim id" else BitBadgesError
    return cls(message, operation=operation)


def input_secrets(inputs: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    return tuple(
        str(value)
        for fields in inputs.values()
        for key, value in fields.items()
        if key in _SECRET_INPUTS and value
    )


def error_text(body: Any) -> str:
    """Everything BitBadges said about the error, for classification."""
    if isinstance(body, dict):
        parts = [body.get("errorMessage"), body.get("error")]
        return " ".join(part for part in parts if isinstance(part, str))
    if isinstance(body, str) and not body.lstrip().startswith("<") and len(body) <= 300:
        return body  # a short plain-text error; never an HTML page
    return ""


def strip_error(text: str) -> str:
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
                return strip_error(value)
    elif isinstance(body, str) and body.strip():
        text = " ".join(body.split())
        if text.lower().startswith(("<!doctype", "<html")):
            return f"BitBadges answered HTTP {status} with an HTML page"
        return text[:300]
    return f"BitBadges answered HTTP {status} without saying why"


def recognised(response: requests.Response) -> bool:
    """True when a 5xx carries a known failure (IDX-2024's 500s): not worth retrying."""
    text = error_text(body_or_text(response))
    return bool(_NO_DOC.search(text)) or classify_claim_error(text) is not None


def is_pending(response: requests.Response) -> bool:
    """The status route's "no result yet": IDX-2024 answered 500 "No doc found"."""
    if response.status_code not in (404, 500):
        return False
    return bool(_NO_DOC.search(error_text(body_or_text(response))))


def number(value: Any) -> int | None:
    """A whole number BitBadges may send as a number or a string (NumberType)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())  # ASCII only: "²".isdigit() is true, int("²") fails
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None

"""The Pipedream client's base: settings, the OAuth token, and Pipedream's rules for
core.client.BaseApiClient (headers, secrets, which error a failure is).

The resource modules (connect, accounts, apps, actions, triggers, proxy) add the
endpoints; connections/pipedream/__init__.py puts them together as PipedreamClient.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.cache import cache

from connections.pipedream.errors import (
    InvalidResponse,
    NotConfigured,
    PipedreamError,
    RateLimited,
    Unauthorized,
    Unavailable,
    error_class,
    error_message,
)
from core.client import BaseApiClient, SessionPool, body_or_text, budget_remaining, retry_after

logger = logging.getLogger("connections.pipedream")

# Refresh the OAuth token this long before Pipedream says it expires (as the SDKs do),
# so that a token never dies between our check and Pipedream's.
TOKEN_REFRESH_MARGIN = 120.0
# While another process fetches the OAuth token, poll the cache this often.
TOKEN_LOCK_POLL = 0.1
MAX_RETRY_AFTER = 30.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0

OP_OAUTH_TOKEN = "obtain an OAuth token"
TOKEN_HINT = "Check PIPEDREAM_CLIENT_ID and PIPEDREAM_CLIENT_SECRET"

_CTOK = re.compile(r"ctok_[A-Za-z0-9]+")

# One fetch of the OAuth token per process at a time; the cache lock does the same
# across processes.
_TOKEN_FETCH_LOCK = threading.Lock()


class PipedreamBase(BaseApiClient):
    """Settings, the OAuth token and the plumbing every Pipedream endpoint uses."""

    service = "Pipedream"
    logger = logging.getLogger("connections.pipedream")
    # One pooled session per process: connections to Pipedream are kept alive.
    pool = SessionPool()
    secret_keys = frozenset(
        {
            "access_token",
            "client_secret",
            "connect_token",
            "token",
            "credentials",
            # A deployed trigger's key for signing the events it sends to a webhook.
            "webhook_signing_key",
            "signing_key",
        }
    )
    max_retry_after = MAX_RETRY_AFTER
    backoff_base = BACKOFF_BASE
    backoff_cap = BACKOFF_CAP

    def __init__(
        self,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        project_id: str,
        environment: str,
        timeout: float = 10.0,
        max_retries: int = 3,
        proxy_timeout: float = 35.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            base_url=api_url,
            timeout=timeout,
            max_retries=max_retries,
            session=session,
            sleep=sleep,
        )
        self.client_id = client_id
        self._client_secret = client_secret
        self.project_id = project_id
        self.environment = environment
        self.proxy_timeout = float(proxy_timeout)
        # A hash, not the secret: a changed secret never reuses a token, and the cache
        # (Redis, possibly shared) never holds the secret.
        digest = hashlib.sha256(
            "\0".join((self.api_url, client_id, client_secret, environment)).encode()
        ).hexdigest()
        self._token_key = f"pipedream:oauth-token:{digest}"

    def __repr__(self) -> str:
        return f"<PipedreamClient {self.api_url} {self.project_id} {self.environment}>"

    @classmethod
    def from_settings(cls) -> Self:
        """Build a client from the PIPEDREAM_* settings, read now (not at import)."""
        required = (
            "PIPEDREAM_API_URL",
            "PIPEDREAM_CLIENT_ID",
            "PIPEDREAM_CLIENT_SECRET",
            "PIPEDREAM_PROJECT_ID",
            "PIPEDREAM_PROJECT_ENVIRONMENT",
        )
        missing = [name for name in required if not getattr(settings, name, "")]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise NotConfigured(f"{', '.join(missing)} {verb} not set", operation="configure")
        return cls(
            api_url=settings.PIPEDREAM_API_URL,
            client_id=settings.PIPEDREAM_CLIENT_ID,
            client_secret=settings.PIPEDREAM_CLIENT_SECRET,
            project_id=settings.PIPEDREAM_PROJECT_ID,
            environment=settings.PIPEDREAM_PROJECT_ENVIRONMENT,
            timeout=getattr(settings, "PIPEDREAM_TIMEOUT", 10.0),
            max_retries=getattr(settings, "PIPEDREAM_MAX_RETRIES", 3),
            proxy_timeout=getattr(settings, "PIPEDREAM_PROXY_TIMEOUT", 35.0),
        )

    # --- OAuth token ---------------------------------------------------------------

    def access_token(self, *, force_refresh: bool = False) -> str:
        """The OAuth access token, from the shared cache or freshly fetched."""
        if not force_refresh and (token := self._cached_token()):
            return token
        # Inside a web request, wait for another thread's fetch no longer than the budget.
        left = budget_remaining()
        if not _TOKEN_FETCH_LOCK.acquire(timeout=-1 if left is None else max(0.0, left)):
            raise self._budget_spent()
        try:
            if force_refresh:
                cache.delete(self._token_key)
            elif token := self._cached_token():
                return token  # another thread fetched it while we waited
            return self._fetch_token_once()
        finally:
            _TOKEN_FETCH_LOCK.release()

    def _budget_spent(self) -> Unavailable:
        return self.logged(
            Unavailable(
                "BudgetSpent",
                operation=OP_OAUTH_TOKEN,
                headline="Pipedream did not answer within the time a page may wait",
            )
        )

    def _cached_token(self) -> str | None:
        entry = cache.get(self._token_key)
        if isinstance(entry, dict) and entry.get("refresh_at", 0) > time.time():
            token = entry.get("access_token")
            return token if isinstance(token, str) else None
        return None

    def _forget_token(self, stale: str) -> None:
        # Only drop the token that was refused: a concurrent caller may already have
        # stored a fresh one, which must not be thrown away.
        entry = cache.get(self._token_key)
        if isinstance(entry, dict) and entry.get("access_token") == stale:
            cache.delete(self._token_key)

    def _fetch_token_once(self) -> str:
        """Fetch a token, letting one process in N do it while the others wait."""
        lock_key = f"{self._token_key}:lock"
        lock_ttl = int(self.timeout * 2) + 5  # long enough for one fetch, short if we crash
        for _ in range(int(lock_ttl / TOKEN_LOCK_POLL) + 1):
            if cache.add(lock_key, "1", timeout=lock_ttl):
                try:
                    return self._fetch_token()
                finally:
                    cache.delete(lock_key)
            left = budget_remaining()
            if left is not None and left < TOKEN_LOCK_POLL:
                raise self._budget_spent()
            self._sleep(TOKEN_LOCK_POLL)
            if token := self._cached_token():
                return token
            # No token and the lock is gone: the holder failed, the next add takes over.
        # The lock outlived its timeout (a cache that lost the expiry): fetch anyway.
        return self._fetch_token()

    def _fetch_token(self) -> str:
        body = self._request_json(
            "POST",
            "/v1/oauth/token",
            operation=OP_OAUTH_TOKEN,
            idempotent=True,
            auth=False,
            json_body={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
            },
            quote_body=False,
        )
        token = body.get("access_token") if isinstance(body, dict) else None
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise self._invalid(body, OP_OAUTH_TOKEN, "the field access_token is missing or empty")
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
            raise self._invalid(
                body, OP_OAUTH_TOKEN, "the field expires_in is missing or not a number"
            )
        # Short-lived tokens (tests, emulators) are refreshed at half their life instead.
        if expires_in > 2 * TOKEN_REFRESH_MARGIN:
            lifetime = expires_in - TOKEN_REFRESH_MARGIN
        else:
            lifetime = expires_in / 2
        entry = {"access_token": token, "refresh_at": time.time() + lifetime}
        cache.set(self._token_key, entry, timeout=max(1, int(lifetime)))
        return token

    # --- Hooks of BaseApiClient ----------------------------------------------------

    def secrets(self) -> tuple[str, ...]:
        return (self._client_secret,)

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "x-pd-environment": self.environment}

    def redact(self, text: str, extra: tuple[str, ...] = ()) -> str:
        # Connect tokens are secrets too, wherever one turns up (a URL, an echo).
        return _CTOK.sub("ctok_[redacted]", super().redact(text, extra))

    def transport_error(
        self,
        exc: requests.RequestException,
        *,
        url: str,
        operation: str,
        attempts: int,
        outcome_unknown: bool,
    ) -> Unavailable:
        headline = self.transport_problem(exc, url)
        headline = headline[:1].upper() + headline[1:]
        if not isinstance(exc, requests.Timeout | requests.ConnectionError):
            headline += f" ({type(exc).__name__})"
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        return Unavailable(
            self.redact(f"{type(exc).__name__}{tries}"),
            operation=operation,
            headline=headline,
            outcome_unknown=outcome_unknown,
        )

    def error_from_response(
        self,
        response: requests.Response,
        operation: str,
        *,
        mutating: bool = False,
        secrets: tuple[str, ...] = (),
    ) -> PipedreamError:
        status = response.status_code
        body = body_or_text(response)
        message, code = error_message(body)
        cls = error_class(status)
        kwargs: dict[str, Any] = dict(
            operation=operation,
            status=status,
            code=code if isinstance(code, str) else None,
            body=self.scrub(body, secrets),
        )
        if cls is RateLimited:
            kwargs["retry_after"] = retry_after(response)
        elif cls is Unauthorized:
            kwargs["hint"] = TOKEN_HINT if operation == OP_OAUTH_TOKEN else None
        elif cls is Unavailable:
            # A 5xx or 408 after a call that changes something: it may have landed.
            kwargs["outcome_unknown"] = mutating
        return cls(self.redact(message, secrets), **kwargs)

    # --- Plumbing for the endpoints ------------------------------------------------

    def _project_path(self, *segments: str) -> str:
        return "/v1/connect/" + "/".join(segment(s) for s in (self.project_id, *segments))

    def _paginate(
        self, path: str, params: dict[str, Any], operation: str
    ) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        after: str | None = None
        while True:
            page_params = {**params, "after": after} if after else params
            body = self._request_json(
                "GET", path, operation=operation, idempotent=True, params=page_params
            )
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise self._invalid(body, operation, "expected an object with a list `data`")
            yield from body["data"]
            page_info = body.get("page_info")
            after = page_info.get("end_cursor") if isinstance(page_info, dict) else None
            if not after or not body["data"]:
                return
            if after in seen:
                raise self._invalid(None, operation, f"the page cursor {after!r} came back twice")
            seen.add(after)

    def _request_json(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        idempotent: bool = False,
        quote_body: bool = True,
        **kwargs: Any,
    ) -> Any:
        response = self._call(
            method, self.api_url + path, operation=operation, idempotent=idempotent, **kwargs
        )
        return self._parse_json(
            response, operation, quote_body=quote_body, outcome_unknown=not idempotent
        )

    def _call(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        idempotent: bool = False,
        auth: bool = True,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        extra_headers: dict[str, str] | None = None,
        raise_for_status: bool = True,
        log_as: str | None = None,
        mutating: bool | None = None,
        read_timeout: float | None = None,
    ) -> requests.Response:
        """One call through BaseApiClient.send, with the OAuth token unless `auth` is
        False. `log_as` replaces the URL in log lines where the URL itself must not be
        logged (the proxy's path carries the whole upstream URL, query string included).
        `mutating` and `read_timeout` are send's.
        """
        headers = dict(extra_headers or {})
        send: dict[str, Any] = dict(
            operation=operation,
            idempotent=idempotent,
            mutating=mutating,
            params=params,
            json=json_body,
            log_as=log_as,
            raise_for_status=False,
            read_timeout=read_timeout,
        )
        token = ""
        if not auth:
            response = self.send(method, url, headers=headers, **send)
        else:
            token = self.access_token()
            response = self.send(method, url, headers=_bearer(headers, token), **send)
            if response.status_code == 401:
                # The cached token may have been revoked or outlived its stated life:
                # fetch a new one once. A 401 means nothing was processed, so even a
                # POST can be sent again.
                logger.info("Pipedream refused the OAuth token; fetching a new one")
                self._forget_token(token)
                token = self.access_token()
                response = self.send(method, url, headers=_bearer(headers, token), **send)
        if raise_for_status:
            # The token Pipedream might echo back must not reach a message or a log.
            changes = not idempotent if mutating is None else mutating
            self.check(response, operation, mutating=changes, secrets=(token,))
        return response

    def _parse_json(
        self,
        response: requests.Response,
        operation: str,
        *,
        quote_body: bool = True,
        outcome_unknown: bool = False,
    ) -> Any:
        """The JSON body; InvalidResponse if there is none.

        `quote_body=False` where the body may hold a secret we cannot recognise (the
        OAuth token in a body that is not JSON). `outcome_unknown` after a call that
        changes something: the answer is unreadable, the call may have landed.
        """
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type") or "no Content-Type"
            text = response.text
            if not text:
                shown, body = "an empty body", None
            elif quote_body:
                shown, body = repr(self.redact(text[:80])), self.redact(text[:2000])
            else:
                shown, body = f"{len(text)} characters (not shown)", None
            raise self.logged(
                InvalidResponse(
                    f"expected JSON, got {kind} with {shown}",
                    operation=operation,
                    status=response.status_code,
                    body=body,
                    outcome_unknown=outcome_unknown,
                )
            ) from None

    def _require(self, body: Any, fields: tuple[str, ...], operation: str) -> dict[str, Any]:
        """`body`, once it is an object with every one of `fields`."""
        if not isinstance(body, dict):
            raise self._invalid(body, operation, "expected a JSON object")
        missing = [name for name in fields if body.get(name) is None]
        if missing:
            raise self._invalid(body, operation, f"the field(s) {', '.join(missing)} are missing")
        return body

    def _invalid(self, body: Any, operation: str, message: str) -> InvalidResponse:
        return self.logged(InvalidResponse(message, operation=operation, body=self.scrub(body)))

    def _parse_datetime(self, value: Any, body: Any, operation: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise self._invalid(
                body, operation, f"{value!r} is not an ISO-8601 date-time"
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def segment(value: str) -> str:
    return quote(str(value), safe="")


def _bearer(headers: dict[str, str], token: str) -> dict[str, str]:
    return {**headers, "Authorization": f"Bearer {token}"}

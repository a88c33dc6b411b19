"""The base of the upstream clients (connections/pipedream/, claims/bitbadges/).

`BaseApiClient` does, once for both, what any JSON API over `requests` needs: a pooled
session per process, a timeout on every call, the retry loop (`send`), Retry-After,
keeping the client's secrets out of messages, bodies and logs, and one log line per
call and per failure. A client adds its endpoints and says, through a few hooks, what
its secrets are, which 5xx answers are final, and which of its errors a failure is.

`UpstreamError` is the base of both error families. The engine reads two of its
attributes rather than asking which class it holds: `transient` (the same call may
succeed later) and `outcome_unknown` (the request may have been acted on upstream, so
look before sending it again).
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

REDACTED = "[redacted]"
USER_AGENT = "connect-and-claim (python-requests)"

# Transport errors that may pass: worth another try where another try is safe.
TRANSIENT = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class UpstreamError(Exception):
    """A call to an upstream API failed; `str(exc)` says what happened, without secrets.

    `message` is the upstream's own text when it gave one (redacted), else ours; `body`
    is its answer, redacted, for admins. `transient` and `outcome_unknown` have a
    default per class; a client sets them on one error where it knows better.
    """

    service: ClassVar[str] = "The upstream"
    # Trying the same call again later may succeed.
    transient: bool = False
    # The request may have reached the upstream and been acted on.
    outcome_unknown: bool = False

    def __init__(
        self,
        message: str = "",
        *,
        operation: str = "",
        status: int | None = None,
        body: Any = None,
        hint: str | None = None,
        transient: bool | None = None,
        outcome_unknown: bool | None = None,
    ) -> None:
        self.message = message
        self.operation = operation
        self.status = status
        self.body = body
        self.hint = hint
        if transient is not None:
            self.transient = transient
        if outcome_unknown is not None:
            self.outcome_unknown = outcome_unknown
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        text = self.message.rstrip(". ") or f"{self.service} answered with an error"
        if self.operation:
            text = f"{self.operation}: {text}"
        if self.status is not None:
            text += f" (HTTP {self.status})"
        if self.hint:
            text += f". {self.hint}"
        return text


class Throttled(UpstreamError):
    """429: the upstream asks us to slow down; `retry_after` is its wish in seconds.

    Each family's own RateLimited puts this first among its bases, so that its
    constructor takes `retry_after` before the family's own keywords.
    """

    transient = True

    def __init__(
        self, message: str = "", *, retry_after: float | None = None, **kwargs: Any
    ) -> None:
        self.retry_after = retry_after
        if retry_after is not None and "hint" not in kwargs:
            kwargs["hint"] = f"Try again in {retry_after:g} s"
        super().__init__(message, **kwargs)


class SessionPool:
    """One pooled `requests.Session` per process and upstream, kept alive between calls."""

    def __init__(self) -> None:
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                session = requests.Session()
                adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                self._session = session
            return self._session

    def close(self) -> None:
        """Drop the kept-alive connections (tests, and a worker about to fork)."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


def nothing_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached the server (safe to send again)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError)


def retry_after(response: requests.Response) -> float | None:
    """Seconds the server asks us to wait (Retry-After as seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())


def body_or_text(response: requests.Response) -> Any:
    """The JSON body, else the start of the text (an error page can be large)."""
    try:
        return response.json()
    except ValueError:
        return response.text[:2000] or None


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Exponential with "equal jitter": half fixed, half random, so that clients that
    failed together do not retry together."""
    ceiling = min(cap, base * 2.0**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class BaseApiClient:
    """What every upstream client does the same way. Subclasses set the class
    attributes and override the hooks (`secrets`, `headers`, `final_answer`,
    `transport_error`, `error_from_response`, `serious`), never `send`."""

    service: ClassVar[str] = "The upstream"
    logger: ClassVar[logging.Logger] = logging.getLogger("core.client")
    # Each subclass has its own, so that one upstream's connections never serve another.
    pool: ClassVar[SessionPool]
    # Keys whose values are secrets wherever they appear in a body kept on an error.
    secret_keys: ClassVar[frozenset[str]] = frozenset()
    # A Retry-After longer than this is not slept through: the caller (a web request, a
    # task) is better off failing now and trying later.
    max_retry_after: ClassVar[float] = 30.0
    backoff_base: ClassVar[float] = 0.5
    backoff_cap: ClassVar[float] = 8.0

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float = 10.0,
        max_retries: int = 3,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self._session = session or self.pool.get()
        self._sleep = sleep

    # --- Hooks ---------------------------------------------------------------------

    def secrets(self) -> tuple[str, ...]:
        """The client's own secrets (an API key, a client secret): never shown."""
        return ()

    def headers(self) -> dict[str, str]:
        """Headers sent on every call; a client adds its own."""
        return {"Accept": "application/json", "User-Agent": USER_AGENT}

    def final_answer(self, response: requests.Response) -> bool:
        """True when a 5xx (or 408) is the upstream's last word, not worth retrying."""
        return False

    def transport_error(
        self,
        exc: requests.RequestException,
        *,
        url: str,
        operation: str,
        attempts: int,
        outcome_unknown: bool,
    ) -> UpstreamError:
        """The client's error for a call that got no answer (logged by the caller)."""
        return UpstreamError(
            self.transport_message(exc, url, attempts),
            operation=operation,
            transient=True,
            outcome_unknown=outcome_unknown,
        )

    def error_from_response(
        self,
        response: requests.Response,
        operation: str,
        *,
        mutating: bool = False,
        secrets: tuple[str, ...] = (),
    ) -> UpstreamError:
        """The client's error for an answer of 400 or more (logged by the caller).

        This default quotes the body's `error` or `message` text, or a short plain-text
        body; a client maps its own error shapes onto its own classes.
        """
        status = response.status_code
        body = body_or_text(response)
        said = (body.get("error") or body.get("message")) if isinstance(body, dict) else body
        if not isinstance(said, str) or not said.strip() or len(said) > 300:
            said = f"{self.service} answered HTTP {status}"
        return UpstreamError(
            self.redact(said, secrets),
            operation=operation,
            status=status,
            body=self.scrub(body, secrets),
            transient=status >= 500 or status in (408, 429),
            outcome_unknown=mutating and (status >= 500 or status == 408),
        )

    def serious(self, exc: UpstreamError) -> bool | None:
        """Whether a failure is worth a warning; None lets the status decide."""
        return None

    # --- Secrets -------------------------------------------------------------------

    def redact(self, text: str, extra: tuple[str, ...] = ()) -> str:
        """`text` with the client's secrets and `extra` replaced."""
        for secret in (*self.secrets(), *extra):
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def scrub(self, value: Any, extra: tuple[str, ...] = ()) -> Any:
        """A copy of a JSON body fit to keep on an exception: secret fields and values
        replaced."""
        if isinstance(value, dict):
            return {
                key: REDACTED if key in self.secret_keys and item else self.scrub(item, extra)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.scrub(item, extra) for item in value]
        if isinstance(value, str):
            return self.redact(value, extra)
        return value

    def loggable(self, url: str, extra: tuple[str, ...] = ()) -> str:
        """Host and path of `url`, redacted: the query string (which may hold a secret
        or a member's data) is never logged."""
        parts = urlsplit(url)
        return self.redact(f"{parts.netloc}{parts.path}", extra)

    # --- Logging -------------------------------------------------------------------

    def logged[E: UpstreamError](self, exc: E) -> E:
        """Log an upstream failure once, where the client raises it, and hand it back.

        The exception's text is already free of secrets; the line adds what a person
        needs to find it: service, operation, status, error class. Server errors,
        transport failures, throttling and refused credentials are warnings; other 4xx
        (a missing record, a rejected claim) are part of normal work. A body we cannot
        read on a 2xx (status below 400) is the upstream's fault: a warning. `serious`
        lets a client that knows better decide.
        """
        status = exc.status
        serious = self.serious(exc)
        if serious is None:
            serious = (
                status is None or status < 400 or status >= 500 or status in (401, 402, 403, 429)
            )
        operation = exc.operation or ""
        self.logger.log(
            logging.WARNING if serious else logging.INFO,
            "%s %s failed: %s",
            self.service,
            operation or "call",
            exc,
            extra={
                "upstream": self.service,
                "operation": operation,
                "status": status,
                "error": type(exc).__name__,
                "outcome_unknown": bool(exc.outcome_unknown),
            },
        )
        return exc

    # --- Sending -------------------------------------------------------------------

    @classmethod
    def _backoff(cls, attempt: int) -> float:
        return backoff(attempt, base=cls.backoff_base, cap=cls.backoff_cap)

    def transport_problem(self, exc: requests.RequestException, url: str) -> str:
        """What went wrong below HTTP, as a clause: "could not reach X at host"."""
        host = urlsplit(url).netloc
        if isinstance(exc, requests.ConnectTimeout):
            return f"could not connect to {self.service} at {host} within {self.timeout:g} s"
        if isinstance(exc, requests.Timeout):
            return f"{self.service} at {host} did not answer within {self.timeout:g} s"
        if isinstance(exc, requests.ConnectionError):
            return f"could not reach {self.service} at {host}"
        return f"the request to {self.service} at {host} failed"

    def transport_message(self, exc: requests.RequestException, url: str, attempts: int) -> str:
        """What went wrong below HTTP, with the error's class and the tries, redacted."""
        detail = type(exc).__name__ + (f", after {attempts} attempts" if attempts > 1 else "")
        return self.redact(f"{self.transport_problem(exc, url)} ({detail})")

    def send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        idempotent: bool,
        mutating: bool | None = None,
        secrets: tuple[str, ...] = (),
        log_as: str | None = None,
        raise_for_status: bool = True,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        read_timeout: float | None = None,
    ) -> requests.Response:
        """Send one request, retrying only where that is safe; return the last response.

        Transport errors are retried for idempotent calls, or when nothing was sent;
        5xx and 408 for idempotent calls (unless `final_answer` says the answer is
        final); 429 for every call (a throttled request was not processed), honouring
        Retry-After up to `max_retry_after`. Redirects are never followed: they would
        carry credentials elsewhere and turn a POST into a GET.

        `mutating` (by default: not idempotent) says the call changes something
        upstream, so that a failure after the request may have landed is an unknown
        outcome. `secrets` are this call's own (a password, a store secret), redacted
        like the client's. `log_as` replaces the URL in log lines where even its path
        must not be logged. `read_timeout` replaces the client's timeout for the wait
        for an answer (a call known to take long). A call that got no answer raises
        `transport_error`; an
        answer of 400 or more raises `error_from_response` unless `raise_for_status`
        is False. Both are logged once, here.
        """
        mutating = not idempotent if mutating is None else mutating
        where = log_as or self.loggable(url, secrets)
        attempts = self.max_retries + 1
        request_headers = {**self.headers(), **(headers or {})}
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                response = self._session.request(
                    method,
                    url,
                    timeout=(self.timeout, read_timeout or self.timeout),
                    allow_redirects=False,
                    params=params,
                    json=json,
                    headers=request_headers,
                )
            except requests.RequestException as exc:
                ms = (time.monotonic() - started) * 1000
                error = type(exc).__name__
                self.logger.info(
                    "%s %s %s failed after %.0f ms: %s", self.service, method, where, ms, error
                )
                unsent = nothing_sent(exc)
                if isinstance(exc, TRANSIENT) and (idempotent or unsent) and attempt < attempts:
                    self._pause(method, where, attempt, self._backoff(attempt))
                    continue
                failure = self.transport_error(
                    exc,
                    url=url,
                    operation=operation,
                    attempts=attempt,
                    outcome_unknown=mutating and not unsent,
                )
                raise self.logged(failure) from exc
            ms = (time.monotonic() - started) * 1000
            status = response.status_code
            level = logging.DEBUG if status < 400 else logging.INFO
            self.logger.log(
                level, "%s %s %s -> %s in %.0f ms", self.service, method, where, status, ms
            )
            delay = (
                None if attempt == attempts else self._retry_delay(response, idempotent, attempt)
            )
            if delay is None:
                break
            self._pause(method, where, attempt, delay)
        if raise_for_status:
            self.check(response, operation, mutating=mutating, secrets=secrets)
        return response

    def _retry_delay(
        self, response: requests.Response, idempotent: bool, attempt: int
    ) -> float | None:
        """How long to wait before sending again, or None to keep this answer."""
        status = response.status_code
        if status == 429:
            wait = retry_after(response)
            if wait is not None and wait > self.max_retry_after:
                return None
            return wait if wait is not None else self._backoff(attempt)
        if (status >= 500 or status == 408) and idempotent and not self.final_answer(response):
            return self._backoff(attempt)
        return None

    def _pause(self, method: str, where: str, attempt: int, delay: float) -> None:
        self.logger.info(
            "%s %s %s: retry %d in %.2f s", self.service, method, where, attempt, delay
        )
        self._sleep(delay)

    def check(
        self,
        response: requests.Response,
        operation: str,
        *,
        mutating: bool = False,
        secrets: tuple[str, ...] = (),
    ) -> None:
        """Raise the client's error, logged, for an answer of 400 or more."""
        if response.status_code >= 400:
            raise self.logged(
                self.error_from_response(response, operation, mutating=mutating, secrets=secrets)
            )

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

import contextlib
import email.utils
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from django.conf import settings
from urllib3.exceptions import MaxRetryError, NewConnectionError

from core.http_session import SessionPool as SessionPool  # where the clients import it

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
    # Seconds after which the same call may succeed, when known.
    retry_after: float | None = None

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


# --- A time budget for the upstream calls of one web request -----------------------------
# A page must answer before gunicorn's worker timeout (30 s): inside `upstream_budget`
# each try gets at most what is left, no retry starts once it is spent, and a call fails
# fast (UpstreamBusy) while this process has `concurrency` calls waiting on that upstream
# or a timeout opened its breaker less than `breaker` seconds ago. Outside a budget
# (task workers, commands) nothing changes: full timeouts and retries.


class BudgetSpent(requests.Timeout):
    """The web request's time for upstream calls is spent."""


class UpstreamBusy(requests.ConnectionError):
    """Not sent: this process waits on the upstream as much as it may, or it just hung."""


@dataclass(frozen=True)
class Budget:
    deadline: float  # time.monotonic()
    concurrency: int  # at once per process and upstream; 0: no cap
    queue_wait: float
    breaker: float

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


Timeouts = tuple[float, float]  # (connect, read)
_BUDGET: ContextVar[Budget | None] = ContextVar("upstream_budget", default=None)
_GATES_LOCK = threading.Lock()
_SEMAPHORES: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_BREAKERS: dict[str, float] = {}  # service -> monotonic time its breaker closes


@contextlib.contextmanager
def upstream_budget(
    seconds: float, *, concurrency: int = 0, queue_wait: float = 1.0, breaker: float = 0.0
) -> Iterator[Budget]:
    """Upstream calls inside the block share `seconds`; see the comment above."""
    budget = Budget(time.monotonic() + seconds, int(concurrency), queue_wait, breaker)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def web_budget[F: Callable[..., Any]](view: F) -> F:
    """Run a view inside the WEB_UPSTREAM_* budget (settings read at each request)."""

    @functools.wraps(view)
    def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
        s = settings
        seconds, breaker = s.WEB_UPSTREAM_BUDGET, s.WEB_UPSTREAM_BREAKER_SECONDS
        wait, size = s.WEB_UPSTREAM_QUEUE_WAIT, s.WEB_UPSTREAM_CONCURRENCY
        with upstream_budget(seconds, concurrency=size, queue_wait=wait, breaker=breaker):
            return view(request, *args, **kwargs)

    return wrapped  # type: ignore[return-value]


def budget_remaining() -> float | None:
    """Seconds left in the current web request's budget; None outside one."""
    budget = _BUDGET.get()
    return None if budget is None else budget.remaining()


def breakers_reset() -> None:  # tests
    _BREAKERS.clear()


def _breaker_open(service: str) -> float:
    return max(0.0, _BREAKERS.get(service, 0.0) - time.monotonic())


def _breaker_trip(service: str, budget: Budget) -> None:
    if budget.breaker > 0:
        with _GATES_LOCK:
            _BREAKERS[service] = time.monotonic() + budget.breaker


def _semaphore(service: str, size: int) -> threading.BoundedSemaphore:
    with _GATES_LOCK:
        return _SEMAPHORES.setdefault((service, size), threading.BoundedSemaphore(size))


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
        if isinstance(exc, BudgetSpent):
            return f"{self.service} at {host} did not answer within the time a page may wait"
        if isinstance(exc, UpstreamBusy):
            return f"{self.service} at {host} was not asked: {exc}"
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
        budget = _BUDGET.get()
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                response = self._send_once(
                    budget,
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
                unsent = isinstance(exc, BudgetSpent | UpstreamBusy) or nothing_sent(exc)
                pause = self._backoff(attempt)
                if (
                    isinstance(exc, TRANSIENT)
                    and not isinstance(exc, BudgetSpent | UpstreamBusy)
                    and (idempotent or unsent)
                    and attempt < attempts
                    and (budget is None or pause < budget.remaining())
                ):
                    self._pause(method, where, attempt, pause)
                    continue
                failure = self.transport_error(
                    exc,
                    url=url,
                    operation=operation,
                    attempts=attempt,
                    outcome_unknown=mutating and not unsent,
                )
                if budget is not None:
                    failure.retry_after = max(1.0, _breaker_open(self.service), budget.breaker)
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
            if delay is None or (budget is not None and delay >= budget.remaining()):
                break
            self._pause(method, where, attempt, delay)
        if raise_for_status:
            self.check(response, operation, mutating=mutating, secrets=secrets)
        return response

    def _send_once(
        self, budget: Budget | None, method: str, url: str, *, timeout: Timeouts, **kwargs: Any
    ) -> requests.Response:
        """One try; inside a web request's budget, also its gates (see upstream_budget)."""
        if budget is None:
            return self._session.request(method, url, timeout=timeout, **kwargs)
        if _breaker_open(self.service) > 0:
            raise UpstreamBusy("it did not answer a moment ago")
        gate = _semaphore(self.service, budget.concurrency) if budget.concurrency > 0 else None
        wait = max(0.0, min(budget.queue_wait, budget.remaining()))
        if gate is not None and not gate.acquire(timeout=wait):
            raise UpstreamBusy("too many pages are waiting for it")
        try:
            if (left := budget.remaining()) < 0.05:
                raise BudgetSpent("no time left")
            clipped = (min(timeout[0], left), min(timeout[1], left))
            return self._session.request(method, url, timeout=clipped, **kwargs)
        except requests.Timeout as exc:
            if not isinstance(exc, BudgetSpent):
                _breaker_trip(self.service, budget)
            raise
        finally:
            if gate is not None:
                gate.release()

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

"""Plumbing the upstream clients share (connections/pipedream.py, claims/bitbadges.py).

Each client keeps its own rules (what is idempotent, how errors read); what is the same
for any JSON API over `requests` lives here: a pooled session per process, telling a
request that never left from one that may have been acted on, Retry-After, and keeping
secrets out of logs and exceptions.
"""

import email.utils
import logging
import random
import threading
import time
from datetime import UTC
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

REDACTED = "[redacted]"


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


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def scrub(value: Any, *, secret_keys: frozenset[str] | set[str], redact_text) -> Any:
    """A copy of a JSON body fit to keep on an exception: secret fields and values replaced."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if key in secret_keys and item
            else scrub(item, secret_keys=secret_keys, redact_text=redact_text)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrub(item, secret_keys=secret_keys, redact_text=redact_text) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


TRANSIENT = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class TransportFailure(Exception):
    """The request failed below HTTP (no answer), after `attempts` tries."""

    def __init__(self, exc: requests.RequestException, *, attempts: int) -> None:
        self.exc = exc
        self.attempts = attempts
        self.nothing_sent = nothing_sent(exc)
        super().__init__(f"{type(exc).__name__} after {attempts} attempt(s)")


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Exponential with "equal jitter": half fixed, half random, so that clients that
    failed together do not retry together."""
    ceiling = min(cap, base * 2**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def send_with_retries(
    session: requests.Session,
    method: str,
    url: str,
    *,
    service: str,
    where: str,
    logger: logging.Logger,
    timeout: float,
    max_retries: int,
    idempotent: bool,
    sleep,
    max_retry_after: float,
    backoff_base: float,
    backoff_cap: float,
    retry_server_error=lambda response: True,
    **request_kwargs,
) -> requests.Response:
    """Send one request, retrying only where that is safe; return the last response.

    Transport errors are retried for idempotent calls, or when nothing was sent; 5xx
    and 408 for idempotent calls (unless `retry_server_error` says the answer is final);
    429 for every call (a throttled request was not processed), honouring Retry-After
    up to `max_retry_after`. Redirects are never followed: they would carry credentials
    elsewhere and turn a POST into a GET. Raises TransportFailure when no answer came.
    """
    attempts = max_retries + 1
    for attempt in range(1, attempts + 1):
        started = time.monotonic()
        try:
            response = session.request(
                method, url, timeout=(timeout, timeout), allow_redirects=False, **request_kwargs
            )
        except requests.RequestException as exc:
            ms = (time.monotonic() - started) * 1000
            error = type(exc).__name__
            logger.info("%s %s %s failed after %.0f ms: %s", service, method, where, ms, error)
            retry = isinstance(exc, TRANSIENT) and (idempotent or nothing_sent(exc))
            if retry and attempt < attempts:
                delay = backoff(attempt, base=backoff_base, cap=backoff_cap)
                logger.info("%s %s %s: retry %d in %.2f s", service, method, where, attempt, delay)
                sleep(delay)
                continue
            raise TransportFailure(exc, attempts=attempt) from exc
        ms = (time.monotonic() - started) * 1000
        status = response.status_code
        level = logging.DEBUG if status < 400 else logging.INFO
        logger.log(level, "%s %s %s -> %s in %.0f ms", service, method, where, status, ms)
        if attempt == attempts:
            return response
        if status == 429:
            wait = retry_after(response)
            if wait is not None and wait > max_retry_after:
                return response
            delay = (
                wait if wait is not None else backoff(attempt, base=backoff_base, cap=backoff_cap)
            )
        elif (status >= 500 or status == 408) and idempotent and retry_server_error(response):
            delay = backoff(attempt, base=backoff_base, cap=backoff_cap)
        else:
            return response
        logger.info("%s %s %s: retry %d in %.2f s", service, method, where, attempt, delay)
        sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def log_upstream_error(
    logger: logging.Logger, service: str, exc: Exception, *, serious: bool | None = None
) -> Exception:
    """Log an upstream failure once, where the client raises it, and hand it back.

    The exception's own text is already free of secrets (the clients redact it); the
    line adds what a person needs to find it: service, operation, status, error class.
    Server errors, transport failures, throttling and refused credentials are warnings;
    other 4xx (a missing record, a rejected claim) are part of normal work. A body we
    cannot read on a 2xx (status below 400) is the upstream's fault: a warning. A client
    that knows better (BitBadges answers every claim refusal with a 500) says `serious`.
    """
    status = getattr(exc, "status", None)
    if serious is None:
        serious = status is None or status < 400 or status >= 500 or status in (401, 402, 403, 429)
    operation = getattr(exc, "operation", "") or ""
    logger.log(
        logging.WARNING if serious else logging.INFO,
        "%s %s failed: %s",
        service,
        operation or "call",
        exc,
        extra={
            "upstream": service,
            "operation": operation,
            "status": status,
            "error": type(exc).__name__,
            "outcome_unknown": bool(getattr(exc, "outcome_unknown", False)),
        },
    )
    return exc

"""Webhooks the site sends: where they may go, how they are signed, one try of a call.

Shared by the operators' alert webhooks (operations/alerts/) and the host site's
webhooks (webhooks/); each keeps its own messages, tries and settings.

- Where: a webhook URL is set by staff, but the site calls it from inside its own
  network, so it must not be a way to reach that network (SSRF): only https (plain
  http, and only to this machine, while DEBUG or SANDBOX is on), no user name or
  password in it, and a host whose every address is a public one. `check_url` runs when
  the URL is saved; `post` checks it again before each call (the host's addresses may
  have changed since) and connects to the address it checked.
- How they are signed: per the Standard Webhooks spec, headers webhook-id,
  webhook-timestamp and webhook-signature ("v1,<base64 HMAC-SHA256 of
  id.timestamp.body>"; several, space-separated, while an old secret is still honoured
  after a rotation), with secrets "whsec_<base64>" shown to staff once.
- One try: `post` sends the body byte for byte, follows no redirect, never retries by
  itself, and is cut at a hard deadline (core/webhook_deadline.py) however slowly the
  host's name is looked up or the receiver dribbles its answer; the answer's body is
  never read. `backoff` says how long to wait before the next try.
- A message's tries: both kinds keep a row per message on the abstract model `Message`
  (webhook-id, state, tries, next try, last status code and error, when delivered);
  `take_due` and `claim` take one for a try (committed before the call, so no
  transaction is open while a receiver answers), `try_once` makes it, `settle` records
  it, `overdue` finds what no worker took; `run_try` and `enqueue` are what their tasks
  on the task worker do.
"""

import base64
import contextlib
import datetime
import email.utils
import ipaddress
import logging
import random
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone
from standardwebhooks import Webhook
from urllib3 import HTTPConnectionPool

from core import netguard
from core import webhook_deadline as deadline_of
from core.secrets import SecretUnreadable

logger = logging.getLogger(__name__)

MAX_URL = 500
SECRET_BYTES = 32
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
_UNSAFE = re.compile(r"[\s\\\x00-\x1f\x7f]")


# --- Where a webhook may go -----------------------------------------------------------


class UrlRefused(ValueError):
    """A webhook URL the site will not call; `str(exc)` says why, for staff."""


def _local_allowed() -> bool:
    return bool(getattr(settings, "DEBUG", False) or getattr(settings, "SANDBOX", False))


@dataclass(frozen=True)
class Target:
    """Where one call goes: the host's address, checked now, which the call connects to
    (so a name that resolves elsewhere a moment later cannot redirect it), and what the
    request names (Host header, TLS server name, path)."""

    scheme: str
    host: str
    netloc: str
    port: int
    address: str
    path: str


def _vet(url: object, *, resolve: bool) -> tuple[str, Target | None]:
    if not isinstance(url, str) or not url.strip():
        raise UrlRefused("Enter the webhook's URL, e.g. https://hooks.example.com/connect.")
    url = url.strip()
    if len(url) > MAX_URL:
        raise UrlRefused(f"That URL is {len(url)} characters long; the limit is {MAX_URL}.")
    if _UNSAFE.search(url):
        raise UrlRefused("A webhook URL cannot hold spaces, backslashes or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused(
            "This is not a URL the site can call (its port is not a number)."
        ) from None
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("http", "https"):
        raise UrlRefused("Give the full URL, starting with https://.")
    if port == 0:
        raise UrlRefused("Port 0 is not a port a receiver can listen on.")
    try:  # an internationalised name as DNS, the Host header and TLS know it (xn--...)
        host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UrlRefused(f"{parts.hostname} is not a host name.") from None
    local = _local_allowed()
    if parts.scheme == "http" and not local:
        raise UrlRefused(
            "Webhooks are sent over https only: an http URL would carry them unencrypted."
        )
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(
            "Leave the user name and password out of the URL: the signature on each message "
            "tells your receiver it comes from this site."
        )
    if not resolve:
        return url, None
    port = port or (443 if parts.scheme == "https" else 80)
    try:  # the lookup and the address checks are shared (core/netguard.py)
        addresses = netguard.resolve(host, port)
    except OSError:
        raise UrlRefused(f"No address was found for the host {host}: check its spelling.") from None
    for found in addresses:
        if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped:
            found = found.ipv4_mapped
        if found.is_loopback and local:
            continue  # a receiver on this machine, for development and tests
        if parts.scheme == "http":
            raise UrlRefused("Plain http is only for a receiver on this machine (localhost).")
        if not netguard.is_public(found):
            raise UrlRefused(
                f"{host} is at {found}, which is not a public address: webhooks go only "
                "to hosts on the internet, never into the site's own network."
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    target = Target(parts.scheme, host, netloc, port, str(addresses[0]), path)
    return url, target


def check_url(url: object, *, resolve: bool = True) -> str:
    """The URL, stripped, when webhooks may be sent to it; else UrlRefused saying why."""
    return _vet(url, resolve=resolve)[0]


def target(url: str) -> Target:
    """Where to send to `url` now, every address of its host checked; else UrlRefused."""
    found = _vet(url, resolve=True)[1]
    assert found is not None  # resolve=True always answers one
    return found


def host_of(url: str) -> str:
    """The URL's host, which is what logs and error texts name (a path may hold a token)."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def masked(url: str) -> str:
    """The URL as staff who may only look see it: scheme, host and port, the rest hidden."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or "?"
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return "(hidden)"
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.scheme}://{netloc}/" + (
        "… (the rest is hidden: it may hold a token)" if hidden else ""
    )


# --- Signing --------------------------------------------------------------------------


class WebhookSecretUnreadable(SecretUnreadable):
    """A webhook's signing secret that none of CLAIM_SECRETS_KEYS can decrypt."""

    def __init__(self) -> None:
        super().__init__(
            "This webhook's signing secret cannot be decrypted with CLAIM_SECRETS_KEYS: the "
            "key that encrypted it is no longer configured. Rotate the secret."
        )


def new_secret() -> str:
    """A fresh signing secret in the spec's form: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    """A message's webhook-id: the same on every try and replay of that message."""
    return f"msg_{secrets.token_hex(16)}"


def signed_headers(
    secret: str | Sequence[str], message_id: str, body: str, at: datetime.datetime
) -> dict[str, str]:
    """The Standard Webhooks headers for `body`, sent at `at`, signed with each secret
    given (space-separated signatures: a receiver accepts the message if one verifies)."""
    keys = [secret] if isinstance(secret, str) else list(secret)
    moment = at.astimezone(datetime.UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(key).sign(message_id, moment, body) for key in keys),
    }


# --- One try --------------------------------------------------------------------------


class SendFailed(Exception):
    """One try did not deliver; `str(exc)` says why, without secrets or the URL's path.

    `status`: the receiver's status code, if it answered; `retry_after`: the seconds its
    Retry-After header asked for, if any."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header's wait in seconds (a number or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def post(
    url: str,
    body: str,
    message_id: str,
    keys: Callable[[], Sequence[str]],
    *,
    seconds: float,
    user_agent: str,
) -> int:
    """Send `body` to `url` once, signed now with each secret `keys()` gives; the 2xx
    status it got, or SendFailed saying why (the URL refused, a secret unreadable, no
    answer within `seconds` (the host's lookup included), a redirect, another status)."""
    deadline = time.monotonic() + seconds
    try:
        where = deadline_of.within(seconds, lambda: target(url))
        secrets_now = [key for key in keys() if key]
    except UrlRefused as exc:
        raise SendFailed(f"Not sent: {exc}") from None
    except SecretUnreadable as exc:
        raise SendFailed(str(exc)) from None
    except deadline_of.TooSlow:
        raise SendFailed(f"No address for {host_of(url)} was found within {seconds:g} s.") from None
    if not secrets_now:
        raise SendFailed("The webhook has no signing secret: rotate it to make one.")
    headers = {
        "Host": where.netloc,
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        **signed_headers(secrets_now, message_id, body, datetime.datetime.now(datetime.UTC)),
    }
    # Connect to the address just checked, not to whatever the name resolves to next
    # (DNS rebinding); TLS still verifies the certificate against the host's name.
    left = max(0.01, deadline - time.monotonic())
    timeout = urllib3.Timeout(
        connect=min(CONNECT_TIMEOUT, left), read=min(READ_TIMEOUT, left), total=left
    )
    pool: HTTPConnectionPool
    if where.scheme == "https":
        pool = deadline_of.TLSPool(
            where.address,
            where.port,
            timeout=timeout,
            retries=False,
            server_hostname=where.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            deadline=deadline,
        )
    else:
        pool = deadline_of.Pool(
            where.address, where.port, timeout=timeout, retries=False, deadline=deadline
        )
    response = None
    try:
        # The answer's body is never read (preload_content=False, then closed): a
        # receiver answering with gigabytes costs its status line and headers only.
        response = pool.urlopen(
            "POST",
            where.path,
            body=body.encode(),
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
        )
        status = response.status
        wait = retry_after_seconds(response.headers.get("Retry-After"))
    except deadline_of.TooSlow:
        raise SendFailed(f"{where.host} took more than {seconds:g} s to answer.") from None
    except urllib3.exceptions.HTTPError as exc:
        # Name the host only: the path of a webhook URL often carries a token.
        raise SendFailed(f"{where.host} could not be reached ({type(exc).__name__}).") from None
    finally:
        if response is not None:
            with contextlib.suppress(OSError):
                response.close()  # its connection too (it left the pool with the answer)
        pool.close()
    if 200 <= status < 300:
        return status
    if 300 <= status < 400:
        raise SendFailed(
            f"{where.host} answered {status} (a redirect, which webhooks do not follow: give "
            "the final URL).",
            status,
        )
    raise SendFailed(f"{where.host} answered {status}.", status, wait)


def backoff(
    attempts: int, *, base: float, ceiling: float, factor: float = 2.0, jitter: float = 0.0
) -> datetime.timedelta:
    """The wait after `attempts` failed tries: `base`, then times `factor` after each
    further failure, at most `ceiling`; with `jitter` (0 to 1) each wait is moved at
    random by up to that fraction either way, so receivers that failed together are not
    all tried again at the same moment."""
    steps = max(0, attempts - 1)
    try:
        wait = min(ceiling, base * factor**steps)
    except OverflowError:
        wait = ceiling
    if jitter:
        wait *= 1 + random.uniform(-jitter, jitter)  # spreading tries, not secrecy
    return datetime.timedelta(seconds=max(0.0, min(ceiling, wait)))


# --- A message's tries ----------------------------------------------------------------

ERROR_MAX = 2000


class Message(models.Model):
    """One message to one receiver and how its tries went (the fields both kinds keep)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    message_id = models.CharField(
        max_length=64, help_text="The webhook-id header: the same on every try and replay."
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        abstract = True


# How a message's tries went, in the order a delivery log shows them.
TRY_FIELDS = (
    "state",
    "attempts",
    "last_attempt_at",
    "next_attempt_at",
    "status_code",
    "error",
    "delivered_at",
)
PENDING, DELIVERED, FAILED = Message.State.PENDING, Message.State.DELIVERED, Message.State.FAILED


# How long a try's claim on its message outlasts the try's own deadline (the database
# and the host's lookup): a process that stops mid-try leaves it for that long.
LEASE_MARGIN = 30.0


def take_due(queryset: QuerySet[Any], pk: int) -> Any:
    """The pending message `pk`, locked, when its time has come; None when it was sent
    already, given up, is another process's now, or waits for its own scheduled try.
    Call inside a transaction: the lock lasts until it ends."""
    row = (
        queryset.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=pk, state=PENDING)
        .first()
    )
    if row is None or (row.next_attempt_at and row.next_attempt_at > timezone.now()):
        return None
    return row


def claim(row: Any, *, seconds: float) -> None:
    """Count a try of `row` (taken with `take_due`) and hold the message for it: its
    next try is set past the try's deadline, so no other process takes it meanwhile,
    and a process that stops mid-try (a restart, a crash) leaves it pending, taken
    again once that time has passed: never stuck. Saves it; the caller commits before
    the try, so no transaction stays open while the receiver is called."""
    now = timezone.now()
    row.attempts += 1
    row.last_attempt_at = now
    row.next_attempt_at = now + datetime.timedelta(seconds=seconds + LEASE_MARGIN)
    row.error = "This try has not finished: if it stays so, the process sending it stopped."
    row.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at", "error"])


def try_once(
    row: Any,
    send: Callable[[], int | None],
    *,
    most: int,
    wait: Callable[[int, SendFailed], datetime.timedelta],
    final: Callable[[SendFailed], bool] = lambda failure: False,
    what: str,
) -> None:
    """The try `claim` counted: call `send` (the status it got, None when there is
    none; SendFailed when it did not deliver) and note on `row` how it went: delivered;
    failed after `most` tries or a `final` failure; else pending again after `wait(tries
    so far, failure)`. Anything else `send` raises is a failed try too, named by its
    kind only (its text may hold a URL's path). `settle` saves it."""
    try:
        status = send()
    except Exception as exc:
        failure = (
            exc
            if isinstance(exc, SendFailed)
            else SendFailed(f"The try failed unexpectedly ({type(exc).__name__}).")
        )
        if not isinstance(exc, SendFailed):
            logger.error(
                "%s %s try %d: unexpected %s",
                what,
                row.pk,
                row.attempts,
                type(exc).__name__,
                extra={"webhook_message": row.pk, "message_kind": what},
            )
        row.error = str(failure)[:ERROR_MAX]
        row.status_code = failure.status
        if final(failure) or row.attempts >= max(1, most):
            row.state = FAILED
            row.next_attempt_at = None
        else:
            row.next_attempt_at = timezone.now() + wait(row.attempts, failure)
        logger.warning(
            "%s %s try %d failed: %s",
            what,
            row.pk,
            row.attempts,
            row.error,
            extra={"webhook_message": row.pk, "message_kind": what},
        )
    else:
        row.state = DELIVERED
        row.status_code = status
        row.delivered_at = timezone.now()
        row.next_attempt_at = None
        row.error = ""


def settle(queryset: QuerySet[Any], row: Any) -> bool:
    """Save how the try of `row` went, unless the message is no longer this try's (its
    claim ran out and another process took it, or staff settled it meanwhile): then
    False, and the other's outcome stands. Call inside a transaction."""
    current = (
        queryset.select_for_update(of=("self",))
        .filter(pk=row.pk, state=PENDING, attempts=row.attempts)
        .exists()
    )
    if current:
        row.save(update_fields=list(TRY_FIELDS))
    return current


def overdue(
    queryset: QuerySet[Any], now: datetime.datetime, grace: datetime.timedelta, limit: int = 200
) -> list[int]:
    """Pending messages a task worker should have taken more than `grace` ago."""
    return list(
        queryset.filter(state=PENDING)
        .filter(
            Q(next_attempt_at__lte=now - grace)
            | Q(next_attempt_at__isnull=True, created_at__lte=now - grace)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def enqueue(task: Any, pk: int, run_after: datetime.datetime | None, *, sweeper: str) -> None:
    """Queue `task` for message `pk` (at `run_after`, or now); never raises: the command
    `sweeper` (each minute, from the scheduler) sends whatever no worker took."""
    try:
        if run_after is None:
            task.enqueue(pk)
        else:
            task.using(run_after=run_after).enqueue(pk)
    except Exception:
        logger.exception("Webhook message %s: could not queue it; %s will", pk, sweeper)


def run_try(
    attempt: Callable[[int], datetime.datetime | None],
    task: Any,
    pk: int,
    queryset: QuerySet[Any],
    *,
    sweeper: str,
) -> str:
    """What a message's task does: one try (`attempt`), then, when it did not go through
    and tries are left, itself queued again for the time the backoff says; the state
    the message is in after."""
    again = attempt(pk)
    if again is not None:
        enqueue(task, pk, again, sweeper=sweeper)
    return queryset.filter(pk=pk).values_list("state", flat=True).first() or "missing"

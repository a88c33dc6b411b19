"""Sending one alert message: an email to the operators or a signed webhook call.

`attempt(delivery_id)` makes one try of a pending `AlertDelivery` whose time has come
and records it: delivered, or the status code / error and when to try again (the first
retry after ALERT_RETRY_BASE seconds, doubling up to ALERT_RETRY_MAX), or failed after
ALERT_ATTEMPTS tries. The row is locked while it is tried, so the worker and
`check_alerts` (which sends what the worker has not taken) never send it twice at once.
"""

import contextlib
import datetime
import logging
import socket
import threading
import time

import certifi
import urllib3
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection

from branding.selectors import brand_current
from core.secrets import SecretUnreadable
from operations.alerts import endpoints
from operations.models import AlertDelivery

logger = logging.getLogger(__name__)

USER_AGENT = "connect-and-claim-alerts"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
ERROR_MAX = 2000


class TooSlow(urllib3.exceptions.HTTPError):
    """The answer had not all come when the try's time was spent."""


class _CutOff:
    """A connection cut when its try's time is spent.

    urllib3's timeouts bound each read, not the whole answer: a receiver that sends a
    byte every few seconds would hold the sender (and the scheduler's pass) for ever. A
    timer armed when the connection opens shuts its socket at the deadline, which ends
    any read under way."""

    def __init__(self, *args, deadline: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline
        self._timer: threading.Timer | None = None
        self._was_cut = False

    def connect(self) -> None:
        self._timer = threading.Timer(max(0.0, self._deadline - time.monotonic()), self._cut)
        self._timer.daemon = True
        self._timer.start()
        super().connect()  # type: ignore[misc]

    def getresponse(self, *args, **kwargs):
        try:
            response = super().getresponse(*args, **kwargs)  # type: ignore[misc]
        except Exception:
            if self._was_cut:  # the read the cut ended, not the receiver
                raise TooSlow() from None
            raise
        if self._was_cut:  # what came before the cut may parse as a whole answer
            raise TooSlow()
        return response

    def _cut(self) -> None:
        self._was_cut = True
        sock = getattr(self, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                # The plain socket's shutdown: SSLSocket.shutdown() first drops its TLS
                # layer, and the reads after it would take the raw ciphertext as headers.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        super().close()  # type: ignore[misc]


class _CutHTTPConnection(_CutOff, HTTPConnection):
    pass


class _CutHTTPSConnection(_CutOff, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _CutHTTPConnection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _CutHTTPSConnection


def try_seconds(budget: float | None = None) -> float:
    """How long one try may take: ALERT_SEND_TIMEOUT, or less when `budget` is less."""
    seconds = max(0.1, float(settings.ALERT_SEND_TIMEOUT))
    return seconds if budget is None else max(0.1, min(seconds, budget))


class SendFailed(Exception):
    """One try did not deliver; `str(exc)` says why, without secrets; `status` if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def retry_delay(attempts: int) -> datetime.timedelta:
    base = float(settings.ALERT_RETRY_BASE)
    ceiling = float(settings.ALERT_RETRY_MAX)
    return datetime.timedelta(seconds=max(0.0, min(ceiling, base * 2 ** max(0, attempts - 1))))


def _send_email(delivery: AlertDelivery) -> None:
    recipients = [line for line in delivery.recipients.splitlines() if line.strip()]
    if not recipients:
        raise SendFailed("No recipients.")
    subject, _, body = delivery.payload.partition("\n\n")
    try:
        EmailMessage(
            subject=subject, body=body, from_email=brand_current().from_email, to=recipients
        ).send()
    except Exception as exc:  # SMTP refusals, timeouts, a mailer misconfigured
        raise SendFailed(f"The mail server refused it: {type(exc).__name__}") from None


def _send_webhook(delivery: AlertDelivery, now: datetime.datetime, seconds: float) -> int:
    endpoint = delivery.endpoint
    if endpoint is None:
        raise SendFailed("The webhook was deleted.")
    if not endpoint.enabled:
        raise SendFailed("The webhook is turned off.")
    try:
        target = endpoints.target(endpoint.url)
        secret = endpoint.secret()
    except endpoints.UrlRefused as exc:
        raise SendFailed(f"Not sent: {exc}") from None
    except SecretUnreadable as exc:
        raise SendFailed(str(exc)) from None
    if not secret:
        raise SendFailed("The webhook has no signing secret: rotate it to make one.")
    headers = {
        "Host": target.netloc,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **endpoints.signed_headers(secret, delivery.message_id, delivery.payload, now),
    }
    # Connect to the address just checked, not to whatever the name resolves to next
    # (DNS rebinding); TLS still verifies the certificate against the host's name.
    timeout = urllib3.Timeout(
        connect=min(CONNECT_TIMEOUT, seconds), read=min(READ_TIMEOUT, seconds), total=seconds
    )
    deadline = time.monotonic() + seconds
    pool: HTTPConnectionPool
    if target.scheme == "https":
        pool = _TLSPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            server_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            deadline=deadline,
        )
    else:
        pool = _Pool(target.address, target.port, timeout=timeout, retries=False, deadline=deadline)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=delivery.payload.encode(),
            headers=headers,
            redirect=False,
            retries=False,
        )
    except TooSlow:
        raise SendFailed(f"{target.host} took more than {seconds:g} s to answer.") from None
    except urllib3.exceptions.HTTPError as exc:
        # Name the host only: the path of a webhook URL often carries a token.
        raise SendFailed(f"{target.host} could not be reached ({type(exc).__name__}).") from None
    finally:
        pool.close()
    status = response.status
    if 200 <= status < 300:
        return status
    if 300 <= status < 400:
        raise SendFailed(
            f"{target.host} answered {status} (a redirect, which alerts do not follow: give "
            "the final URL).",
            status,
        )
    raise SendFailed(f"{target.host} answered {status}.", status)


def attempt(delivery_id: int, budget: float | None = None) -> datetime.datetime | None:
    """Try a pending delivery once if its time has come; when to try it again, or None.

    The try takes at most ALERT_SEND_TIMEOUT seconds, or `budget` when that is less."""
    with transaction.atomic():
        delivery = (
            AlertDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id, state=AlertDelivery.State.PENDING)
            .first()
        )
        now = timezone.now()
        if delivery is None:
            return None  # sent already, given up, or another process is trying it now
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return None  # its own scheduled task will come
        delivery.attempts += 1
        delivery.last_attempt_at = now
        try:
            if delivery.channel == AlertDelivery.Channel.EMAIL:
                _send_email(delivery)
                delivery.status_code = None
            else:
                delivery.status_code = _send_webhook(delivery, now, try_seconds(budget))
        except SendFailed as exc:
            delivery.error = str(exc)[:ERROR_MAX]
            delivery.status_code = exc.status
            if delivery.attempts >= max(1, int(settings.ALERT_ATTEMPTS)):
                delivery.state = AlertDelivery.State.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = timezone.now() + retry_delay(delivery.attempts)
            logger.warning(
                "Alert delivery %s (%s) try %d failed: %s",
                delivery.pk,
                delivery.channel,
                delivery.attempts,
                delivery.error,
                extra={"alert_delivery": delivery.pk},
            )
        else:
            delivery.state = AlertDelivery.State.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
            delivery.error = ""
        delivery.save()
        return delivery.next_attempt_at


def due(now: datetime.datetime, grace: datetime.timedelta) -> list[int]:
    """Pending deliveries the worker should have taken more than `grace` ago."""
    return list(
        AlertDelivery.objects.filter(state=AlertDelivery.State.PENDING)
        .filter(
            Q(next_attempt_at__lte=now - grace)
            | Q(next_attempt_at__isnull=True, created_at__lte=now - grace)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:200]
    )

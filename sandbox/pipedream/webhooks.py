"""Connection webhooks: recorded, then POSTed after the page that caused them has answered.

Pipedream sends CONNECTION_SUCCESS / CONNECTION_ERROR at the end of a connect flow, on
its own time. The sandbox does the same: `send_after_response()` hooks the delivery to
the response's close (which a WSGI server calls once the answer is written) and starts
a daemon thread there, so a server with a single worker never waits on itself when the
webhook points back at the same site.

Under the test client a test's transaction is still open when the response closes; a
thread could neither see nor update the delivery row then, so it stays pending. Tests
call `wait_for_deliveries()`, which joins the threads in flight and then delivers what
is still pending, in the calling thread: deterministic either way.

Each delivery is a `WebhookDelivery` row: attempts, last status, last error. A failed
attempt (connection error, timeout, non-2xx) is retried after RETRY_DELAYS.

Deployed triggers' events go through the same queue (sandbox/pipedream/triggers.py): their rows
carry the exact body to send and the headers that sign it (`enqueue(body=, headers=)`),
and a `source` (the trigger id). `cancel(source)` stops a trigger's deliveries: pending
ones are never sent, and one being retried stops before its next attempt.
"""

import functools
import logging
import threading
import time

import requests
from django.conf import settings
from django.db import OperationalError, connection
from django.utils import timezone

from sandbox.pipedream import services
from sandbox.pipedream.models import Account, ConnectToken, WebhookDelivery

logger = logging.getLogger(__name__)

# Seconds to wait before the 2nd and 3rd attempts; settable for tests.
RETRY_DELAYS = (0.5, 2.0)
TIMEOUT = 5.0  # seconds, connect and read, per attempt
USER_AGENT = "pipedream-sandbox-webhook/1.0"

_threads: set[threading.Thread] = set()
_threads_lock = threading.Lock()


def _retry_delays() -> tuple[float, ...]:
    return tuple(getattr(settings, "SANDBOX_WEBHOOK_RETRY_DELAYS", RETRY_DELAYS))


def _timeout() -> float:
    return float(getattr(settings, "SANDBOX_WEBHOOK_TIMEOUT", TIMEOUT))


def enqueue(
    *,
    event: str,
    url: str,
    payload: dict,
    body: str = "",
    headers: dict | None = None,
    source: str = "",
) -> WebhookDelivery:
    """Record a delivery to make; `send_after_response()` or `deliver()` sends it.

    With `body`, exactly those bytes are sent (what `headers` may sign); otherwise
    `payload` is sent as JSON.
    """
    return WebhookDelivery.objects.create(
        event=event, url=url, payload=payload, body=body, headers=headers or {}, source=source
    )


def cancel(source: str) -> int:
    """Stop the deliveries of `source` that are not done yet; returns how many."""
    return WebhookDelivery.objects.filter(
        source=source,
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.SENDING],
    ).update(status=WebhookDelivery.Status.CANCELLED, last_error="cancelled: source removed")


def connection_success(
    *, raw_token: str, token: ConnectToken, account: Account, base_url: str
) -> WebhookDelivery | None:
    """Record CONNECTION_SUCCESS for `token`'s webhook_uri (None when it has none)."""
    if not token.webhook_uri:
        return None
    payload = {
        "event": "CONNECTION_SUCCESS",
        "connect_token": raw_token,
        "environment": token.environment,
        "connect_session_id": int(token.connect_session_id),
        "account": services.account_json(account, base_url=base_url),  # no credentials
    }
    return enqueue(event="CONNECTION_SUCCESS", url=token.webhook_uri, payload=payload)


def connection_error(*, raw_token: str, token: ConnectToken, error: str) -> WebhookDelivery | None:
    """Record CONNECTION_ERROR for `token`'s webhook_uri (None when it has none)."""
    if not token.webhook_uri:
        return None
    payload = {
        "event": "CONNECTION_ERROR",
        "connect_token": raw_token,
        "environment": token.environment,
        "connect_session_id": int(token.connect_session_id),
        "error": error,
    }
    return enqueue(event="CONNECTION_ERROR", url=token.webhook_uri, payload=payload)


def send_after_response(response, deliveries: list[WebhookDelivery]):
    """Send `deliveries` once `response` has been written (from its close hook)."""
    ids = [delivery.pk for delivery in deliveries]
    if ids:
        # HttpResponse.close() calls every _resource_closers entry; WSGI servers call
        # close() after the body is sent, the test client right after the view.
        response._resource_closers.append(functools.partial(_dispatch, ids))
    return response


def _dispatch(ids: list[int]) -> None:
    if connection.in_atomic_block:
        logger.debug("Webhook deliveries %s left pending: a transaction is open", ids)
        return
    for delivery_id in ids:
        thread = threading.Thread(
            target=_deliver_in_thread,
            args=(delivery_id,),
            name=f"sandbox-webhook-{delivery_id}",
            daemon=True,
        )
        with _threads_lock:  # the thread's own removal waits for this block
            _threads.add(thread)
            thread.start()


def _deliver_in_thread(delivery_id: int) -> None:
    try:
        deliver(delivery_id)
    except Exception:
        logger.exception("Webhook delivery %s failed unexpectedly", delivery_id)
    finally:
        connection.close()
        with _threads_lock:
            _threads.discard(threading.current_thread())


def _with_db_retry(func, attempts: int = 5):
    """Run a short write, retrying while SQLite reports a locked table (tests only)."""
    for attempt in range(attempts):
        try:
            return func()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def deliver(delivery_id: int) -> WebhookDelivery | None:
    """Send one pending delivery now, with retries.

    The row is claimed with a conditional UPDATE (pending -> sending), so a delivery
    goes out once even when a thread and `run_pending()` race for it. Should recording
    fail midway, the claim is released and the delivery is pending again.
    """
    claimed = _with_db_retry(
        lambda: WebhookDelivery.objects.filter(
            pk=delivery_id, status=WebhookDelivery.Status.PENDING
        ).update(status=WebhookDelivery.Status.SENDING, last_attempt_at=timezone.now())
    )
    delivery = _with_db_retry(lambda: WebhookDelivery.objects.filter(pk=delivery_id).first())
    if not claimed or delivery is None:
        return delivery
    try:
        _attempt_all(delivery)
    except Exception:
        _with_db_retry(
            lambda: WebhookDelivery.objects.filter(
                pk=delivery_id, status=WebhookDelivery.Status.SENDING
            ).update(status=WebhookDelivery.Status.PENDING)
        )
        raise
    return delivery


def _attempt_all(delivery: WebhookDelivery) -> None:
    """Attempt, then retry; each outcome is recorded only while the row is still ours
    ("sending"): a delivery cancelled meanwhile is left as it is and not tried again."""
    delays = _retry_delays()
    for attempt in range(len(delays) + 1):
        if attempt:
            time.sleep(delays[attempt - 1])
        if not WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookDelivery.Status.SENDING
        ).exists():
            return  # cancelled
        status_code, error = _post(delivery.url, delivery.payload, delivery.body, delivery.headers)
        ok = status_code is not None and 200 <= status_code < 300
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = "" if ok else error
        delivery.last_attempt_at = timezone.now()
        if ok:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = delivery.last_attempt_at
        elif attempt == len(delays):
            delivery.status = WebhookDelivery.Status.FAILED
        fields = {
            name: getattr(delivery, name)
            for name in (
                "attempts",
                "last_status_code",
                "last_error",
                "last_attempt_at",
                "status",
                "delivered_at",
            )
        }
        updated = _with_db_retry(
            lambda fields=fields: WebhookDelivery.objects.filter(
                pk=delivery.pk, status=WebhookDelivery.Status.SENDING
            ).update(**fields)
        )
        if ok or not updated:
            return
        logger.warning(
            "Webhook %s to %s, attempt %s: %s", delivery.event, delivery.url, attempt + 1, error
        )


def _post(
    url: str, payload: dict, body: str = "", headers: dict | None = None
) -> tuple[int | None, str]:
    sent = {"User-Agent": USER_AGENT, "Connection": "close", **(headers or {})}
    if body:
        sent["Content-Type"] = "application/json"
        content = {"data": body.encode()}
    else:
        content = {"json": payload}
    try:
        # A fresh connection each time, closed after: a kept-alive one would hold a
        # thread (or the only worker) of the receiving server for nothing.
        response = requests.post(
            url, headers=sent, timeout=_timeout(), allow_redirects=False, **content
        )
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:1000]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    body_text = " ".join(response.text.split())[:200]  # one line, for logs and the page
    return response.status_code, f"HTTP {response.status_code}: {body_text}"


def run_pending() -> list[WebhookDelivery]:
    """Deliver every pending delivery now, in this thread; returns them."""
    ids = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [delivery for delivery in map(deliver, ids) if delivery is not None]


def _join_threads(deadline: float) -> None:
    while True:
        with _threads_lock:
            running = list(_threads)
        if not running:
            return
        for thread in running:
            thread.join(max(0.0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            raise TimeoutError("Webhook deliveries still running at the deadline")


def wait_for_deliveries(timeout: float = 30.0) -> list[WebhookDelivery]:
    """For tests: finish the deliveries in flight, then send the pending ones.

    A client can read the page's answer before the server has closed the response,
    so the thread that sends its webhook may start only after this is called; a row
    some thread has claimed ("sending") is therefore waited for too, not just the
    threads already known. Returns every delivery recorded so far, oldest first.
    """
    deadline = time.monotonic() + timeout
    while True:
        _join_threads(deadline)
        run_pending()
        _join_threads(deadline)
        if not WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SENDING).exists():
            return list(WebhookDelivery.objects.order_by("pk"))
        if time.monotonic() >= deadline:
            raise TimeoutError(f"Webhook deliveries still sending after {timeout} s")
        time.sleep(0.02)


def retry(delivery: WebhookDelivery) -> None:
    """Put a failed delivery back in the queue (the sandbox page's Retry button)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, last_error=""
    )

"""Receiving trigger deliveries: wake-up calls, never evidence.

A delivery's URL carries our own reference to the deployment, signed with Django's
signing (a forged or altered one is refused, and nothing changes); the delivery is
stored and answered at once; at most TRIGGER_CHECK_RATE_LIMIT deliveries per
deployment and window ask for a task (those past it are acknowledged and ask for
nothing, and one wake-up runs after the window). Only an accepted delivery keeps its raw
body (for RETENTION_BODY_DAYS); a refused, throttled or duplicate one keeps its digest and
size, so a flood stores little.

Pipedream documents that it signs trigger deliveries with HMAC-SHA256 and the trigger's
signing key, but no public source gives the header names and the signed string. So the
signature is verified only when PIPEDREAM_TRIGGER_SIGNATURE names a format ("pd-v1":
X-PD-Signature t=<ts>,v1=<hex HMAC-SHA256(key, "<ts>.<event id>.<body>")>, X-PD-Event-Id;
the sandbox's, unconfirmed); with "none" (the default) a delivery to a valid reference
is accepted, and every delivery whose signature was not verified keeps its headers
(secrets redacted) so an operator can read the real format on the first live day.
"""

import datetime
import hashlib
import hmac
import logging
import re
import time

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from claims import queue
from claims.models import TriggerDelivery, TriggerDeployment
from claims.secrets import SecretUnreadable
from claims.triggers.deploy import REFERENCE_SALT
from connections.services.webhooks import refusal_recordable
from core import ratelimit

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-PD-Signature"
TIMESTAMP_HEADER = "X-PD-Timestamp"
EVENT_ID_HEADER = "X-PD-Event-Id"
FRESHNESS = 300  # seconds either way
BODY_MAX = 64 * 1024
REFUSED_BODY_MAX = 0  # a refused delivery keeps no body: its digest and size only


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def signature_format() -> str:
    return getattr(settings, "PIPEDREAM_TRIGGER_SIGNATURE", "none")


def _signature_ok(key: str, headers, body: bytes) -> str:
    """pd-v1: the event id when the signature is the deployment's and fresh; else Refused."""
    signature = headers.get(SIGNATURE_HEADER, "")
    event_id = headers.get(EVENT_ID_HEADER, "")
    try:
        parts = dict(item.split("=", 1) for item in signature.split(","))
        stamp, given = parts["t"], parts["v1"]
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            raise ValueError
        if not (len(given) == 64 and all(c in "0123456789abcdef" for c in given)):
            raise ValueError
        timestamp = int(stamp)
    except (KeyError, ValueError):
        raise Refused(401, "Missing or malformed signature.") from None
    if not event_id or len(event_id) > 200:
        raise Refused(400, "Missing or malformed event id.")
    if abs(time.time() - timestamp) > FRESHNESS:
        raise Refused(401, "The signature is too old (or from the future).")
    message = f"{timestamp}.{event_id}.".encode() + body
    expected = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise Refused(401, "The signature does not match.")
    return event_id


_REDACTED_NAMES = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
_SECRET_WORDS = ("signature", "key", "token", "secret", "auth", "password", "session")
_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}")


def _shape(value: str) -> str:
    """A value's format without its content: long runs become <N digits|hex|chars>."""

    def kind(match: re.Match[str]) -> str:
        run = match.group()
        what = "digits" if run.isdigit() else "hex" if re.fullmatch(r"[0-9a-f]+", run) else "chars"
        return f"<{len(run)} {what}>"

    return _RUN.sub(kind, value)[:200]


def headers_kept(headers) -> dict[str, str]:
    """The headers an operator needs to learn a delivery's real signature format, with
    secrets out: credentials and cookies dropped to a mark; a header named like a
    signature, key or token kept as its shape and a digest (never its value)."""
    kept: dict[str, str] = {}
    for name, value in list(headers.items())[:60]:
        name = str(name)[:100]
        lower = name.lower()
        text = str(value).replace("\x00", "\ufffd")
        if lower in _REDACTED_NAMES:
            kept[name] = "[redacted]"
        elif any(word in lower for word in _SECRET_WORDS):
            digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
            kept[name] = (
                f"[redacted: {len(text)} characters, shape {_shape(text)!r}, sha256 {digest}]"
            )
        else:
            kept[name] = text[:500]
    return kept


def _deployment_for(reference: str) -> TriggerDeployment:
    """The live deployment our signed reference names; Refused when forged or gone."""
    try:
        deployment_id = signing.loads(reference or "", salt=REFERENCE_SALT)
    except signing.BadSignature:
        raise Refused(400, "Missing or tampered deployment reference.") from None
    if not isinstance(deployment_id, int):
        raise Refused(400, "Missing or tampered deployment reference.")
    deployment = (
        TriggerDeployment.objects.select_related("claim", "member").filter(pk=deployment_id).first()
    )
    if deployment is None or deployment.status != TriggerDeployment.Status.ACTIVE:
        raise Refused(410, "This trigger is no longer deployed here.")
    return deployment


def _verified_event_id(deployment: TriggerDeployment, headers, body: bytes) -> str:
    """The event id a configured signature format vouches for; "" when none is configured."""
    if signature_format() != "pd-v1":
        return ""
    try:
        key = deployment.signing_key()
    except SecretUnreadable:
        raise Refused(401, "The deployment's signing key cannot be read.") from None
    if not key:
        raise Refused(401, "The deployment has no signing key.")
    return _signature_ok(key, headers, body)


def delivery_receive(
    *, reference: str, headers, body: bytes, client: str | None = None
) -> TriggerDelivery:
    """Store the delivery raw, verify what can be verified, and record the outcome (never
    raises Refused: the returned delivery says, and `.http_status` is the answer to give).

    A refusal is stored at most WEBHOOK_REFUSED_RATE_LIMIT times per window for `client`
    (the caller's address, core.ratelimit.client_ip; without one, every caller shares
    one count) and WEBHOOK_REFUSED_SITE_RATE_LIMIT for the site: past either, the
    returned delivery is the same refusal, unsaved (no pk).

    A delivery is a wake-up call, never evidence: its body is stored, not read. What it
    can do is ask, at most TRIGGER_CHECK_RATE_LIMIT times per deployment and window, for
    a task that reads the trigger's events list and the member's state upstream."""
    # As text a database stores: PostgreSQL refuses NUL characters. Only an accepted
    # delivery keeps it; every one keeps its digest and size.
    raw = body[:BODY_MAX].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    seen = {"body_digest": hashlib.sha256(body).hexdigest(), "body_size": len(body)}
    deployment = None
    try:
        if len(body) > BODY_MAX:
            raise Refused(413, "The delivery is too large.")
        deployment = _deployment_for(reference)
        event_id = _verified_event_id(deployment, headers, body)
    except Refused as exc:
        delivery = TriggerDelivery(
            deployment=deployment,
            event_id=str(headers.get(EVENT_ID_HEADER, ""))[:200].replace("\x00", "\ufffd"),
            **seen,
            headers=headers_kept(headers) if deployment is not None else {},
            outcome=TriggerDelivery.Outcome.REFUSED,
            detail=exc.message,
        )
        delivery.http_status = exc.status
        if refusal_recordable("trigger-webhook", client):
            delivery.save(force_insert=True)
            logger.warning("Trigger delivery %s refused: %s", delivery.pk, exc.message)
        return delivery
    kept = {} if event_id else headers_kept(headers)
    unchecked = "" if event_id else "Signature not checked (PIPEDREAM_TRIGGER_SIGNATURE=none). "
    count, seconds = settings.TRIGGER_CHECK_RATE_LIMIT
    wait = ratelimit.hit("trigger-check", deployment.pk, limit=count, window=seconds)
    if wait is not None:
        delivery = TriggerDelivery.objects.create(
            deployment=deployment,
            event_id=event_id,
            **seen,
            headers=kept,
            outcome=TriggerDelivery.Outcome.THROTTLED,
            detail=f"{unchecked}Over {count} checks in {seconds} s: no check asked for.",
        )
        # One wake-up after the window, so the window's last event is not left unread.
        # (The mark lasts until the window ends: the first throttled delivery sets it.)
        if cache.add(f"trigger-wake:{deployment.pk}", 1, timeout=wait):
            run_after = timezone.now() + datetime.timedelta(seconds=wait)
            transaction.on_commit(lambda: queue.trigger_event(delivery.pk, run_after=run_after))
        delivery.http_status = 200
        return delivery
    try:
        with transaction.atomic():
            delivery = TriggerDelivery.objects.create(
                deployment=deployment,
                event_id=event_id,
                body=raw,
                **seen,
                headers=kept,
                outcome=TriggerDelivery.Outcome.ACCEPTED,
                detail=f"{unchecked}A wake-up call: the check reads the events list.",
            )
            TriggerDeployment.objects.filter(pk=deployment.pk).update(
                last_event_at=timezone.now(), events=F("events") + 1
            )
            transaction.on_commit(lambda: queue.trigger_event(delivery.pk))
    except IntegrityError:
        delivery = TriggerDelivery.objects.create(
            deployment=deployment,
            event_id=event_id,
            **seen,
            outcome=TriggerDelivery.Outcome.DUPLICATE,
            detail="This event was received before; nothing changes.",
        )
    delivery.http_status = 202 if delivery.outcome == TriggerDelivery.Outcome.ACCEPTED else 200
    return delivery

"""Signed references of ours: a connect session in Pipedream's URIs, and emailed links.

Pipedream's connection webhooks are not signed, so the webhook URI and the redirect
URIs carry our own signed reference to the session; emailed links carry a signed,
expiring payload. Both use django.core.signing with their own salt, so a value made
for one purpose is worthless for the other.
"""

import datetime
import uuid

from django.core import signing
from django.utils import timezone

SESSION_SALT = "connections.session"
SESSION_MAX_AGE = datetime.timedelta(days=7)
EMAILED_LINK_SALT = "connections.emailed-link"


def _now() -> datetime.datetime:
    """A seam for tests."""
    return timezone.now()


def session_reference_make(public_id: uuid.UUID) -> str:
    return signing.TimestampSigner(salt=SESSION_SALT).sign(public_id.hex)


def session_reference_read(reference: str) -> uuid.UUID | None:
    """The session's public id, or None when the reference is bad, tampered or too old."""
    if not reference or len(reference) > 200:
        return None
    try:
        value = signing.TimestampSigner(salt=SESSION_SALT).unsign(
            reference, max_age=SESSION_MAX_AGE
        )
        return uuid.UUID(hex=value)
    except (signing.BadSignature, ValueError):
        return None


class EmailedLinkExpired(Exception):
    pass


class EmailedLinkInvalid(Exception):
    pass


def emailed_link_sign(*, member_pk: int, external_id: str, app_slug: str, expires_at) -> str:
    payload = {"m": member_pk, "x": external_id, "a": app_slug, "e": int(expires_at.timestamp())}
    return signing.dumps(payload, salt=EMAILED_LINK_SALT, compress=True)


def emailed_link_read(signed: str) -> dict:
    """The payload as {member_pk, external_id, app_slug}; raises EmailedLink* errors."""
    if not signed or len(signed) > 500:
        raise EmailedLinkInvalid
    try:
        payload = signing.loads(signed, salt=EMAILED_LINK_SALT)
    except signing.BadSignature:
        raise EmailedLinkInvalid from None
    if not isinstance(payload, dict) or not {"m", "x", "a", "e"} <= payload.keys():
        raise EmailedLinkInvalid
    if payload["e"] <= _now().timestamp():
        raise EmailedLinkExpired
    return {"member_pk": payload["m"], "external_id": payload["x"], "app_slug": payload["a"]}

"""Signed references of ours: a connect session in Pipedream's URIs, and emailed links.

Pipedream's connection webhooks are not signed, so the webhook URI and the redirect
URIs carry our own signed reference to the session (django.core.signing, its own
salt). An emailed link carries an encrypted, expiring payload (core.secrets, its own
purpose): opaque to whoever sees the link, since it names a member and perhaps an
account. A value made for one purpose is worthless for the other.
"""

import datetime
import json
import uuid

from django.core import signing
from django.utils import timezone

from core.secrets import SecretUnreadable, Vault

SESSION_SALT = "connections.session"
SESSION_MAX_AGE = datetime.timedelta(days=7)


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


class EmailedLinkInvalid(SecretUnreadable):
    pass


_EMAILED = Vault(b"connections.emailed-link", EmailedLinkInvalid)


def emailed_link_sign(
    *,
    member_pk: int,
    external_id: str,
    app_slug: str,
    expires_at,
    reconnect_pk: int | None = None,
    nonce: str = "",
) -> str:
    payload = {
        "m": member_pk,
        "x": external_id,
        "a": app_slug,
        "e": int(expires_at.timestamp()),
        "r": reconnect_pk,
        "n": nonce or uuid.uuid4().hex,
    }
    return _EMAILED.encrypt(json.dumps(payload, separators=(",", ":"))).rstrip("=")


def emailed_link_read(signed: str) -> dict:
    """The payload as {member_pk, external_id, app_slug, reconnect_pk, nonce}; raises
    EmailedLink* errors."""
    if not signed or len(signed) > 500 or not signed.isascii():
        raise EmailedLinkInvalid
    try:
        payload = json.loads(_EMAILED.decrypt(signed + "=" * (-len(signed) % 4)))
    except (ValueError, UnicodeError):
        raise EmailedLinkInvalid from None
    if not isinstance(payload, dict) or not {"m", "x", "a", "e", "n"} <= payload.keys():
        raise EmailedLinkInvalid
    if payload["e"] <= _now().timestamp():
        raise EmailedLinkExpired
    return {
        "member_pk": payload["m"],
        "external_id": payload["x"],
        "app_slug": payload["a"],
        "reconnect_pk": payload.get("r"),
        "nonce": str(payload["n"]),
    }

"""API keys: how one is made, what is kept of it, and how a presented one is checked.

A key reads `cck_<public id>_<secret>`: "cck_" says whose key it is (a scanner or a
person finds it in a paste), the public id (10 hex digits) is kept in clear as the key's
prefix, shown in the admin's lists and usable in logs, and the secret is 32 random bytes
(43 URL-safe characters). Only the SHA-256 digest of the whole key is stored.

Why SHA-256 and not a password hash (PBKDF2, Argon2): a password hash is slow on
purpose, because people choose passwords from a small space that a thief of the table
could otherwise try in full. This key has 256 random bits from the operating system's
CSPRNG; no speed of hashing makes trying 2**256 keys possible, so a slow hash would add
nothing against a stolen table, while it would cost every API request tens of
milliseconds of CPU (and give anyone who sends keys a cheap way to load the server). A
fast hash of a high-entropy secret is what GitHub, Stripe and the like do for tokens.
"""

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from api.models import ApiKey

MARK = "cck_"
_SHAPE = re.compile(r"cck_([0-9a-f]{10})_([A-Za-z0-9_-]{43})")
# At most one write of `last_used_at` per key per this long, whatever the traffic.
TOUCH_EVERY = timedelta(minutes=1)
# Compared against when no key has the presented prefix, so that an unknown prefix costs
# the same work as a wrong secret.
_NO_DIGEST = hashlib.sha256(b"no key has this prefix").hexdigest()


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


@sensitive_variables("key")
def new_key() -> tuple[str, str, str]:
    """A fresh key: (the key itself, its public prefix, its digest). The key is given to
    the person who made it once and never kept."""
    while True:
        public = secrets.token_hex(5)
        prefix = f"{MARK}{public}"
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, digest_of(key)


@sensitive_variables("token", "presented")
def find(token: str) -> ApiKey | None:
    """The key `token` is, or None (not our shape, or no such key). One query; the
    digests are compared in constant time."""
    match = _SHAPE.fullmatch(token)
    if match is None:
        return None
    key = ApiKey.objects.filter(prefix=f"{MARK}{match[1]}").first()
    presented = digest_of(token)
    if not hmac.compare_digest(presented, key.digest if key is not None else _NO_DIGEST):
        return None
    return key


def touch(key: ApiKey) -> None:
    """Record that `key` was used: at most one write per TOUCH_EVERY (the row already
    loaded says whether one is due, and the update's condition keeps several processes
    from all writing at once)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_EVERY:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY)
    ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
    key.last_used_at = now

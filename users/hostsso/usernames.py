"""A username for a member who signs up from the host site: made from what the host calls
them (preferred_username, else the email's local part, else "member"), read as it looks
(users.lookalikes.plain), kept to the characters a username here may have, never a
reserved name nor one starting with it (no "admin-2"), never taken (a number after it,
then random digits). The member can read it on their profile; nobody chooses it."""

from __future__ import annotations

import re
import secrets
import unicodedata

from allauth.account.adapter import get_adapter
from allauth.account.internal.userkit import filter_users_by_username
from django.conf import settings
from django.core.exceptions import ValidationError

from users.lookalikes import plain

FALLBACK = "member"
MAX_BASE = 24
_NOT_ALLOWED = re.compile(r"[^a-z0-9._-]+")


def _reserved(name: str) -> bool:
    lowered = name.lower()
    return any(
        lowered.startswith(word.lower()) for word in settings.ACCOUNT_USERNAME_BLACKLIST if word
    )


def _ascii(text: str) -> str:
    """Accents dropped (é -> e), then anything else that is not ASCII."""
    decomposed = unicodedata.normalize("NFKD", plain(text))
    return (
        "".join(c for c in decomposed if not unicodedata.combining(c))
        .encode("ascii", "ignore")
        .decode()
    )


def base(identity: dict) -> str:
    """The name to start from: letters, digits, . _ - only, at most MAX_BASE long."""
    local_part = (identity.get("email") or "").partition("@")[0]
    for source in (identity.get("preferred_username") or "", local_part):
        name = _NOT_ALLOWED.sub("-", _ascii(source).lower()).strip(".-_")[:MAX_BASE].strip(".-_")
        if len(name) >= 2 and not _reserved(name):
            return name
    return FALLBACK


def _usable(name: str) -> bool:
    if filter_users_by_username(name).exists():
        return False
    try:
        get_adapter().clean_username(name)
    except ValidationError:
        return False
    return True


def candidates(identity: dict, *, attempt: int = 0):
    """Names to try, in order; from the second attempt on (another sign-up took the one
    chosen meanwhile) random ones."""
    name = base(identity)
    if attempt == 0:
        yield name
        for number in range(2, 10):
            yield f"{name}-{number}"
    while True:
        yield f"{name}-{secrets.token_hex(3)}"


def new_username(identity: dict, *, attempt: int = 0) -> str:
    for tries, name in enumerate(candidates(identity, attempt=attempt)):
        if _usable(name) or tries > 20:
            return name
    raise AssertionError("unreachable")  # candidates never ends

"""The one-click unsubscribe token: signed (its own salt), naming a member and a kind.

It never expires (an email read months later still unsubscribes) but names the member
by their external id, which no other member ever gets: once the member is deleted the
token names nobody. Nothing but a token this site signed is read.
"""

import uuid
from dataclasses import dataclass

from django.core import signing

from notifications.models import Kind

SALT = "notifications.unsubscribe"
# A token is about 90 characters; anything much longer was not made here.
MAX_LENGTH = 300


@dataclass(frozen=True)
class Unsubscribe:
    member_external_id: uuid.UUID
    kind: str


def token_for(member, kind: str) -> str:
    return signing.dumps([str(member.external_id), kind], salt=SALT, compress=False)


def token_read(token: str) -> Unsubscribe | None:
    """What a token names, or None for anything this site did not sign as such."""
    if not isinstance(token, str) or not token or len(token) > MAX_LENGTH:
        return None
    try:
        value = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, UnicodeError):
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        return None
    external_id, kind = value
    if kind not in Kind.values:
        return None
    try:
        return Unsubscribe(uuid.UUID(external_id), kind)
    except ValueError:
        return None

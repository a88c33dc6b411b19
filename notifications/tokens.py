"""The one-click unsubscribe token: opaque, signed (its own salt), naming a member and a
kind.

It reads "<member pk>.<kind code>.<fingerprint>:<signature>". The fingerprint is a
hash of the member's external id, so the token reveals nothing a reader could use
elsewhere (the external id is also the member's id at Pipedream) and stops naming anyone
once the member is deleted, even if the database hands their pk to someone else. It never
expires (an email read months later still unsubscribes); it is checked with SECRET_KEY
and then SECRET_KEY_FALLBACKS, so rotating the key keeps old links working for as long as
the old key stays a fallback. Nothing but a token this site signed is read.
"""

import hashlib
import hmac
from dataclasses import dataclass

from django.core import signing

from notifications.models import Kind

SALT = "notifications.unsubscribe.v2"
# A token is about 70 characters; anything much longer was not made here.
MAX_LENGTH = 300
KIND_CODES = {Kind.BADGE_EARNED: "b", Kind.ACCOUNT_BROKEN: "a"}
CODE_KINDS = {code: kind for kind, code in KIND_CODES.items()}


@dataclass(frozen=True)
class Unsubscribe:
    member_pk: int
    kind: str
    fingerprint: str

    def names(self, member) -> bool:
        """Whether the token was made for this member (and not one who had the pk before)."""
        return hmac.compare_digest(self.fingerprint, fingerprint(member))


def fingerprint(member) -> str:
    """A hash of the member's external id (a random UUID: the hash gives it away to
    nobody). Not keyed with SECRET_KEY, so that rotating the key keeps it the same: the
    signature, which also accepts SECRET_KEY_FALLBACKS, is what proves the token ours."""
    return hashlib.sha256(f"{SALT}:{member.external_id}".encode()).hexdigest()[:16]


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT, algorithm="sha256")


def token_for(member, kind: str) -> str:
    return _signer().sign(f"{member.pk}.{KIND_CODES[Kind(kind)]}.{fingerprint(member)}")


def token_read(token: str) -> Unsubscribe | None:
    """What a token names, or None for anything this site did not sign as such."""
    if not isinstance(token, str) or not token or len(token) > MAX_LENGTH:
        return None
    try:
        value = _signer().unsign(token)
    except (signing.BadSignature, ValueError, UnicodeError):
        return None
    parts = value.split(".")
    if len(parts) != 3:
        return None
    pk, code, print_ = parts
    if not pk.isascii() or not pk.isdigit() or len(pk) > 18 or code not in CODE_KINDS:
        return None
    return Unsubscribe(int(pk), CODE_KINDS[code], print_)

"""Claim secrets (BitBadges passwords, dynamic store secrets) encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`, keyed by CLAIM_SECRETS_KEYS:
each configured string is stretched into a Fernet key with HKDF; the first encrypts,
all of them decrypt (MultiFernet), so a key can be rotated without losing anything.
`manage.py claim_secrets_rotate` re-encrypts every stored secret with the newest key.
"""

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret none of the configured keys can decrypt."""

    def __init__(self) -> None:
        super().__init__(
            "A stored claim secret cannot be decrypted with CLAIM_SECRETS_KEYS: "
            "the key that encrypted it is no longer configured. Enter the secret again."
        )


def _fernet(key: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"connect-claim/claim-secrets"
    ).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


@functools.cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet(key) for key in keys])


def cipher() -> MultiFernet:
    return _cipher(tuple(settings.CLAIM_SECRETS_KEYS))


def encrypt(value: str) -> str:
    """The ciphertext of `value` (empty for an empty value: no secret stored)."""
    if not value:
        return ""
    return cipher().encrypt(value.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return cipher().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable() from None


def rotate(ciphertext: str) -> str:
    """The same secret encrypted with the newest key."""
    if not ciphertext:
        return ""
    try:
        return cipher().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable() from None

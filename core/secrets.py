"""Secrets the site stores, encrypted at rest with the keys of CLAIM_SECRETS_KEYS.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`. Each configured key is stretched
with HKDF under a purpose of its own (claims' passwords, staff's second factors), so one
kind of ciphertext never decrypts as another. The first key encrypts and every key
decrypts (MultiFernet): a key can be rotated without losing anything, and
`manage.py claim_secrets_rotate` re-encrypts everything with the newest.
"""

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys can decrypt."""


def _fernet(key: str, purpose: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


@functools.cache
def _cipher(keys: tuple[str, ...], purpose: bytes) -> MultiFernet:
    return MultiFernet([_fernet(key, purpose) for key in keys])


class Vault:
    """Encrypts and decrypts one kind of secret; `unreadable` is what it raises."""

    def __init__(self, purpose: bytes, unreadable: type[SecretUnreadable]) -> None:
        self.purpose = purpose
        self.unreadable = unreadable

    def cipher(self) -> MultiFernet:
        return _cipher(tuple(settings.CLAIM_SECRETS_KEYS), self.purpose)

    def encrypt(self, value: str) -> str:
        """The ciphertext of `value` (empty for an empty value: nothing stored)."""
        if not value:
            return ""
        return self.cipher().encrypt(value.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        if not ciphertext:
            return ""
        try:
            return self.cipher().decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise self.unreadable() from None

    def rotate(self, ciphertext: str) -> str:
        """The same secret encrypted with the newest key."""
        if not ciphertext:
            return ""
        try:
            return self.cipher().rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise self.unreadable() from None

"""Claim secrets (BitBadges passwords, dynamic store secrets) encrypted at rest.

core.secrets' Vault under the purpose "claim-secrets", keyed by CLAIM_SECRETS_KEYS
(the first encrypts, all decrypt); `manage.py claim_secrets_rotate` re-encrypts every
stored secret with the newest key.
"""

from core.secrets import SecretUnreadable as _Unreadable
from core.secrets import Vault


class SecretUnreadable(_Unreadable):
    """A stored claim secret none of the configured keys can decrypt."""

    def __init__(self) -> None:
        super().__init__(
            "A stored claim secret cannot be decrypted with CLAIM_SECRETS_KEYS: "
            "the key that encrypted it is no longer configured. Enter the secret again."
        )


_vault = Vault(b"connect-claim/claim-secrets", SecretUnreadable)
cipher = _vault.cipher
encrypt = _vault.encrypt
decrypt = _vault.decrypt
rotate = _vault.rotate

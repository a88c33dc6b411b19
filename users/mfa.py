"""Staff's and members' second factors: allauth.mfa with its secrets encrypted at rest.

allauth stores a TOTP key and the seed of the recovery codes in the database, in the
clear unless its adapter encrypts them. Here they are kept with the keys of
CLAIM_SECRETS_KEYS under a purpose of their own, and `claim_secrets_rotate` re-encrypts
them with the rest (`rotate_authenticators`).
"""

import logging

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from core.secrets import SecretUnreadable, Vault

logger = logging.getLogger(__name__)


class AuthenticatorUnreadable(SecretUnreadable):
    """A stored second-factor secret none of the configured keys can decrypt."""


_vault = Vault(b"connect-claim/mfa", AuthenticatorUnreadable)


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return _vault.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        try:
            return _vault.decrypt(encrypted_text)
        except AuthenticatorUnreadable:
            # Never fall back to anything guessable (an empty TOTP key gives codes anyone
            # can compute): the sign-in stops, and an administrator resets the factor.
            logger.error("A second-factor secret cannot be decrypted with CLAIM_SECRETS_KEYS")
            raise PermissionDenied(
                _(
                    "Your second factor cannot be read with this site's keys. Ask an "
                    "administrator to remove it (admin: Authenticators), then set it up again."
                )
            ) from None


# Where each kind of authenticator keeps its encrypted secrets in `data`.
_SECRET_KEYS = {
    Authenticator.Type.TOTP: ["secret"],
    Authenticator.Type.RECOVERY_CODES: ["seed", "migrated_codes"],
}


def _rotated(value):
    if isinstance(value, list):
        return [_vault.rotate(item) for item in value]
    return _vault.rotate(value)


def rotate_authenticators(*, dry_run: bool) -> tuple[int, list[str]]:
    """Re-encrypt every stored second-factor secret with the newest key.

    Returns how many secrets were (or, with dry_run, could be) re-encrypted, and a
    description of each authenticator no key can read (left as it is)."""
    rotated, unreadable = 0, []
    with transaction.atomic():
        authenticators = Authenticator.objects.select_for_update().filter(
            type__in=list(_SECRET_KEYS)
        )
        for authenticator in authenticators.select_related("user").order_by("pk"):
            data = dict(authenticator.data)
            try:
                for key in _SECRET_KEYS[authenticator.type]:
                    if data.get(key):
                        data[key] = _rotated(data[key])
                        rotated += 1
            except AuthenticatorUnreadable:
                unreadable.append(f"the {authenticator.get_type_display()} of {authenticator.user}")
                continue
            if not dry_run:
                Authenticator.objects.filter(pk=authenticator.pk).update(data=data)
    return rotated, unreadable

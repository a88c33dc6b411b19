"""Re-encrypt every stored secret with the newest CLAIM_SECRETS_KEYS key: claims'
passwords and store secrets, the signing keys of deployed triggers, and the secrets of
staff's and members' second factors (TOTP keys, recovery code seeds).

To rotate: put a new key first in CLAIM_SECRETS_KEYS (keep the old one after it), run
this command, then remove the old key. A secret no configured key can read is named,
left as it is, and makes the command fail, so nothing is silently lost.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from claims import secrets
from claims.models import Claim, TriggerDeployment
from users.mfa import rotate_authenticators


class Command(BaseCommand):
    help = (
        "Re-encrypt every claim password, store secret, trigger signing key and second-factor "
        "secret with the first key of CLAIM_SECRETS_KEYS. Run it after adding a new key in "
        "front, before removing the old one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check that every secret can be read; write nothing.",
        )

    def handle(self, *args, dry_run=False, **options):
        rotated, unreadable = 0, []
        with transaction.atomic():
            for claim in Claim.objects.select_for_update().order_by("pk"):
                changed = False
                for field in ("password_encrypted", "store_secret_encrypted"):
                    ciphertext = getattr(claim, field)
                    if not ciphertext:
                        continue
                    try:
                        fresh = secrets.rotate(ciphertext)
                    except secrets.SecretUnreadable:
                        unreadable.append(f"{claim.slug} ({field.removesuffix('_encrypted')})")
                        continue
                    setattr(claim, field, fresh)
                    changed = True
                    rotated += 1
                if changed and not dry_run:
                    claim.save(update_fields=["password_encrypted", "store_secret_encrypted"])
            deployments = TriggerDeployment.objects.select_for_update().exclude(
                signing_key_encrypted=""
            )
            for deployment in deployments.select_related("claim").order_by("pk"):
                try:
                    fresh = secrets.rotate(deployment.signing_key_encrypted)
                except secrets.SecretUnreadable:
                    unreadable.append(
                        f"the signing key of trigger {deployment.pipedream_id or deployment.pk} "
                        f"({deployment.claim.slug})"
                    )
                    continue
                rotated += 1
                if not dry_run:
                    TriggerDeployment.objects.filter(pk=deployment.pk).update(
                        signing_key_encrypted=fresh
                    )
            factors, factors_unreadable = rotate_authenticators(dry_run=dry_run)
            rotated += factors
            unreadable += factors_unreadable
        verb = "can be re-encrypted" if dry_run else "re-encrypted with the newest key"
        self.stdout.write(f"{rotated} secret(s) {verb}.")
        if unreadable:
            raise CommandError(
                "No configured key can read: "
                + ", ".join(unreadable)
                + ". Put the key that encrypted them back in CLAIM_SECRETS_KEYS, or enter "
                "these secrets again in the admin (a trigger's signing key comes back when "
                "the trigger is deployed again; a second factor is removed under "
                "Authenticators and set up again by its owner)."
            )

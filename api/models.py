"""API keys for the read API (api/keys.py makes and checks them; the admin hands them out)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Scope(models.TextChoices):
    """What a key may read. Every scope is read-only: the API changes nothing."""

    COMPLETIONS_READ = "completions:read", "completions:read: members' and claims' completions"
    ACCOUNTS_READ = "accounts:read", "accounts:read: a member's connected apps"


class ApiKey(models.Model):
    """A key the host site's servers call the API with. Only its digest is kept."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    name = models.CharField(
        max_length=100, help_text="Who uses it and where, e.g. 'Community site, production'."
    )
    prefix = models.CharField(
        max_length=20,
        unique=True,
        editable=False,
        help_text="The key's public start: how to tell keys apart in lists and logs.",
    )
    # SHA-256 of the whole key (api/keys.py says why a fast hash is right here).
    digest = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, blank=True, help_text="What the key may read.")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Optional: the key stops working at this time."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="To the minute."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
        related_name="+",
    )

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at", "-pk"]
        permissions = [("revoke_apikey", "Can revoke API keys")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def state_at(self, now=None) -> str:
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at is not None and self.expires_at <= (now or timezone.now()):
            return self.State.EXPIRED
        return self.State.ACTIVE

    @property
    def state(self) -> str:
        return self.state_at()

    def allows(self, scope: str) -> bool:
        return isinstance(self.scopes, list) and scope in self.scopes

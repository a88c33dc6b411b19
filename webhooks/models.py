"""Signed webhooks to the host site: where they go, each message, and each try.

- `Endpoint`: a URL of the host site that receives events, the event types it wants
  (all when none is ticked), and its signing secret (Standard Webhooks, "whsec_..."),
  encrypted at rest with CLAIM_SECRETS_KEYS. After a rotation the previous secret is
  kept, encrypted too, until `previous_secret_until`: until then each message carries
  both signatures, so the host can switch secrets without losing a message.
- `Delivery`: one event's message to one endpoint: its webhook-id (shared by every
  endpoint the event goes to, kept on every try and every replay), the exact JSON body
  sent, and where it stands (pending, delivered, failed). A replay is a new row with
  the same webhook-id and body, `replay_of` naming the original.
- `Attempt`: one try of a delivery: when, how long it took, the status code or why
  there was none.
"""

import contextlib
import datetime

from django.db import models
from django.utils import timezone

from core.secrets import Vault
from core.webhooks import Message, WebhookSecretUnreadable

# Signing secrets: encrypted at rest with the claim-secret keys, under a purpose of their own.
endpoint_secrets = Vault(b"connect-claim/host-webhook-secrets", WebhookSecretUnreadable)


class EventType(models.TextChoices):
    COMPLETION_COMPLETED = "completion.completed", "A completion completed"
    COMPLETION_FAILED = "completion.failed", "A completion failed"
    COMPLETION_REVOKED = "completion.revoked", "A completion was revoked"
    ACCOUNT_HEALTH_CHANGED = "account.health_changed", "A connected account's health changed"
    MEMBER_DELETED = "member.deleted", "A member deleted their account"
    TEST = "webhook.test", "Test (Send test in the admin)"


# What an endpoint can choose among (a test goes to the endpoint it was sent from).
SUBSCRIBABLE = [choice for choice in EventType.choices if choice[0] != EventType.TEST]


class Endpoint(models.Model):
    name = models.CharField(max_length=100, help_text="For you, e.g. Community site.")
    url = models.CharField(
        "URL",
        max_length=500,
        help_text="https URL of the host site that receives a signed POST for each event.",
    )
    enabled = models.BooleanField(
        default=True, help_text="Off: no new message is made for it, and waiting ones fail."
    )
    event_types = models.JSONField(
        default=list,
        blank=True,
        help_text="The event types it receives; none ticked means all of them.",
    )
    secret_encrypted = models.TextField(blank=True, editable=False)
    secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_until = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Until then, messages are signed with the secret before the last rotation too.",
    )
    disabled_reason = models.TextField(
        blank=True,
        editable=False,
        help_text="Why the site turned it off by itself (the receiver answered 410 Gone).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = "webhook endpoint"

    def __str__(self):
        return self.name

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def set_secret(self, raw: str, *, overlap: datetime.timedelta | None = None) -> None:
        """Sign with `raw` from now on; with `overlap`, the secret it replaces still signs
        beside it for that long."""
        now = timezone.now()
        try:  # a secret no configured key can read cannot sign beside the new one
            previous = endpoint_secrets.rotate(self.secret_encrypted) if overlap else ""
        except WebhookSecretUnreadable:
            previous = ""
        self.previous_secret_encrypted = previous
        self.previous_secret_until = now + overlap if previous and overlap else None
        self.secret_encrypted = endpoint_secrets.encrypt(raw)
        self.secret_set_at = now

    def signing_secrets(self, now: datetime.datetime | None = None) -> list[str]:
        """The secrets each message is signed with now: the current one, and the previous
        one while its overlap lasts (left out when no configured key reads it any more).
        WebhookSecretUnreadable if the current one cannot be read."""
        found = [endpoint_secrets.decrypt(self.secret_encrypted)]
        until = self.previous_secret_until
        if self.previous_secret_encrypted and until and until > (now or timezone.now()):
            with contextlib.suppress(WebhookSecretUnreadable):
                found.append(endpoint_secrets.decrypt(self.previous_secret_encrypted))
        return [secret for secret in found if secret]


class Delivery(Message):
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    message_id = models.CharField(
        max_length=64,
        help_text="The webhook-id header: the same on every try and replay, and for every "
        "endpoint the event went to.",
    )
    body = models.TextField(help_text="The JSON body sent, byte for byte.")
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        permissions = [("replay_delivery", "Can replay webhook deliveries")]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]
        constraints = [
            # One message per event and endpoint (a replay is a row of its own).
            models.UniqueConstraint(
                fields=["endpoint", "message_id"],
                condition=models.Q(replay_of__isnull=True),
                name="webhooks_delivery_once_per_endpoint",
            )
        ]

    def __str__(self):
        return f"{self.event_type} → {self.endpoint} ({self.state})"


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = "try"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error[:60]}"

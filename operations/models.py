"""Alerts: what needs an operator, and how they were told.

- `Incident`: one condition that needs an operator (completions failing, outcomes
  unknown too long, a backlog, Pipedream refusing the workspace's credentials, BitBadges
  out of credits). One open row per (kind, key) at a time: while the condition lasts,
  each check updates its count and last_seen_at; nobody is told twice.
- `AlertEndpoint`: a webhook URL an operator configured, with its signing secret
  (Standard Webhooks, "whsec_..."), encrypted at rest like claim secrets.
- `AlertDelivery`: one message (an email to the operators, or one webhook call) about
  one incident event, with its attempts; a replay is a new row with the same message id.

Around every `migrate`, the data version's triggers are dropped and (re)installed
(claims/funnel/version.py): the admin home and the funnel keep their figures under it.
"""

from django.db import models
from django.db.models.signals import post_migrate, pre_migrate
from django.utils import timezone

from claims.funnel import version as data_version
from core.secrets import Vault
from core.webhooks import Message, WebhookSecretUnreadable

# Signing secrets: encrypted at rest with the claim-secret keys, under a purpose of their own.
endpoint_secrets = Vault(b"connect-claim/alert-webhook-secrets", WebhookSecretUnreadable)


def _install_data_version(sender, using: str = "default", **kwargs) -> None:
    """After `migrate` (once, for this app: every table it watches exists by then)."""
    if sender.name == "operations":
        data_version.install(using)


def _uninstall_data_version(sender, using: str = "default", **kwargs) -> None:
    """Before `migrate` (once, for this app)."""
    if sender.name == "operations":
        data_version.uninstall(using)


pre_migrate.connect(_uninstall_data_version, dispatch_uid="operations.data_version_off")
post_migrate.connect(_install_data_version, dispatch_uid="operations.data_version")


class Incident(models.Model):
    class Kind(models.TextChoices):
        FAILING = "failing", "Completions failing"
        UNKNOWN = "unknown", "Outcomes unknown"
        BACKLOG = "backlog", "Completions backlog"
        PIPEDREAM = "pipedream", "Pipedream refuses the credentials"
        CREDITS = "credits", "BitBadges out of credits"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(
        max_length=200, blank=True, help_text="What it concerns within its kind, if any."
    )
    summary = models.TextField(
        help_text="What was last seen, as the emails and webhooks say it (no raw error texts)."
    )
    detail = models.TextField(
        blank=True,
        help_text="What only the admin shows: e.g. the most common error text, which may quote "
        "members' addresses or upstream answers.",
    )
    count = models.PositiveIntegerField(
        default=0, help_text="Rows concerned: completions failed since it opened, waiting..."
    )
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the operators' messages were queued."
    )

    class Meta:
        ordering = ["-opened_at", "-pk"]
        permissions = [("receive_alerts", "Receives alert emails")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=models.Q(resolved_at__isnull=True),
                name="operations_incident_one_open_per_kind_key",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.summary}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class AlertEndpoint(models.Model):
    name = models.CharField(max_length=100, help_text="For you, e.g. On-call pager.")
    url = models.CharField(
        "URL",
        max_length=500,
        help_text="https URL that receives a signed POST for each incident opened or resolved.",
    )
    enabled = models.BooleanField(default=True)
    secret_encrypted = models.TextField(blank=True, editable=False)
    secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = "alert webhook"

    def __str__(self):
        return self.name

    def set_secret(self, raw: str) -> None:
        self.secret_encrypted = endpoint_secrets.encrypt(raw)
        self.secret_set_at = timezone.now()

    def secret(self) -> str:
        return endpoint_secrets.decrypt(self.secret_encrypted)


class AlertDelivery(Message):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Event(models.TextChoices):
        OPENED = "incident.opened", "Incident opened"
        RESOLVED = "incident.resolved", "Incident resolved"
        TEST = "test", "Test"

    channel = models.CharField(max_length=10, choices=Channel.choices)
    event = models.CharField(max_length=20, choices=Event.choices)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    endpoint = models.ForeignKey(
        AlertEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    recipients = models.TextField(blank=True, help_text="Email addresses, one a line.")
    payload = models.TextField(help_text="The body sent, exactly (JSON).")
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            # One message per incident event and target: two checks running at once
            # cannot both send it (a replay is a row of its own).
            models.UniqueConstraint(
                fields=["incident", "event", "endpoint"],
                condition=models.Q(
                    replay_of__isnull=True, incident__isnull=False, channel="webhook"
                ),
                name="operations_webhook_once_per_incident_event",
            ),
            models.UniqueConstraint(
                fields=["incident", "event"],
                condition=models.Q(replay_of__isnull=True, incident__isnull=False, channel="email"),
                name="operations_email_once_per_incident_event",
            ),
        ]

    def __str__(self):
        target = self.endpoint or "operators' email"
        return f"{self.get_event_display()} → {target} ({self.state})"

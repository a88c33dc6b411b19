"""Event-driven claims' models: a claim's trigger deployed at Pipedream, and what it
delivered. Django models of the claims app (claims/models.py imports them)."""

from django.conf import settings
from django.db import models

from claims import secrets


class TriggerDeployment(models.Model):
    """A claim's trigger deployed at Pipedream: once per claim and member (on the member's
    account), or once per claim with no member (on the site's account, watching a shared
    resource; each event then checks the members it names)."""

    class Status(models.TextChoices):
        DEPLOYING = "deploying", "Deploying"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Not deployed (retried by recheck_claims)"
        REMOVING = "removing", "Removing"

    # A claim with deployments is not deleted: disabling it removes them upstream first.
    claim = models.ForeignKey("claims.Claim", on_delete=models.PROTECT, related_name="deployments")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="trigger_deployments",
        help_text="Empty for the claim's one deployment on the site's account.",
    )
    account = models.ForeignKey(
        "connections.ConnectedAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="trigger_deployments",
    )
    site_account = models.ForeignKey(
        "connections.SiteAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="trigger_deployments",
    )
    account_pipedream_id = models.CharField(
        max_length=100, blank=True, help_text="The account it runs on, as Pipedream names it."
    )
    pipedream_id = models.CharField("Pipedream trigger ID", max_length=100, blank=True)
    error = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DEPLOYING)
    signing_key_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    deploy_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the latest deploy of this row began."
    )
    last_event_at = models.DateTimeField(null=True, blank=True)
    events = models.PositiveIntegerField(default=0)
    events_cursor = models.BigIntegerField(
        default=0,
        editable=False,
        help_text="The newest event (epoch ms) read from the trigger's events list.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim", "member"],
                condition=models.Q(member__isnull=False),
                name="deployment_one_per_claim_member",
            ),
            models.UniqueConstraint(
                fields=["claim"],
                condition=models.Q(member__isnull=True),
                name="deployment_one_per_claim_site",
            ),
        ]

    def __str__(self):
        owner = self.member if self.member_id else "the site"
        return f"{self.claim} · {owner} · {self.pipedream_id or self.status}"

    @property
    def on_site_account(self) -> bool:
        return self.member_id is None

    def external_user_id(self) -> str:
        """Whom Pipedream deployed it for: the member, or the site's external user."""
        if self.member is None:
            return settings.PIPEDREAM_SITE_EXTERNAL_USER_ID
        return str(self.member.external_id)

    def set_signing_key(self, raw: str) -> None:
        self.signing_key_encrypted = secrets.encrypt(raw)

    def signing_key(self) -> str:
        return secrets.decrypt(self.signing_key_encrypted)


class TriggerDelivery(models.Model):
    """A POST to the trigger webhook, stored before anything is trusted.

    An accepted delivery keeps its raw body for RETENTION_BODY_DAYS; a refused, throttled
    or duplicate one keeps only its digest and size (nothing reads it). `manage.py
    prune_records` removes what is past retention (claims/retention.py)."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DUPLICATE = "duplicate", "Duplicate (no change)"
        THROTTLED = "throttled", "Over the rate limit (no check asked)"
        REFUSED = "refused", "Refused"

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    deployment = models.ForeignKey(
        TriggerDeployment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    event_id = models.CharField(max_length=200, blank=True, db_index=True)
    body = models.TextField(
        blank=True,
        help_text="The raw body of an accepted delivery, as received; empty otherwise, and "
        "once removed after the retention period.",
    )
    body_digest = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the body.")
    body_size = models.PositiveIntegerField(default=0, help_text="Bytes received.")
    headers = models.JSONField(
        default=dict,
        blank=True,
        help_text="The request headers when the signature was not verified (secrets redacted).",
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    http_status = 200  # not stored: what the webhook answers (set by claims.triggers)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "trigger deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "event_id"],
                # Only a verified event id is one: unsigned deliveries carry none.
                condition=models.Q(outcome="accepted") & ~models.Q(event_id=""),
                name="trigger_delivery_once_per_event",
            )
        ]

    def __str__(self):
        return f"{self.event_id or 'delivery'} ({self.outcome})"

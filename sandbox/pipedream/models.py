"""The emulated Pipedream's state: what a project knows, its deliveries and triggers.

Credentials (OAuth access tokens, Connect tokens) are stored as SHA-256 hashes, the way a
real service would: the raw value is shown once, to whoever asked for it. Accounts and
external users are keyed by (project, environment), like Pipedream's.
"""

import hashlib
import secrets
import time

from django.db import models
from django.utils import timezone

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def sortable_id(prefix: str) -> str:
    """`prefix` + 9 base-36 digits of the time in ms + 6 random ones.

    Digits and lowercase letters sort the same way in every database collation, so ids
    sort by creation time: list endpoints page by id, and a cursor stays meaningful
    even when its account has since been deleted.
    """
    number = int(time.time() * 1000)
    stamp = []
    for _ in range(9):
        number, digit = divmod(number, 36)
        stamp.append(_BASE36[digit])
    tail = "".join(secrets.choice(_BASE36) for _ in range(6))
    return prefix + "".join(reversed(stamp)) + tail


class Environment(models.TextChoices):
    DEVELOPMENT = "development", "development"
    PRODUCTION = "production", "production"


class OAuthAccessTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(expires_at__gt=timezone.now())


class OAuthAccessToken(models.Model):
    """A server-side bearer from POST /v1/oauth/token (client-credentials grant)."""

    token_hash = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=200)
    scope = models.CharField(max_length=500, default="*")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    objects = OAuthAccessTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "OAuth access token"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.client_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class ConnectToken(models.Model):
    """A Connect token (ctok_...): one external user, one environment, one account."""

    token_hash = models.CharField(max_length=64, unique=True)
    token_hint = models.CharField(max_length=20, help_text="The first characters, for people.")
    project_id = models.CharField(max_length=100)
    environment = models.CharField(max_length=20, choices=Environment.choices)
    external_user_id = models.CharField(max_length=250)
    allowed_origins = models.JSONField(default=list, blank=True)
    success_redirect_uri = models.TextField(blank=True)
    error_redirect_uri = models.TextField(blank=True)
    webhook_uri = models.TextField(blank=True)
    scope = models.CharField(max_length=500, default="connect:*")
    allow_progressive_scopes = models.BooleanField(default=False)
    # Digits of a 128-bit number: the real ids do not fit a database integer.
    connect_session_id = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    account = models.ForeignKey(
        "Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The account created (or reconnected) with this token.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.token_hint}… for {self.external_user_id} ({self.environment})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_used(self) -> bool:
        return self.used_at is not None

    @property
    def state(self) -> str:
        if self.is_used:
            return "used"
        if self.is_expired:
            return "expired"
        return "valid"


class ExternalUser(models.Model):
    """One of the project's end users, as Pipedream knows them (exu_...)."""

    public_id = models.CharField(max_length=40, unique=True)
    project_id = models.CharField(max_length=100)
    environment = models.CharField(max_length=20, choices=Environment.choices)
    external_id = models.CharField(max_length=250)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["public_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project_id", "environment", "external_id"],
                name="sandbox_external_user_unique",
            )
        ]

    def __str__(self):
        return f"{self.external_id} ({self.environment})"


class AccountQuerySet(models.QuerySet):
    def scoped(self, project_id: str, environment: str):
        return self.filter(user__project_id=project_id, user__environment=environment)


class Account(models.Model):
    """A connected account (apn_...) of an external user, with what its upstream reports."""

    account_id = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(ExternalUser, on_delete=models.CASCADE, related_name="accounts")
    app_slug = models.CharField(max_length=100)
    oauth_app_id = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=200, blank=True)
    healthy = models.BooleanField(default=True)
    dead = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    authorized_scopes = models.JSONField(default=list, blank=True)
    custom_fields = models.JSONField(
        default=dict, blank=True, help_text="Values entered for a key-based app's fields."
    )
    profile = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the emulated upstream reports (read by the demo actions).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["account_id"]

    def __str__(self):
        return f"{self.account_id} ({self.app_slug}, {self.user.external_id})"


class WebhookDelivery(models.Model):
    """One webhook and its attempts: a connection webhook (CONNECTION_SUCCESS /
    CONNECTION_ERROR) or a deployed trigger's event (TRIGGER_EVENT, signed)."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENDING = "sending", "sending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    event = models.CharField(max_length=40)
    url = models.TextField()
    payload = models.JSONField()
    # Signed deliveries (trigger events): the exact bytes to send and the headers that
    # sign them. Connection webhooks leave both empty and send `payload` as JSON.
    body = models.TextField(blank=True, help_text="Sent verbatim when set.")
    headers = models.JSONField(default=dict, blank=True)
    source = models.CharField(
        max_length=40, blank=True, db_index=True, help_text="The deployed trigger (dc_...), if any."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.event} to {self.url} ({self.status})"


# --- Deployed triggers (sandbox/pipedream/triggers.py) ------------------------------------------


class DeployedTrigger(models.Model):
    """A trigger (source) deployed for an external user: dc_..., emits events on demand.

    The signing key is kept in clear: the sandbox must sign every delivery with it (an
    HMAC needs the key itself, not a hash). It is shown in the deploy answer, and in the
    webhook answers to OAuth callers, as Pipedream does.
    """

    trigger_id = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(ExternalUser, on_delete=models.CASCADE, related_name="triggers")
    component_key = models.CharField(max_length=100)
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="triggers",
        help_text="The app account in configured_props (null once deleted).",
    )
    configured_props = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    name = models.CharField(max_length=200)
    name_slug = models.CharField(max_length=200)
    emit_on_deploy = models.BooleanField(default=True)
    workflow_id = models.CharField(max_length=100, blank=True)
    dynamic_props_id = models.CharField(max_length=100, blank=True)
    signing_key = models.CharField(max_length=100)
    # [{"id": "hook_...", "url": "...", "created_at": epoch s, "updated_at": epoch s}]
    webhooks = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["trigger_id"]

    def __str__(self):
        return f"{self.trigger_id} ({self.component_key}, {self.user.external_id})"

    @property
    def webhook_urls(self) -> list[str]:
        return [hook["url"] for hook in self.webhooks or []]


class TriggerEvent(models.Model):
    """One event a deployed trigger emitted: what GET .../events lists."""

    trigger = models.ForeignKey(DeployedTrigger, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=40, unique=True)
    ts = models.BigIntegerField(help_text="Epoch milliseconds.")
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-ts", "-pk"]

    def __str__(self):
        return f"{self.event_id} of {self.trigger.trigger_id}"

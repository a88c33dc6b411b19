"""The sandbox's state: what an emulated Pipedream project knows, plus faults and deliveries.

Credentials (OAuth access tokens, Connect tokens) are stored as SHA-256 hashes, the way a
real service would: the raw value is shown once, to whoever asked for it. Accounts and
external users are keyed by (project, environment), like Pipedream's.
"""

import hashlib
import secrets
import time

from django.db import models
from django.utils import timezone

from sandbox.fault_specs import describe as describe_spec

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


class Fault(models.Model):
    """A fault to inject into matching sandbox endpoints (see sandbox/faults.py)."""

    endpoint = models.CharField(
        max_length=100,
        help_text='An endpoint name ("pipedream.accounts.list") or a pattern ("pipedream.*").',
    )
    latency_ms = models.PositiveIntegerField(default=0, help_text="Added delay.")
    rate = models.FloatField(default=1.0, help_text="Probability (0..1) that the fault fires.")
    status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Answer with this status (429, 500, 503...)."
    )
    retry_after = models.PositiveIntegerField(default=1, help_text="Seconds, for a 429.")
    hang_seconds = models.FloatField(default=0, help_text="Sleep this long before answering.")
    malformed = models.BooleanField(default=False, help_text="Answer 200 with broken JSON.")
    error_message = models.CharField(
        max_length=500,
        blank=True,
        help_text="With a status: the errorMessage (or error) of the answer, instead of the "
        "generic one.",
    )
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.endpoint}: {self.describe()}"

    def as_spec(self) -> dict:
        return {
            "latency_ms": self.latency_ms,
            "rate": self.rate,
            "status": self.status,
            "retry_after": self.retry_after,
            "hang_seconds": self.hang_seconds,
            "malformed": self.malformed,
            "error_message": self.error_message or None,
        }

    def describe(self) -> str:
        return describe_spec(self.as_spec())


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


# --- Deployed triggers (sandbox/triggers.py) ------------------------------------------


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


# --- The emulated BitBadges (sandbox/bitbadges.py, sandbox/bitbadges_api.py) ----------


class BitBadgesStore(models.Model):
    """A dynamic store of addresses (handler "addresses"), as the developer portal makes one."""

    dynamic_data_id = models.CharField(max_length=100, unique=True)
    data_secret = models.CharField(max_length=200)
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "BitBadges dynamic store"
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.label or 'store'} ({self.dynamic_data_id})"


class BitBadgesStoreEntry(models.Model):
    """An address in a store (bb1 form), once its add action has landed."""

    store = models.ForeignKey(BitBadgesStore, on_delete=models.CASCADE, related_name="entries")
    address = models.CharField(max_length=100)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "BitBadges store entry"
        verbose_name_plural = "BitBadges store entries"
        ordering = ["store", "added_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "address"], name="sandbox_bitbadges_store_entry_unique"
            )
        ]

    def __str__(self):
        return self.address


class BitBadgesStoreAction(models.Model):
    """An add or remove, queued: it lands at `effective_at` (the store lag)."""

    class Name(models.TextChoices):
        ADD = "add", "add"
        REMOVE = "remove", "remove"

    store = models.ForeignKey(BitBadgesStore, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=10, choices=Name.choices)
    address = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    effective_at = models.DateTimeField(db_index=True)
    applied_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = "BitBadges store action"
        ordering = ["effective_at", "pk"]

    def __str__(self):
        return f"{self.action} {self.address}"


class BitBadgesClaim(models.Model):
    """A standalone BitBadges claim and its emulated plugins.

    numUses is always there; the others are on when set: initiatedBy (sign-in
    required: the sandbox has no sessions, so such a claim is always refused), password
    (a non-empty password), whitelist (a list of bb1 addresses, or a dynamic store's id
    and secret), halt, a time window (transferTimes), custom-instructions (always passes).
    """

    claim_id = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=0)
    max_uses = models.PositiveIntegerField(default=100)
    num_uses = models.PositiveIntegerField(default=0, help_text="Claim numbers taken.")
    password = models.CharField(max_length=200, blank=True)
    password_instance_id = models.CharField(max_length=100, default="pwd")
    whitelist = models.JSONField(null=True, blank=True, help_text="bb1 addresses, or null.")
    store_id = models.CharField(
        max_length=100, blank=True, help_text="Whitelist by this dynamic store."
    )
    store_secret = models.CharField(max_length=200, blank=True)
    max_uses_per_address = models.PositiveIntegerField(null=True, blank=True)
    halted = models.BooleanField(default=False)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    instructions = models.TextField(blank=True, help_text="custom-instructions, when set.")
    requires_sign_in = models.BooleanField(
        default=False, help_text="The initiatedBy plugin: completing needs a signed-in session."
    )
    hide_current_state = models.BooleanField(
        default=False,
        help_text="numUses hideCurrentState: the attempts route is for the manager only.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "BitBadges claim"
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.label or 'claim'} ({self.claim_id})"


class BitBadgesAttempt(models.Model):
    """One POST .../claims/complete that reached a claim: rejected at once, or queued."""

    class Status(models.TextChoices):
        REJECTED = "rejected", "rejected at once"
        PENDING = "pending", "pending"
        SUCCESS = "success", "success"
        FAILED = "failed", "failed"

    attempt_id = models.CharField(max_length=64, unique=True)
    claim = models.ForeignKey(BitBadgesClaim, on_delete=models.CASCADE, related_name="attempts")
    address = models.CharField(max_length=100, help_text="bb1 form.")
    body = models.JSONField(default=dict, blank=True, help_text="The plugin inputs sent.")
    status = models.CharField(max_length=10, choices=Status.choices, db_index=True)
    error = models.TextField(blank=True)
    claim_number = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "BitBadges claim attempt"
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.attempt_id[:12]}… {self.status}"


class BitBadgesCredits(models.Model):
    """The API credits of the sandbox API key's account: one row (pk 1), made on first use.

    Every request that passes the key check spends one credit with a conditional UPDATE
    (sandbox/bitbadges.py credits_debit), so concurrent requests never overspend.
    """

    SINGLETON_PK = 1
    DEFAULT_TOTAL = 10**9  # plenty: nothing notices credits unless a test sets them

    on_chain_total = models.PositiveBigIntegerField(default=DEFAULT_TOTAL)
    used = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "BitBadges API credits"
        verbose_name_plural = "BitBadges API credits"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(used__lte=models.F("on_chain_total")),
                name="sandbox_bitbadges_credits_used_lte_total",
            )
        ]

    def __str__(self):
        return f"{self.remaining} of {self.on_chain_total} credits left"

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_PK  # one account, one row (the admin's add included)
        super().save(*args, **kwargs)

    @property
    def remaining(self) -> int:
        return max(self.on_chain_total - self.used, 0)

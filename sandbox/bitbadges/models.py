"""The emulated BitBadges' state: claims, their attempts, dynamic stores, API credits
(sandbox/bitbadges/claims.py and its siblings serve them)."""

from django.db import models
from django.utils import timezone


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
    image = models.CharField(
        max_length=1000,
        blank=True,
        help_text="metadata.image; empty: the sandbox's own generated PNG (images/<id>.png).",
    )
    collection_id = models.CharField(
        max_length=40, blank=True, help_text="collectionId; empty: a standalone claim."
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
    (sandbox/bitbadges/ credits_debit), so concurrent requests never overspend.
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


# --- Sign In with BitBadges (sandbox/bitbadges/siwbb.py) -------------------------------


class SiwbbApp(models.Model):
    """A developer app (an OAuth client), as the developer portal registers one: its
    client ID, the SHA-256 of its client secret (never the secret), its redirect URIs."""

    client_id = models.CharField(max_length=200, unique=True)
    client_secret_hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of the secret.")
    name = models.CharField(max_length=200)
    redirect_uris = models.JSONField(default=list, blank=True, help_text="Exact URIs, as sent.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "BitBadges developer app (SIWBB)"
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.name} ({self.client_id})"


class SiwbbCode(models.Model):
    """An authorization code (a SIWBB request): made when the user approves, exchanged once."""

    code_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the code.")
    app = models.ForeignKey(SiwbbApp, on_delete=models.CASCADE, related_name="codes")
    redirect_uri = models.CharField(max_length=2000, blank=True)
    address = models.CharField(max_length=100, help_text="As the user signed in with it.")
    scopes = models.JSONField(default=list, blank=True, help_text="Scope names approved.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    exchanged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "BitBadges authorization code (SIWBB)"
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"code for {self.address} ({self.app.client_id})"


class SiwbbToken(models.Model):
    """An authorization with scopes: its access and refresh tokens (hashes), rotated on
    refresh; revoking deletes the row, so both tokens stop working."""

    app = models.ForeignKey(SiwbbApp, on_delete=models.CASCADE, related_name="tokens")
    access_token_hash = models.CharField(max_length=64, unique=True)
    refresh_token_hash = models.CharField(max_length=64, unique=True)
    address = models.CharField(max_length=100)
    scopes = models.JSONField(default=list, blank=True)
    access_expires_at = models.DateTimeField()
    refresh_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "BitBadges access token (SIWBB)"
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"token for {self.address} ({self.app.client_id})"

"""What the site knows about Pipedream Connect: apps, members' accounts, sessions, webhooks."""

import copy
import uuid

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core import shared_version


class AppQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)


class App(models.Model):
    """An app of Pipedream's catalogue that the admin lets members connect."""

    class AuthType(models.TextChoices):
        OAUTH = "oauth", "OAuth"
        KEYS = "keys", "API keys"
        NONE = "none", "None"

    slug = models.SlugField(
        max_length=100, unique=True, help_text="Pipedream's name_slug, e.g. github."
    )
    name = models.CharField(max_length=200)
    image_url = models.URLField("image", max_length=500, blank=True)
    description = models.TextField(blank=True)
    auth_type = models.CharField(max_length=10, choices=AuthType.choices, default=AuthType.OAUTH)
    oauth_app_id = models.CharField(
        "OAuth app ID",
        max_length=100,
        blank=True,
        help_text="Optional oa_... ID of your own OAuth client for this app in Pipedream.",
    )
    enabled = models.BooleanField(default=False, help_text="Whether members may connect this app.")
    order = models.PositiveIntegerField(default=0, help_text="Lower comes first.")
    connect = models.JSONField(
        "Connect proxy settings",
        default=dict,
        blank=True,
        editable=False,
        help_text="Pipedream's `connect` object for the app, as its apps API gives it "
        "(allowed_domains, base_proxy_target_url, proxy_enabled): which URLs a proxy call "
        "may take. Empty until the catalogue is synced, or when Pipedream gives none.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AppQuerySet.as_manager()

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(oauth_app_id="") | models.Q(oauth_app_id__startswith="oa_"),
                name="app_oauth_app_id_shape",
                violation_error_message="An OAuth app ID starts with oa_.",
            )
        ]

    def __str__(self):
        return self.name


# The catalogue of enabled apps by slug, asked on every mint (connections/forms.py), kept
# per process under a version in the shared cache that every save or deletion of an app
# replaces, at once (this transaction's own later reads see it) and again when its
# transaction commits (every other process does): on_app_changed. Nothing writes apps by
# queryset .update()/bulk_create (the catalogue sync saves them one by one). The cache
# unreadable: the row is read from the table, as before.
CATALOGUE_VERSION_KEY = "connections:apps-version"
_catalogue: shared_version.Kept[dict[str, App]] = shared_version.Kept(CATALOGUE_VERSION_KEY)


def apps_changed() -> None:
    """An app's change committed (what on_app_changed queues)."""
    _catalogue.committed()


def enabled_app(slug: str) -> App | None:
    """The app of that slug if members may connect it (enabled), else None: a copy of
    the row, the caller's to change."""
    version, apps = _catalogue.lookup()
    if version is None:  # a cache the processes do not share, or none readable
        return App.objects.enabled().filter(slug=slug).first()
    if apps is shared_version.MISSING:
        # Read after the version: a change committed after that read replaces it.
        apps = {app.slug: app for app in App.objects.enabled()}
        _catalogue.keep(version, apps)
    app = apps.get(slug)
    return copy.deepcopy(app) if app is not None else None


@receiver(post_save, sender=App, dispatch_uid="connections.app_saved")
@receiver(post_delete, sender=App, dispatch_uid="connections.app_deleted")
def on_app_changed(sender, **kwargs):
    _catalogue.changed()


class UpstreamAccountQuerySet(models.QuerySet):
    def in_health(self, state: str):
        """Accounts in one of UpstreamAccount.Health's states (as `health_of` reads them)."""
        conditions: dict[str, models.Q] = {
            UpstreamAccount.Health.HEALTHY: models.Q(healthy=True, dead=False),
            UpstreamAccount.Health.UNHEALTHY: models.Q(healthy=False, dead=False),
            UpstreamAccount.Health.DEAD: models.Q(dead=True),
        }
        return self.filter(conditions[state])

    def usable(self):
        """Healthy and not dead: what a claim may check and a trigger may run on."""
        return self.in_health(UpstreamAccount.Health.HEALTHY)

    def newest_first(self):
        """The most recently created upstream first (Pipedream's choice among several
        accounts of an app); one without a creation time last, on every database."""
        return self.order_by(models.F("upstream_created_at").desc(nulls_last=True), "-pk")


class ConnectedAccountQuerySet(UpstreamAccountQuerySet):
    def for_member(self, member):
        return self.filter(member=member)

    def unhealthy(self):
        return self.filter(models.Q(healthy=False) | models.Q(dead=True))


class UpstreamAccount(models.Model):
    """What the site keeps of an account Pipedream holds (never its credentials): its id,
    name, health and times. A member's (ConnectedAccount) or the site's (SiteAccount)."""

    class Health(models.TextChoices):
        HEALTHY = "healthy", "Healthy"
        UNHEALTHY = "unhealthy", "Unhealthy"
        DEAD = "dead", "Dead"

    pipedream_id = models.CharField("Pipedream account ID", max_length=100, unique=True)
    name = models.CharField(max_length=255, blank=True)
    healthy = models.BooleanField(default=True)
    dead = models.BooleanField(default=False)
    error = models.TextField(blank=True, help_text="Pipedream's reason when unhealthy or dead.")
    upstream_created_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    @classmethod
    def health_of(cls, *, healthy: bool, dead: bool) -> str:
        """Pipedream's two flags as one state: dead outranks unhealthy."""
        if dead:
            return cls.Health.DEAD
        return cls.Health.HEALTHY if healthy else cls.Health.UNHEALTHY

    @property
    def health(self) -> str:
        return self.health_of(healthy=self.healthy, dead=self.dead)

    @property
    def usable(self) -> bool:
        """Healthy and not dead: what a claim may check and a trigger may run on."""
        return self.healthy and not self.dead


class ConnectedAccount(UpstreamAccount):
    """A member's account at a third party, as Pipedream holds it (never its credentials)."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connected_accounts"
    )
    app = models.ForeignKey(App, on_delete=models.PROTECT, related_name="accounts")
    upstream_updated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConnectedAccountQuerySet.as_manager()

    class Meta:
        ordering = ["app__order", "app__name", "name", "pk"]
        indexes = [models.Index(fields=["member", "app"])]

    def __str__(self):
        return f"{self.app} · {self.name or self.pipedream_id}"

    @property
    def needs_reconnect(self) -> bool:
        return self.health != self.Health.HEALTHY


class ReplacedAccount(models.Model):
    """An upstream account a reconnect replaced, whose deletion at Pipedream failed: kept
    until Pipedream deletes it, so a sync never records it as a second account."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="replaced_accounts"
    )
    pipedream_id = models.CharField("Pipedream account ID", max_length=100, unique=True)
    error = models.TextField(blank=True, help_text="Why Pipedream did not delete it last time.")
    attempts = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    last_tried_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.pipedream_id} (replaced, not yet deleted at Pipedream)"


class SiteAccount(UpstreamAccount):
    """An account an operator connected for the site, not for a member: what a claim's
    trigger on a shared resource (stars of one repository) runs on. Pipedream holds it
    under the site's own external user (PIPEDREAM_SITE_EXTERNAL_USER_ID); rows are
    recorded from Pipedream's accounts list, never from the browser."""

    app = models.ForeignKey(App, on_delete=models.PROTECT, related_name="site_accounts")

    objects = UpstreamAccountQuerySet.as_manager()

    class Meta:
        ordering = ["app__name", "-upstream_created_at", "pk"]
        verbose_name = "site account"

    def __str__(self):
        return f"{self.app} · {self.name or self.pipedream_id} (the site's)"


class ConnectSession(models.Model):
    """One attempt to connect an app: a Connect token minted for a member.

    Only a digest of the token is kept: the token itself is a credential for the
    member's Connect flow until it is used or expires.
    """

    class Mode(models.TextChoices):
        IFRAME = "iframe", "Embedded iframe"
        LINK = "link", "Connect Link"
        EMAILED = "emailed", "Emailed link"

    class Status(models.TextChoices):
        ISSUED = "issued", "Issued"
        CONNECTED = "connected", "Connected"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connect_sessions"
    )
    app = models.ForeignKey(App, on_delete=models.PROTECT, related_name="sessions")
    mode = models.CharField(max_length=10, choices=Mode.choices)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    reconnect_account = models.ForeignKey(
        "ConnectedAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The account being reconnected in place, if any.",
    )
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    account = models.ForeignKey(
        ConnectedAccount,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sessions",
        help_text="The account this session produced.",
    )
    error = models.TextField(blank=True)
    # Where /connect/done/ sends the member back: the claim page the hosted Connect page
    # was opened from (users.start_path.claim_path), or empty for the accounts page.
    return_path = models.CharField(max_length=120, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["member", "status"])]

    def __str__(self):
        return f"{self.member} · {self.app} · {self.get_mode_display()} · {self.status}"


class WebhookEvent(models.Model):
    """A delivery to /connect/webhook/, stored before anything is trusted.

    An accepted delivery keeps its raw body until it is processed and for
    RETENTION_BODY_DAYS after; a refused one keeps only its digest and size (its body is
    anyone's). `manage.py prune_records` removes what is past retention
    (claims/retention.py)."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        CONNECTED = "connected", "Account recorded"
        FAILED = "failed", "Connection error recorded"
        DUPLICATE = "duplicate", "Duplicate (no change)"
        REFUSED = "refused", "Refused"
        ERROR = "error", "Could not process"

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    body = models.TextField(
        blank=True,
        help_text="The raw body of an accepted delivery, as received; empty for a refused "
        "one, and once removed after the retention period.",
    )
    body_digest = models.CharField(max_length=64, db_index=True)
    body_size = models.PositiveIntegerField(
        default=0, help_text="Bytes received (or declared, for a body refused as too large)."
    )
    content_type = models.CharField(max_length=100, blank=True)
    event = models.CharField(max_length=50, blank=True)
    session = models.ForeignKey(
        ConnectSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhooks"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    detail = models.TextField(blank=True, help_text="Why it was refused or what it changed.")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.event or 'webhook'} at {self.received_at:%Y-%m-%d %H:%M:%S} ({self.outcome})"

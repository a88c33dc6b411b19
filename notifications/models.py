"""What the site tells members by email: their choices, and a ledger row per event.

A member without a Preference row has the defaults (every kind on). A Notification is
one event (a badge earned, an account a claim needs stopping working) with a `key`
unique to the event, so a signal delivered twice or a retried task never makes a second
row. The worker moves a row from pending to sent, skipped (with the reason) or failed;
the move to "sending" is a conditional update, so two workers never send the same row.

An account's broken episode is one row: while the row is open (`resolved_at` empty) a
second break of the same account (unhealthy, then dead) adds nothing; the account
working again closes it (and a row not yet sent is skipped), so breaking after that is a
new event.

A send the mail server refuses is tried again later (sending.RETRY_AFTER), then the row
is failed and, for an account, its broken episode closed (a later break can tell the
member). notifications/sweep.py picks up what a lost task or a killed worker left behind.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    BADGE_EARNED = "badge_earned", _("A badge I earned")
    ACCOUNT_BROKEN = "account_broken", _("An account a claim needs stopped working")


class Preference(models.Model):
    """The kinds of email a member wants; no row means both are on."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    badge_earned = models.BooleanField(default=True)
    account_broken = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Email choices of member {self.member_id}"


class Notification(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=150, unique=True, help_text="One per event.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    reason = models.CharField(max_length=255, blank=True, help_text="Why it was skipped or failed.")
    # A badge: the completion (kept when the row goes, for the ledger's sake).
    completion = models.ForeignKey(
        "claims.Completion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An account: the account, and its Pipedream id (kept when the account is removed).
    account = models.ForeignKey(
        "connections.ConnectedAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    pipedream_id = models.CharField("Pipedream account ID", max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    send_after = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(
        null=True, blank=True, help_text="When the account's broken episode ended."
    )
    batch = models.UUIDField(null=True, blank=True, help_text="The worker's send that took it.")
    taken_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker last took it to send."
    )
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Sends the mail server refused or that did not finish."
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["member", "state"])]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(kind="account_broken", resolved_at__isnull=True),
                name="notifications_one_open_episode_per_account",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.get_state_display()}"

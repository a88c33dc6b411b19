"""Claim jobs: work on a claim that runs on the task worker, not in an admin request.

A dry run (every active member evaluated against a claim) is one; "Try it" (one
requirement for one member, asked for in the claim builder, perhaps before its claim
exists) is the other. A dry run holds its progress and totals in a fixed amount of
space (reasons capped, the rest counted as "other"); its rows go to DryRunRow,
written in batches. Django models of the claims app (claims/models.py imports them).
"""

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

# Distinct reasons kept per job; the others are counted under OTHER_REASON.
REASONS_KEPT = 50
OTHER_REASON = "(other reasons)"
# A running job with no heartbeat for this long has stopped (its worker died).
STALLED_AFTER = datetime.timedelta(minutes=5)


class ClaimJob(models.Model):
    class Kind(models.TextChoices):
        DRY_RUN = "dry_run", "Dry run"
        TRY_IT = "try_it", "Try it"  # one requirement for one member (`member`, `result`)

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # What a dry run counts, in the order the page shows them.
    COUNTS = ("members", "qualify", "completed", "not_met", "no_account", "errored")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    claim = models.ForeignKey(
        "claims.Claim",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
        help_text="The claim of a dry run; a Try it may come before its claim exists.",
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The member a one-member job is about; empty for a dry run.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    show_values = models.BooleanField(
        default=False,
        help_text="Whether the requester could see members' upstream values when asking: "
        "without it, nothing read upstream is kept.",
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="Members to evaluate.")
    done = models.PositiveIntegerField(default=0, help_text="Members evaluated so far.")
    counts = models.JSONField(default=dict, blank=True)
    # {"<requirement pk>": {"label", "group", "met", "not_met", "not_checked"}}
    requirements = models.JSONField(default=dict, blank=True)
    # {"words": {reason: n}, "values": {reason: n}}: "values" only with show_values.
    reasons = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="A one-member job's answer.")
    # Try it: the requirement to check, {"app": <App pk>, "kind", "action", "props",
    # "proxy_url"}, validated like Requirement.clean before the job was made.
    try_requirement = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        what = self.claim or "a requirement"  # a Try it may have no claim yet
        return f"{self.get_kind_display()} of {what} ({self.get_state_display()})"

    @property
    def stalled(self) -> bool:
        """Running, yet not heard from for STALLED_AFTER: its worker stopped."""
        if self.state != self.State.RUNNING:
            return False
        last = self.heartbeat_at or self.started_at or self.created_at
        return last < timezone.now() - STALLED_AFTER

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return min(100, self.done * 100 // self.total) if self.total else 0


class DryRunRow(models.Model):
    """One member's answer in a dry run."""

    class Outcome(models.TextChoices):
        QUALIFY = "qualify", "would qualify"
        COMPLETED = "completed", "already completed"
        NOT_MET = "not_met", "a rule not met"
        NO_ACCOUNT = "no_account", "no (healthy) account"
        ERRORED = "errored", "could not be checked"

    job = models.ForeignKey(ClaimJob, on_delete=models.CASCADE, related_name="rows")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    note = models.CharField(
        max_length=500, help_text="Why, in words that carry no value read upstream."
    )
    value_note = models.TextField(
        blank=True, help_text="Why, with what was read upstream: kept only with show_values."
    )

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.job_id}: {self.get_outcome_display()}"

"""Claims: what a member can earn, and the ledger of what was delivered to whom.

A `Claim` names a BitBadges claim, the requirements a member must meet (claims/
requirement_models.py: healthy accounts of apps, and checks of what a Pipedream action
or proxy read finds on them, combined with all / any / none) and how it is delivered. A `Completion` is the ledger row for one
(claim, member); every change of its state leaves a `CompletionEvent`, saying who
(claims/audit.py: an actor kind and, for a person, the user) and why (a reason code).
"""

import datetime
from typing import Any, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from claims import allowlists, secrets
from claims.audit import ActorKind as ActorKind
from claims.audit import Audited
from claims.audit import ClaimRuleChange as ClaimRuleChange
from claims.requirement_models import Comparison, Requirement

# Where the migrations that predate requirements find the proxy URL validator.
from claims.requirement_models import validate_proxy_url as validate_proxy_url
from connections.pipedream.actions import WorkflowNotAllowed, workflow_target


def workflow_url_problem(url: str) -> str:
    """Why the project's Pipedream token may not be sent to `url` ("" when it may): the
    client's own check (connections/pipedream/actions.py), which it repeats at the call."""
    try:
        workflow_target(url)
    except WorkflowNotAllowed as exc:
        return (
            f"This is not an allowed Pipedream HTTP trigger: {exc.why}. {exc.hint}. "
            "(The call carries the project's Pipedream token, so nothing else may receive it.)"
        )
    return ""


class ClaimQuerySet(models.QuerySet["Claim"]):
    def enabled(self) -> Self:
        return self.filter(enabled=True)

    def needing_app(self, app_slug: str) -> Self:
        """Claims with a requirement on `app_slug` (an account of it may change them)."""
        return self.filter(pk__in=Requirement.objects.filter(app__slug=app_slug).values("claim"))


class Claim(models.Model):
    class Delivery(models.TextChoices):
        BITBADGES = "bitbadges", "Complete the BitBadges claim (password plugin)"
        DYNAMIC_STORE = "dynamic_store", "Add the address to a BitBadges dynamic store"
        WORKFLOW = "workflow", "Invoke a Pipedream workflow for the member"

    Comparison = Comparison

    slug = models.SlugField(
        max_length=80, unique=True, help_text="Short name for links, e.g. github-starter."
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Shown to members.")
    bitbadges_claim_id = models.CharField(
        "BitBadges claim ID",
        max_length=100,
        blank=True,
        help_text="Required for the BitBadges method; for the others it lets an unknown "
        "outcome be checked against BitBadges before anything is sent again.",
    )
    enabled = models.BooleanField(
        default=False, help_text="Only enabled claims are shown to members and delivered."
    )
    starts_at = models.DateTimeField(null=True, blank=True, help_text="Optional window start.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Optional window end.")
    cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Optional: at most this many completions through us."
    )

    # Who may earn it, by address (issue 22): Sign in with BitBadges proves a member owns
    # their address (users.User.address_proven); a typed address proves nothing.
    require_proven_address = models.BooleanField(
        "require a proven address",
        default=False,
        help_text="Deliver only to an address the member proved is theirs by connecting "
        "BitBadges (Sign in with BitBadges); a typed address is not enough. Members with a "
        "typed address are told to connect BitBadges on their profile, and the claim goes "
        "on by itself once they do.",
    )
    one_completion_per_address = models.BooleanField(
        "one completion per address",
        default=False,
        help_text="At most one completion per BitBadges address, however many site accounts "
        "use it (typed or proven; 0x and bb1 spellings count as one). The next member with "
        "that address reads “Already claimed for this address.” A completion you revoke "
        "keeps its address taken.",
    )

    recheck_interval = models.DurationField(
        null=True,
        blank=True,
        help_text="Optional: check members who are not eligible yet again this often (e.g. "
        "1 day), by `manage.py recheck_claims`; the wait doubles each time a member still "
        "does not qualify, up to 64 times this.",
    )

    # Event-driven: a Pipedream trigger, deployed for each member on their account of
    # one of the claim's apps, or once for the claim on the site's account.
    class TriggerScope(models.TextChoices):
        MEMBER = "member", "Each member's own account (the member's own resources)"
        SITE = "site", "Once, on the site's account (a shared resource, e.g. a repository)"

    trigger_app = models.ForeignKey(
        "connections.App",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The app the trigger runs on: one the claim's requirements name.",
    )
    trigger = models.CharField(
        max_length=200,
        blank=True,
        help_text="Optional: a Pipedream trigger component key (e.g. github-new-star); each "
        "event it emits checks the member it concerns again.",
    )
    trigger_scope = models.CharField(
        "trigger runs on",
        max_length=10,
        choices=TriggerScope.choices,
        default=TriggerScope.MEMBER,
        help_text="A trigger on a shared resource (stars of one repository) runs once, on "
        "an account connected for the site under Site accounts; each event checks only the "
        "member whose account it names.",
    )
    trigger_props = models.JSONField(
        default=dict, blank=True, help_text="Other props of the trigger, as a JSON object."
    )
    trigger_event_label = models.CharField(
        max_length=200,
        blank=True,
        help_text='What the event is, for members: "we\'ll complete this as soon as <this>", '
        "e.g. you star bitbadges/bitbadgesjs.",
    )

    # Delivery.
    delivery = models.CharField(max_length=20, choices=Delivery.choices)
    password_instance_id = models.CharField(
        "password plugin instance ID", max_length=100, blank=True
    )
    password_encrypted = models.TextField(blank=True, editable=False)
    store_id = models.CharField("dynamic store ID", max_length=100, blank=True)
    store_secret_encrypted = models.TextField(blank=True, editable=False)
    workflow_url = models.URLField("workflow URL", max_length=500, blank=True)

    # The claim's life as last read from BitBadges (claims/bitbadges/life.py): numUses
    # (maxUses, numUses), transferTimes (its ranges), halt. Null: not read, or not shown.
    # BitBadges sends uint64 numbers: claims/life.py keeps what a bigint cannot hold.
    life_max_uses = models.PositiveBigIntegerField(
        "BitBadges max uses", null=True, blank=True, editable=False
    )
    life_used = models.PositiveBigIntegerField(
        "BitBadges uses taken", null=True, blank=True, editable=False
    )
    life_window_start = models.DateTimeField(
        "BitBadges window opens", null=True, blank=True, editable=False
    )
    life_window_end = models.DateTimeField(
        "BitBadges window closes", null=True, blank=True, editable=False
    )
    life_windows = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="transferTimes ranges as read: [[start ms, end ms], ...]; empty: none.",
    )
    life_halted = models.BooleanField("halted on BitBadges", default=False, editable=False)
    life_read_at = models.DateTimeField("BitBadges read at", null=True, blank=True, editable=False)
    life_read_failed_at = models.DateTimeField(null=True, blank=True, editable=False)
    life_read_error = models.TextField(blank=True, editable=False)
    # The badge as BitBadges names and shows it (the claim's metadata, read with its life:
    # claims/bitbadges/badge.py); the image's bytes are kept in BadgeImage.
    bitbadges_name = models.CharField(
        "name on BitBadges", max_length=200, blank=True, editable=False
    )
    bitbadges_image_url = models.CharField(max_length=1000, blank=True, editable=False)
    bitbadges_collection_id = models.CharField(max_length=40, blank=True, editable=False)
    badge_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    badge_image_error = models.TextField(blank=True, editable=False)
    badge_image_etag = models.CharField(max_length=32, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClaimQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        permissions = [("view_member_values", "Can see members' upstream values")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(starts_at__isnull=True)
                | models.Q(ends_at__isnull=True)
                | models.Q(starts_at__lt=models.F("ends_at")),
                name="claim_window_order",
                violation_error_message="The window must start before it ends.",
            )
        ]

    def __str__(self):
        return self.name

    # Secrets: write-only from outside; read only by the delivery code.
    def set_password(self, raw: str) -> None:
        self.password_encrypted = secrets.encrypt(raw)

    def set_store_secret(self, raw: str) -> None:
        self.store_secret_encrypted = secrets.encrypt(raw)

    def password(self) -> str:
        return secrets.decrypt(self.password_encrypted)

    def store_secret(self) -> str:
        return secrets.decrypt(self.store_secret_encrypted)

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    @property
    def has_store_secret(self) -> bool:
        return bool(self.store_secret_encrypted)

    def requirement_list(self) -> list[Requirement]:
        """Its requirements in order, with their apps: the prefetched ones when a query
        prefetched them, else read in one query."""
        if "requirements" in getattr(self, "_prefetched_objects_cache", {}):
            return list(self.requirements.all())
        return list(self.requirements.select_related("app"))

    def apps(self) -> list[Any]:
        """The apps its requirements name, each once, in the requirements' order."""
        seen: dict[int, Any] = {}
        for requirement in self.requirement_list():
            seen.setdefault(requirement.app_id, requirement.app)
        return list(seen.values())

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return (self.starts_at is None or self.starts_at <= now) and (
            self.ends_at is None or now < self.ends_at
        )

    def clean(self):
        errors = {}
        if self.delivery == self.Delivery.BITBADGES:
            if not self.bitbadges_claim_id:
                errors["bitbadges_claim_id"] = "The BitBadges method needs the claim ID."
            if not self.password_instance_id:
                errors["password_instance_id"] = (
                    "The BitBadges method needs the password plugin's instance ID."
                )
        elif self.delivery == self.Delivery.DYNAMIC_STORE:
            if not self.store_id:
                errors["store_id"] = "The dynamic store method needs the store ID."
        elif self.delivery == self.Delivery.WORKFLOW:
            if not self.workflow_url:
                errors["workflow_url"] = "The workflow method needs the workflow's URL."
            elif problem := workflow_url_problem(self.workflow_url):
                errors["workflow_url"] = problem
        # The operator's lists (claims/allowlists.py), checked again before each call.
        if self.trigger and (problem := allowlists.component_problem(self.trigger)):
            errors["trigger"] = problem
        if self.trigger and not self.trigger_app_id:
            errors["trigger_app"] = "A trigger runs on an account of one of the claim's apps."
        if self.trigger_scope == self.TriggerScope.SITE and not self.trigger:
            errors["trigger_scope"] = "Only a claim with a trigger runs one on the site's account."
        elif self.trigger_scope == self.TriggerScope.SITE and not self.recheck_interval:
            errors["recheck_interval"] = (
                "A trigger on the site's account can miss a member (a burst of events, an "
                "account named otherwise): set a re-check interval (e.g. 1 day) to catch them up."
            )
        if not isinstance(self.trigger_props, dict):
            errors["trigger_props"] = "Props are a JSON object."
        if self.starts_at and self.ends_at and self.starts_at >= self.ends_at:
            errors["ends_at"] = "The window must end after it starts."
        if errors:
            raise ValidationError(errors)


class CompletionQuerySet(models.QuerySet["Completion"]):
    def for_member(self, member: Any) -> Self:
        return self.filter(member=member)

    def completed(self) -> Self:
        return self.filter(state=Completion.State.COMPLETED)

    def paused(self) -> Self:
        """Waiting on a delivery pause (they resume when it ends)."""
        return self.filter(paused_at__isnull=False)

    def due(self, now: datetime.datetime | None = None) -> Self:
        """Rows a worker should pick up now: scheduled ones whose time has come, and
        ones a worker holds on an expired lease (it died mid-way)."""
        now = now or timezone.now()
        scheduled = (
            models.Q(state__in=[Completion.State.WAITING, Completion.State.RETRYING])
            & (models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now))
            & models.Q(paused_at__isnull=True)
        )
        abandoned = models.Q(state__in=[Completion.State.CHECKING, Completion.State.DELIVERING]) & (
            models.Q(lease_expires_at__isnull=True) | models.Q(lease_expires_at__lte=now)
        )
        return self.filter(scheduled | abandoned)


class Completion(models.Model):
    """The ledger: one row per (claim, member), whatever happens to it."""

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting"
        CHECKING = "checking", "Checking"
        DELIVERING = "delivering", "Delivering"
        COMPLETED = "completed", "Completed"
        INELIGIBLE = "ineligible", "Not eligible yet"
        FAILED = "failed", "Failed"
        RETRYING = "retrying", "Retrying"
        # Taken back by staff (claims/engine/staff_actions.py): nothing delivers it again
        # by itself; only a staff member's Re-issue does.
        REVOKED = "revoked", "Removed by the organiser"

    IN_PROGRESS = (State.WAITING, State.CHECKING, State.DELIVERING, State.RETRYING)
    RETRYABLE = (State.FAILED, State.INELIGIBLE)  # what an admin's Retry starts over
    SETTLED = (State.COMPLETED, State.REVOKED)  # what no request for a check reopens

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="completions")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="completions",
        help_text="Empty once the member deleted their account (the row stays for audit).",
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.WAITING)
    attempts = models.PositiveIntegerField(
        default=0, help_text="Tries since the last request, counting this one."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="Why it is in this state, for the member.")
    evidence = models.JSONField(
        default=list, blank=True, help_text="Per rule: rule, result, value seen, when."
    )
    address = models.CharField(
        max_length=100, blank=True, help_text="The BitBadges address delivered to."
    )
    upstream_identity = models.CharField(
        max_length=255,
        blank=True,
        help_text="The upstream identity this completion took (e.g. github:octocat).",
    )
    address_proven = models.BooleanField(
        default=False,
        help_text="Whether the member had proven the address (Sign in with BitBadges) when "
        "it was delivered.",
    )
    # The canonical bb1 of `address` while this completion holds it, for a claim with one
    # completion per address (the unique constraint below keeps it to one row). Taken with
    # the delivery, as `upstream_identity` is; given back only when nothing was sent.
    address_key = models.CharField(
        max_length=100,
        blank=True,
        editable=False,
        help_text="The address (bb1) this completion holds on a one-per-address claim.",
    )
    delivery_reference = models.TextField(
        blank=True, help_text="Claim attempt ID, store action or the workflow's response."
    )
    recheck_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="When a not-eligible completion is checked again on the claim's schedule.",
    )
    rechecks = models.PositiveIntegerField(
        default=0, help_text="Scheduled re-checks in a row that found it still not eligible."
    )
    outcome_unknown = models.BooleanField(
        default=False,
        help_text="A delivery may have happened without us hearing the answer; it is "
        "checked upstream before anything is sent again.",
    )
    resend_approved = models.BooleanField(
        default=False,
        help_text="An admin's Retry of an unknown outcome: if BitBadges shows no delivery, "
        "or cannot tell, it is sent again (otherwise only BitBadges saying it did not land "
        "allows that, and for a workflow nothing does).",
    )
    staff_granted = models.BooleanField(
        default=False,
        help_text="A staff member granted it by hand or re-issued it: it is delivered "
        "without its requirements being checked again (the ledger says who and why).",
    )
    paused_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Waiting on a paused upstream (BitBadges out of credits) since then; it "
        "resumes by itself when the upstream answers again.",
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CompletionQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim", "member"], name="completion_one_per_claim_member"
            ),
            models.UniqueConstraint(
                fields=["claim", "upstream_identity"],
                condition=~models.Q(upstream_identity=""),
                name="completion_one_per_claim_identity",
            ),
            models.UniqueConstraint(
                fields=["claim", "address_key"],
                condition=~models.Q(address_key=""),
                name="completion_one_per_claim_address",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["member", "claim"]),
        ]
        permissions = [
            ("manage_completions", "Can revoke, re-issue and grant completions by hand"),
        ]

    def __str__(self):
        return f"{self.claim} · {self.member or 'deleted member'} · {self.state}"

    @property
    def in_progress(self) -> bool:
        return self.state in self.IN_PROGRESS

    @property
    def retryable(self) -> bool:
        """An admin's Retry applies: failed or not eligible, and the member still here."""
        return self.state in self.RETRYABLE and self.member_id is not None


class DeliveryPause(models.Model):
    """An upstream refused every request for a reason only its owner can fix (BitBadges:
    the API key's account is out of credits). While the row exists deliveries through it
    wait instead of failing; a cheap call at `next_probe_at` checks whether it is over.
    """

    class Upstream(models.TextChoices):
        BITBADGES = "bitbadges", "BitBadges"

    upstream = models.CharField(max_length=20, choices=Upstream.choices, unique=True)
    reason = models.TextField(help_text="What the upstream said, for the admin.")
    action_url = models.URLField(
        "where to fix it", max_length=500, blank=True, help_text="e.g. BitBadges' top-up page."
    )
    started_at = models.DateTimeField(default=timezone.now)
    probes = models.PositiveIntegerField(default=0, help_text="Checks made since it started.")
    last_probe_at = models.DateTimeField(null=True, blank=True)
    last_probe_result = models.TextField(blank=True)
    next_probe_at = models.DateTimeField()

    class Meta:
        verbose_name = "delivery pause"

    def __str__(self):
        return f"{self.get_upstream_display()} paused since {self.started_at:%Y-%m-%d %H:%M}"


class CompletionEvent(Audited):
    """An audit row for every transition of a completion: who, and why (`reason`)."""

    class Reason(models.TextChoices):
        REQUESTED = "requested", "a check was asked for"
        FORCED = "forced", "a check was asked for at once (Check again, Retry)"
        TAKEN = "taken", "a worker took it up"
        RECOVERED = "recovered", "taken back from a worker that stopped"
        NOT_OPEN = "not_open", "the claim has not opened yet"
        NOT_ELIGIBLE = "not_eligible", "not eligible"
        DELIVERING = "delivering", "eligible: delivery started"
        SENT = "sent", "sent: reference kept"
        DELIVERED = "delivered", "delivered"
        VERIFIED = "verified", "an unknown outcome checked upstream"
        ERROR = "error", "an error"
        GAVE_UP = "gave_up", "too many tries"
        OUTCOME_UNKNOWN = "outcome_unknown", "a send whose outcome is unknown"
        PAUSED = "paused", "the upstream is paused"
        RESUMED = "resumed", "the upstream answers again"
        REVOKED = "revoked", "revoked by staff"
        REISSUED = "reissued", "re-issued by staff to a corrected address"
        GRANTED = "granted", "granted by staff"

    completion = models.ForeignKey(Completion, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.from_state or '·'} → {self.to_state} by {self.actor_display()}"


class ClaimVisit(models.Model):
    """How many times anonymous visitors opened a claim's landing page on one day.

    A count, not a record of anyone: the funnel shows visits beside its member stages,
    never as one of them (a visitor is nobody until they sign up).
    """

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="visits")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["claim", "day"], name="claims_visit_one_row_per_day")
        ]

    def __str__(self):
        return f"{self.claim} on {self.day}: {self.count}"


# Models of event-driven claims live beside, and are Django models of this app.
from claims.badge_models import BadgeImage as BadgeImage  # noqa: E402
from claims.job_models import ClaimJob as ClaimJob  # noqa: E402
from claims.trigger_models import TriggerDelivery as TriggerDelivery  # noqa: E402
from claims.trigger_models import TriggerDeployment as TriggerDeployment  # noqa: E402

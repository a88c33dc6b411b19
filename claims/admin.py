"""Admin for claims: define them (secrets write-only), dry-run them, watch the ledger,
retry failures, and see the funnel (links issued -> accounts connected -> claims completed).
"""

import datetime
import functools
import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import ActionLocation
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from claims import funnel, pause, preflight, services
from claims.models import (
    Claim,
    Completion,
    CompletionEvent,
    DeliveryPause,
    TriggerDelivery,
    TriggerDeployment,
)
from claims.secrets import SecretUnreadable
from claims.tasks import claim_discover_task

logger = logging.getLogger(__name__)

State = Completion.State
DRY_RUN_MAX_CLAIMS = 5  # each dry run evaluates every member (criteria call Pipedream)
DRY_RUN_MAX_ROWS = 500  # members listed per claim on the dry-run page
RETRYABLE = (State.FAILED, State.INELIGIBLE)
DELIVERY_SHORT = {
    Claim.Delivery.BITBADGES: "BitBadges claim",
    Claim.Delivery.DYNAMIC_STORE: "Dynamic store",
    Claim.Delivery.WORKFLOW: "Workflow",
}


# --- Claims -----------------------------------------------------------------------------


def _secret_widget():
    # new-password: keeps the browser from filling in the admin's own login password.
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class ClaimAdminForm(forms.ModelForm):
    """The claim, with its secrets write-only: typed in, never shown back."""

    password = forms.CharField(
        label="Password plugin's password",
        required=False,
        strip=False,
        widget=_secret_widget(),
    )
    clear_password = forms.BooleanField(label="Remove the stored password", required=False)
    store_secret = forms.CharField(
        label="Dynamic store secret",
        required=False,
        strip=False,
        widget=_secret_widget(),
    )
    clear_store_secret = forms.BooleanField(label="Remove the stored store secret", required=False)

    class Meta:
        model = Claim
        # Never the ciphertexts (password_encrypted, store_secret_encrypted).
        fields = [
            "name",
            "slug",
            "description",
            "enabled",
            "required_apps",
            "cap",
            "criterion_app",
            "criterion_action",
            "criterion_props",
            "criterion_proxy_url",
            "criterion_path",
            "criterion_comparison",
            "criterion_value",
            "criterion_text",
            "identity_path",
            "trigger",
            "trigger_props",
            "trigger_event_label",
            "recheck_interval",
            "delivery",
            "bitbadges_claim_id",
            "password_instance_id",
            "store_id",
            "workflow_url",
            "starts_at",
            "ends_at",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        claim = self.instance
        self.fields["password"].help_text = (
            "A password is stored. Leave blank to keep it; type a new one to replace it."
            if claim.has_password
            else "None stored. Needed for the BitBadges method."
        )
        self.fields["store_secret"].help_text = (
            "A store secret is stored. Leave blank to keep it; type a new one to replace it."
            if claim.has_store_secret
            else "None stored. Needed for the dynamic store method."
        )

    def _will_have(self, name: str, stored: bool) -> bool:
        entered = self.cleaned_data.get(name)
        cleared = self.cleaned_data.get(f"clear_{name}")
        return bool(entered) or (stored and not cleared)

    def clean(self):
        cleaned = super().clean()
        for name, label in (("password", "password"), ("store_secret", "store secret")):
            if cleaned.get(name) and cleaned.get(f"clear_{name}"):
                self.add_error(
                    f"clear_{name}",
                    f"Either type a new {label} or remove the stored one, not both.",
                )
        delivery = cleaned.get("delivery")
        if delivery == Claim.Delivery.BITBADGES and not self._will_have(
            "password", self.instance.has_password
        ):
            self.add_error(
                "password",
                "The BitBadges method needs the password plugin's password: type it here.",
            )
        if delivery == Claim.Delivery.DYNAMIC_STORE and not self._will_have(
            "store_secret", self.instance.has_store_secret
        ):
            self.add_error(
                "store_secret",
                "The dynamic store method needs the store's secret: type it here.",
            )
        # Claim.clean (method fields, criterion, window) runs in the ModelForm's _post_clean.
        return cleaned

    def _post_clean(self):
        # After the model's own validation (as UserCreationForm checks passwords): the
        # claim as it would be saved is looked up on BitBadges, and what would make
        # every member fail stops the save with what to change there.
        super()._post_clean()
        self.upstream_notes: list[str] = []
        if not self._errors:
            self._check_upstream()

    def _secret(self, name: str, stored: bool, read) -> str:
        if self.cleaned_data.get(name):
            return self.cleaned_data[name]
        if not stored or self.cleaned_data.get(f"clear_{name}"):
            return ""
        try:
            return read()
        except SecretUnreadable:
            return ""

    # Set by ClaimAdmin.get_form: the request, whose memo of BitBadges lookups lets the
    # admin check a claim before its save transaction opens and reuse the answer inside.
    request = None

    def _upstream_problems(self, settings: preflight.ClaimSettings) -> list[preflight.Problem]:
        memo = getattr(self.request, "claim_upstream_checks", None)
        if memo is not None and settings in memo:
            found = memo[settings]
        else:
            try:
                found = preflight.claim_problems(settings)
            except preflight.CheckUnavailable as exc:
                found = exc
            if memo is not None:
                memo[settings] = found
        if isinstance(found, preflight.CheckUnavailable):
            raise found
        return found

    def _check_upstream(self) -> None:
        claim = self.instance
        settings = preflight.ClaimSettings(
            delivery=claim.delivery,
            bitbadges_claim_id=claim.bitbadges_claim_id,
            password_instance_id=claim.password_instance_id,
            password=self._secret("password", claim.has_password, claim.password),
            store_id=claim.store_id,
            store_secret=self._secret("store_secret", claim.has_store_secret, claim.store_secret),
        )
        try:
            problems = self._upstream_problems(settings)
        except preflight.CheckUnavailable as exc:
            if claim.enabled:
                self.add_error(
                    None,
                    f"Could not check this claim on BitBadges: {exc}. Try again in a moment, or "
                    "save it disabled and enable it once BitBadges answers.",
                )
            else:
                self.upstream_notes.append(
                    f"Not checked on BitBadges ({exc}); it is checked when you enable it."
                )
            return
        for problem in problems:
            if problem.blocking:
                self.add_error(
                    problem.field if problem.field in self.fields else None, problem.text
                )
            else:
                self.upstream_notes.append(problem.text)

    def save(self, commit=True):
        claim = self.instance
        if self.cleaned_data.get("clear_password"):
            claim.password_encrypted = ""
        if self.cleaned_data.get("password"):
            claim.set_password(self.cleaned_data["password"])
        if self.cleaned_data.get("clear_store_secret"):
            claim.store_secret_encrypted = ""
        if self.cleaned_data.get("store_secret"):
            claim.set_store_secret(self.cleaned_data["store_secret"])
        return super().save(commit=commit)


def _enqueue_discover(claim_id: int) -> None:
    try:
        claim_discover_task.enqueue(claim_id)
    except Exception:  # the member's next connection or complete_claims still gets there
        logger.exception("Could not enqueue claim_discover_task for claim %s", claim_id)


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    form = ClaimAdminForm
    list_display = (
        "name",
        "slug",
        "enabled",
        "delivery_short",
        "bitbadges_claim_id",
        "completed_count",
        "in_progress_count",
        "ineligible_count",
        "failed_count",
    )
    list_filter = ("enabled", "delivery")
    search_fields = ("name", "slug", "bitbadges_claim_id", "description")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("required_apps",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "enabled")}),
        ("Rules", {"fields": ("required_apps", "cap")}),
        (
            "Criterion",
            {
                "description": "Optional: an action run on the member's account, or an "
                "upstream API read through Pipedream's proxy with it, and what the result "
                "must show.",
                "fields": (
                    "criterion_app",
                    "criterion_action",
                    "criterion_props",
                    "criterion_proxy_url",
                    "criterion_path",
                    "criterion_comparison",
                    "criterion_value",
                    "criterion_text",
                    "identity_path",
                ),
            },
        ),
        (
            "Waking up",
            {
                "description": "Optional: a Pipedream trigger deployed for each member, whose "
                "events check them again; and a schedule for re-checking members who are "
                "not eligible yet (manage.py recheck_claims).",
                "fields": ("trigger", "trigger_props", "trigger_event_label", "recheck_interval"),
            },
        ),
        (
            "Delivery",
            {
                "description": "Secrets are write-only: they are stored encrypted and "
                "never shown again.",
                "fields": (
                    "delivery",
                    "bitbadges_claim_id",
                    "password_instance_id",
                    "password",
                    "clear_password",
                    "store_id",
                    "store_secret",
                    "clear_store_secret",
                    "workflow_url",
                ),
            },
        ),
        ("Window", {"fields": ("starts_at", "ends_at")}),
        ("Record", {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )
    actions = ["dry_run"]
    change_list_template = "admin/claims/claim/change_list.html"

    def get_queryset(self, request):
        def in_state(*states):
            return Count("completions", filter=Q(completions__state__in=states))

        return (
            super()
            .get_queryset(request)
            .annotate(
                n_completed=in_state(State.COMPLETED),
                n_in_progress=in_state(*Completion.IN_PROGRESS),
                n_ineligible=in_state(State.INELIGIBLE),
                n_failed=in_state(State.FAILED),
            )
        )

    @admin.display(description="delivery", ordering="delivery")
    def delivery_short(self, claim):
        return DELIVERY_SHORT.get(claim.delivery, claim.delivery)

    @admin.display(description="completed", ordering="n_completed")
    def completed_count(self, claim):
        return claim.n_completed

    @admin.display(description="in progress", ordering="n_in_progress")
    def in_progress_count(self, claim):
        return claim.n_in_progress

    @admin.display(description="not eligible", ordering="n_ineligible")
    def ineligible_count(self, claim):
        return claim.n_ineligible

    @admin.display(description="failed", ordering="n_failed")
    def failed_count(self, claim):
        return claim.n_failed

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request = request
        return form

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            self._check_before_saving(request, object_id)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _check_before_saving(self, request, object_id) -> None:
        """Validate the posted claim once before the admin's save transaction opens.

        Validation looks the claim up on BitBadges over HTTP, which must not happen
        inside a transaction: it would hold it open for the call (on SQLite, with the
        write lock, so that the sandbox serving the call in the same database could not
        write). The validation inside the transaction reuses what this one found.
        """
        request.claim_upstream_checks = {}
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        allowed = (
            self.has_change_permission(request, obj)
            if obj is not None
            else object_id is None and self.has_add_permission(request)
        )
        if not allowed or "_saveasnew" in request.POST:
            return  # Django's own view refuses it, or treats it as an add
        fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        form_class = self.get_form(request, obj, change=obj is not None, fields=fields)
        form_class(request.POST, request.FILES, instance=obj).is_valid()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for note in getattr(form, "upstream_notes", []):
            self.message_user(request, note, messages.WARNING)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        claim = form.instance
        if claim.enabled:
            # After the required apps are saved and the whole change is committed.
            transaction.on_commit(functools.partial(_enqueue_discover, claim.pk))

    # Dry run: on the list and, through Django's change-form actions, on the claim's page.
    @admin.action(
        description="Dry run: who would qualify (nothing is delivered)",
        permissions=["view"],
        location=[ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM],
    )
    def dry_run(self, request, queryset):
        count = queryset.count()
        if count > DRY_RUN_MAX_CLAIMS:
            self.message_user(
                request,
                f"A dry run checks every member, so it takes at most {DRY_RUN_MAX_CLAIMS} "
                f"claims at a time; {count} were selected. Select fewer and run it again.",
                messages.ERROR,
            )
            return None
        reports = []
        for claim in queryset.prefetch_related("required_apps").select_related("criterion_app"):
            report = services.claim_dry_run(claim=claim)
            reports.append(
                {
                    "claim": claim,
                    "report": report,
                    "reasons": report.reasons.most_common(),
                    "rows": [
                        {
                            "member": member,
                            "qualifies": evaluation is not None and evaluation.eligible,
                            "note": note,
                        }
                        for member, evaluation, note in report.rows[:DRY_RUN_MAX_ROWS]
                    ],
                    "more": max(0, len(report.rows) - DRY_RUN_MAX_ROWS),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Dry run",
            "subtitle": ", ".join(str(entry["claim"]) for entry in reports),
            "opts": self.opts,
            "reports": reports,
        }
        return TemplateResponse(request, "admin/claims/claim/dry_run.html", context)

    # The funnel.
    def get_urls(self):
        urls = [
            path(
                "funnel/",
                self.admin_site.admin_view(self.funnel_view),
                name="claims_claim_funnel",
            )
        ]
        return urls + super().get_urls()

    def funnel_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = funnel.FunnelForm(request.GET or None)
        start, end = form.bounds()
        data = funnel.funnel_build(start=start, end=end)
        context = {
            **self.admin_site.each_context(request),
            "title": "Funnel: links issued → accounts connected → claims completed",
            "opts": self.opts,
            "form": form,
            "start": start,
            "end": end and end - datetime.timedelta(days=1),
            "funnel": data,
            "stage_bars": funnel.bars(data.stages),
            "app_bars": funnel.bars(
                [
                    bar
                    for row in data.apps
                    for bar in (
                        (f"{row['name']}: issued", row["issued"], "issued"),
                        (f"{row['name']}: connected", row["connected"], "connected"),
                    )
                ]
            ),
        }
        return TemplateResponse(request, "admin/claims/funnel.html", context)


# --- The ledger ---------------------------------------------------------------------------


class ReadOnly:
    """Audit records: listed and shown, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CompletionEventInline(ReadOnly, admin.TabularInline):
    model = CompletionEvent
    fields = ("at", "from_state", "to_state", "actor", "details")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at", "pk")


def _when(value: str) -> str:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value or ""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class PausedFilter(admin.SimpleListFilter):
    title = "paused"
    parameter_name = "paused"

    def lookups(self, request, model_admin):
        return [("yes", "Waiting on a delivery pause"), ("no", "Not paused")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(paused_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(paused_at__isnull=True)
        return queryset


@admin.register(Completion)
class CompletionAdmin(ReadOnly, admin.ModelAdmin):
    """The ledger is an audit record: nobody adds, edits or deletes a row here.

    The one thing an admin does is Retry, allowed to those with the change permission.
    """

    list_display = (
        "claim",
        "member_display",
        "state",
        "attempts",
        "reason_short",
        "last_attempt_at",
        "next_attempt_at",
        "completed_at",
    )
    list_filter = ("state", "claim", "claim__delivery", "outcome_unknown", PausedFilter)
    list_select_related = ("claim", "member")
    search_fields = (
        "member__username",
        "member__email",
        "claim__name",
        "delivery_reference",
        "upstream_identity",
    )
    date_hierarchy = "updated_at"
    fields = (
        "claim",
        "member_display",
        "state",
        "reason",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",
        "lease_expires_at",
        "address",
        "upstream_identity",
        "delivery_reference",
        "outcome_unknown",
        "resend_approved",
        "paused_at",
        "evidence_table",
        "completed_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [CompletionEventInline]
    actions = ["retry"]
    change_form_template = "admin/claims/completion/change_form.html"
    change_list_template = "admin/claims/completion/change_list.html"

    # Read-only: saving the form would write a stale copy of a row the worker may be
    # moving, and the ledger is audit. Retry is the one thing an admin does here.

    def has_retry_permission(self, request, obj=None):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.display(description="member", ordering="member__username")
    def member_display(self, completion):
        return completion.member if completion.member_id else "(deleted member)"

    @admin.display(description="reason")
    def reason_short(self, completion):
        return Truncator(completion.reason).chars(80)

    @admin.display(description="evidence")
    def evidence_table(self, completion):
        items = completion.evidence if isinstance(completion.evidence, list) else []
        items = [item for item in items if isinstance(item, dict)]
        if not items:
            return "(none yet)"
        icon = {True: static("admin/img/icon-yes.svg"), False: static("admin/img/icon-no.svg")}
        rows = format_html_join(
            "",
            "<tr><td>{}<br><small>{}</small></td><td><img src='{}' alt='{}'></td>"
            "<td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    item.get("label") or item.get("rule", ""),
                    item.get("rule", ""),
                    icon[bool(item.get("passed"))],
                    "passed" if item.get("passed") else "not passed",
                    item.get("value", ""),
                    item.get("detail", ""),
                    _when(item.get("at", "")),
                )
                for item in items
            ),
        )
        return format_html(
            "<table><thead><tr><th>Rule</th><th>Passed</th><th>Value seen</th>"
            "<th>Detail</th><th>At</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.action(description="Retry (failed or not eligible only)", permissions=["retry"])
    def retry(self, request, queryset):
        retried = skipped = 0
        for completion in queryset.select_related("claim", "member"):
            if services.admin_retry(completion=completion, admin=request.user):
                retried += 1
            else:
                skipped += 1
        if retried:
            self.message_user(
                request, f"Queued {retried} completion(s) for another check.", messages.SUCCESS
            )
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped} completion(s): only failed or not-eligible completions "
                "of existing members can be retried.",
                messages.WARNING,
            )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        urls = [
            path(
                "<int:object_id>/retry/",
                self.admin_site.admin_view(self.retry_view),
                name="{}_{}_retry".format(*info),
            )
        ]
        return urls + super().get_urls()

    def retry_view(self, request, object_id):
        return require_POST(self._retry_one)(request, object_id)

    def _retry_one(self, request, object_id):
        if not self.has_retry_permission(request):
            raise PermissionDenied
        completion = get_object_or_404(
            Completion.objects.select_related("claim", "member"), pk=object_id
        )
        if services.admin_retry(completion=completion, admin=request.user):
            self.message_user(request, "Queued for another check.", messages.SUCCESS)
        else:
            self.message_user(
                request,
                "Only a failed or not-eligible completion of an existing member can be retried.",
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:claims_completion_change", args=[completion.pk]))

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_retry"] = (
            obj is not None
            and obj.state in RETRYABLE
            and obj.member_id is not None
            and self.has_retry_permission(request)
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(CompletionEvent)
class CompletionEventAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("at", "completion", "from_state", "to_state", "actor")
    list_filter = ("to_state",)
    list_select_related = ("completion__claim", "completion__member")
    search_fields = (
        "actor",
        "completion__claim__name",
        "completion__member__username",
        "completion__member__email",
    )
    date_hierarchy = "at"
    fields = ("completion", "at", "from_state", "to_state", "actor", "details")
    readonly_fields = fields


@admin.register(TriggerDeployment)
class TriggerDeploymentAdmin(ReadOnly, admin.ModelAdmin):
    """Each member's deployed triggers and their last event (read-only; the signing key
    is never shown)."""

    list_display = ("member", "claim", "status", "pipedream_id", "events", "last_event_at")
    list_filter = ("status", "claim")
    search_fields = ("member__username", "member__email", "pipedream_id", "claim__name")
    list_select_related = ("member", "claim")
    fields = (
        "claim",
        "member",
        "account",
        "pipedream_id",
        "account_pipedream_id",
        "status",
        "error",
        "events",
        "last_event_at",
        "created_at",
    )
    readonly_fields = fields

    # No delete either: it would leave the trigger running upstream; disconnecting the
    # account, completing the claim or recheck_claims removes it properly.


@admin.register(TriggerDelivery)
class TriggerDeliveryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("received_at", "deployment", "event_id", "outcome", "detail")
    list_filter = ("outcome",)
    search_fields = ("event_id", "deployment__member__username", "deployment__pipedream_id")
    list_select_related = ("deployment__member", "deployment__claim")
    date_hierarchy = "received_at"
    fields = ("received_at", "deployment", "event_id", "outcome", "detail", "body")
    readonly_fields = fields


@admin.register(DeliveryPause)
class DeliveryPauseAdmin(ReadOnly, admin.ModelAdmin):
    """Deliveries waiting on an upstream only its owner can fix (BitBadges out of
    credits). Nobody edits a pause: it ends when a check finds BitBadges answering."""

    list_display = (
        "upstream",
        "reason",
        "started_at",
        "waiting_count",
        "probes",
        "last_probe_at",
        "next_probe_at",
    )
    fields = (
        "upstream",
        "reason",
        "action_url",
        "started_at",
        "probes",
        "last_probe_at",
        "last_probe_result",
        "next_probe_at",
    )
    readonly_fields = fields
    change_list_template = "admin/claims/deliverypause/change_list.html"

    @admin.display(description="completions waiting")
    def waiting_count(self, pause_row):
        return Completion.objects.filter(paused_at__isnull=False).count()

    def get_urls(self):
        urls = [
            path(
                "probe/",
                self.admin_site.admin_view(self.probe_view),
                name="claims_deliverypause_probe",
            )
        ]
        return urls + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_probe": self.has_view_permission(request)}
        return super().changelist_view(request, extra_context)

    def probe_view(self, request):
        return require_POST(self._probe)(request)

    def _probe(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        probed = pause.probe(force=True)
        if probed.state == "none":
            self.message_user(request, "Deliveries are not paused.", messages.INFO)
        elif probed.state == "resumed":
            self.message_user(
                request,
                f"BitBadges answers again: {probed.resumed} waiting completion(s) are queued.",
                messages.SUCCESS,
            )
        else:
            current = pause.active()
            detail = current.last_probe_result if current else ""
            self.message_user(
                request, f"Still paused: {detail or 'BitBadges still refuses.'}", messages.WARNING
            )
        return HttpResponseRedirect(reverse("admin:claims_deliverypause_changelist"))

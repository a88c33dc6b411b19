"""Claims in the admin: define them (secrets write-only), dry-run them, enable them (members
who already qualify are found), and see the funnel (members by sign-up date, stage by
stage: claims/funnel.py) on the page or as CSV."""

import datetime
import functools
import logging

from django.contrib import admin, messages
from django.contrib.admin import ActionLocation
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path

from claims import audit, funnel, life, services
from claims.admin import builder, claim_life, lookup
from claims.admin.forms import ClaimAdminForm
from claims.admin.jobs import dry_run_jobs_start, jobs_redirect
from claims.admin.requirements import RequirementInline
from claims.admin.rule_changes import rule_change_rows
from claims.models import (
    Claim,
    Completion,
)
from claims.tasks import claim_discover_task, claim_triggers_sync_task
from core import csv_stream

logger = logging.getLogger(__name__)

State = Completion.State
DRY_RUN_MAX_CLAIMS = 5  # each dry run evaluates every member (criteria call Pipedream)


def _enqueue_discover(claim_id: int, staff_id: int | None) -> None:
    try:
        claim_discover_task.enqueue(claim_id, staff_id=staff_id)
    except Exception:  # the member's next connection or complete_claims still gets there
        logger.exception("Could not enqueue claim_discover_task for claim %s", claim_id)


# A change to any of these deploys, moves or removes the claim's triggers.
TRIGGER_FIELDS = {"enabled", "trigger", "trigger_scope", "trigger_props", "trigger_app"}


def _enqueue_triggers_sync(claim_id: int, redeploy: bool) -> None:
    try:
        claim_triggers_sync_task.enqueue(claim_id, redeploy=redeploy)
    except Exception:  # recheck_claims settles the site's deployment; members' on connect
        logger.exception("Could not enqueue claim_triggers_sync_task for claim %s", claim_id)


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
        "bitbadges_life_short",
    )
    list_filter = ("enabled", "delivery")
    search_fields = ("name", "slug", "bitbadges_claim_id", "description")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [RequirementInline]
    readonly_fields = ("created_at", "updated_at", "bitbadges_life")
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "enabled")}),
        (
            "Waking up",
            {
                "description": "Optional: a Pipedream trigger, deployed for each member or "
                "once on the site's account, whose events check the members they concern "
                "again; and a schedule for re-checking members who are not eligible yet "
                "(manage.py recheck_claims).",
                "fields": (
                    "trigger_app",
                    "trigger",
                    "trigger_scope",
                    "trigger_props",
                    "trigger_event_label",
                    "recheck_interval",
                ),
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
        ("Window and limit", {"fields": ("starts_at", "ends_at", "cap")}),
        (
            "Addresses",
            {
                "description": "Where the badge goes: the member's BitBadges address. Sign "
                "in with BitBadges proves the address is the member's; a typed one proves "
                "nothing, and several site accounts can type the same one.",
                "fields": ("require_proven_address", "one_completion_per_address"),
            },
        ),
        ("On BitBadges", {"fields": ("bitbadges_life",)}),
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
        method = services.method_of(claim.delivery)
        return method.label if method else claim.delivery

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

    @admin.display(description="on BitBadges")
    def bitbadges_life_short(self, claim):
        return claim_life.life_short(claim)

    @admin.display(description="uses, window and halt")
    def bitbadges_life(self, claim):
        return claim_life.life_field(claim)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request = request  # type: ignore[attr-defined]  # ClaimAdminForm reads it
        # Without the requirements' permissions their inline is left out of the page.
        form.may_edit_requirements = request.user.has_perm(  # type: ignore[attr-defined]
            "claims.add_requirement"
        )
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
        form = form_class(request.POST, request.FILES, instance=obj)
        form.is_valid()
        # The requirements' actions, looked up the same way (the claim as posted).
        formsets, _ = self._create_formsets(  # type: ignore[attr-defined]  # Django's own
            request, form.instance, change=obj is not None
        )
        for formset in formsets:
            formset.is_valid()

    def save_model(self, request, obj, form, change):
        # The rules as stored before this save; save_related writes down what changed.
        stored = Claim.objects.filter(pk=obj.pk).first() if change else None
        form.rules_before = audit.rules_snapshot(stored)
        super().save_model(request, obj, form, change)
        for note in getattr(form, "upstream_notes", []):
            self.message_user(request, note, messages.WARNING)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for formset in formsets:
            for each in formset.forms:
                for note in getattr(each, "upstream_notes", []):
                    self.message_user(request, note, messages.WARNING)
        claim = form.instance
        change = audit.rule_change_record(
            claim, getattr(form, "rules_before", {}), audit.Actor.staff(request.user)
        )
        changed = set(change.changes) if change is not None else set()
        if changed & TRIGGER_FIELDS and (claim.trigger or "trigger" in changed):
            # Deployed, moved or removed once the change is committed.
            redeploy = bool(changed & {"trigger", "trigger_props", "trigger_app"})
            transaction.on_commit(functools.partial(_enqueue_triggers_sync, claim.pk, redeploy))
        if claim.bitbadges_claim_id:
            # Its uses, window and halt, read once the change is committed (claims/life.py).
            transaction.on_commit(functools.partial(life.refresh, claim))
        if claim.enabled:
            # After the required apps are saved and the whole change is committed.
            transaction.on_commit(functools.partial(_enqueue_discover, claim.pk, request.user.pk))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Who changed the rules, when, and what: for anyone who may see the claim.
        context["rule_changes"] = rule_change_rows(obj) if obj is not None else None
        return super().render_change_form(request, context, add, change, form_url, obj)

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
        # One job per claim, run by the task worker (claims/admin/jobs.py shows it).
        # Values and names are listed only for staff who may see members' values: whether
        # a named member would qualify tells what the criterion read on their account.
        return jobs_redirect(dry_run_jobs_start(request, queryset.order_by("pk")))

    # The funnel.
    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/read-life/",
                self.admin_site.admin_view(
                    functools.partial(claim_life.read_again, model_admin=self)
                ),
                name="claims_claim_read_life",
            ),
            path(
                "funnel/",
                self.admin_site.admin_view(self.funnel_view),
                name="claims_claim_funnel",
            ),
            path(
                "funnel/csv/",
                self.admin_site.admin_view(self.funnel_csv_view),
                name="claims_claim_funnel_csv",
            ),
            path(
                "bitbadges-lookup/",
                self.admin_site.admin_view(lookup.bitbadges_lookup),
                name="claims_claim_bitbadges_lookup",
            ),
            *builder.urls(self.admin_site),  # the claim builder's endpoints
        ]
        return urls + super().get_urls()

    def funnel_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = funnel.FunnelForm(request.GET or None)
        start, end = form.bounds()
        # The newest figures while newer ones are counted, said so (the CSV: exact).
        data = funnel.funnel_build(start=start, end=end, stale_ok=True)
        context = {
            **self.admin_site.each_context(request),
            "title": "Funnel: members by sign-up date, and how far they got",
            "opts": self.opts,
            "form": form,
            "start": start,
            "end": end and end - datetime.timedelta(days=1),
            "funnel": data,
            "stage_bars": funnel.bars(data.pairs()),
            "csv_query": request.GET.urlencode() if form.is_valid() else "",
        }
        return TemplateResponse(request, "admin/claims/funnel.html", context)

    def funnel_csv_view(self, request):
        """The funnel page's numbers as CSV (a few rows: one per claim)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = funnel.FunnelForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            errors = " ".join(str(error) for errors in form.errors.values() for error in errors)
            return HttpResponseBadRequest(errors, content_type="text/plain; charset=utf-8")
        start, end = form.bounds()
        data = funnel.funnel_build(start=start, end=end)
        return csv_stream.response(
            funnel.csv_header(), funnel.csv_rows(data), funnel.csv_filename(data)
        )


# --- The ledger ---------------------------------------------------------------------------

"""The ledger in the admin: completions (retry failures, one or many), their events, and
the delivery pause."""

import datetime
import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from claims import pause, services
from claims.admin.base import ReadOnly
from claims.admin.exports import CompletionExport
from claims.admin.life_actions import StaffActions
from claims.admin.member_values import HidesMemberValues, completion_reason, event_details
from claims.admin.member_values import evidence_item as evidence_item_shown
from claims.models import (
    Completion,
    CompletionEvent,
    DeliveryPause,
)

logger = logging.getLogger(__name__)

State = Completion.State


class CompletionEventInline(HidesMemberValues, ReadOnly, admin.TabularInline):
    model = CompletionEvent
    fields = ("at", "from_state", "to_state", "by", "reason", "details")
    readonly_fields = fields
    value_fields = {"details": "details_shown"}

    @admin.display(description="details")
    def details_shown(self, event):
        return event_details(event.details)

    extra = 0
    can_delete = False
    ordering = ("at", "pk")

    @admin.display(description="by")
    def by(self, event):
        return event.actor_display()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


def _when(value: str) -> str:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value or ""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _evidence_html(completion, shown=None):
    """The evidence as a table; `shown` rewrites each row first (member_values)."""
    items = completion.evidence if isinstance(completion.evidence, list) else []
    items = [shown(item) if shown else item for item in items if isinstance(item, dict)]
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


class PausedFilter(admin.SimpleListFilter):
    title = "paused"
    parameter_name = "paused"

    def lookups(self, request, model_admin):
        return [("yes", "Waiting on a delivery pause"), ("no", "Not paused")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.paused()
        if self.value() == "no":
            return queryset.filter(paused_at__isnull=True)
        return queryset


class DueFilter(admin.SimpleListFilter):
    """The backlog: what a worker should take now (CompletionQuerySet.due)."""

    title = "due now"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("yes", "Due now (the backlog)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.due().filter(member__isnull=False)
        return queryset


@admin.register(Completion)
class CompletionAdmin(
    StaffActions, CompletionExport, HidesMemberValues, ReadOnly, admin.ModelAdmin
):
    """The ledger is an audit record: nobody adds, edits or deletes a row here.

    The one thing an admin does is Retry, allowed to those with the change permission.
    """

    list_display = (
        "claim",
        "member_display",
        "state",
        "address",
        "address_proven",
        "attempts",
        "reason_short",
        "last_attempt_at",
        "next_attempt_at",
        "completed_at",
    )
    list_filter = (
        "state",
        "claim",
        "claim__delivery",
        "outcome_unknown",
        "address_proven",
        PausedFilter,
        DueFilter,
    )
    list_select_related = ("claim", "member")
    search_fields = (
        "member__username",
        "member__email",
        "claim__name",
        "delivery_reference",
        "upstream_identity",
        "address",
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
        "address_proven",
        "address_key",
        "upstream_identity",
        "delivery_reference",
        "outcome_unknown",
        "resend_approved",
        "staff_granted",
        "paused_at",
        "evidence_table",
        "completed_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    # Without claims.view_member_values: the same, without what criteria read upstream.
    value_fields = {
        "reason": "reason_shown",
        "reason_short": "reason_short_shown",
        "upstream_identity": "upstream_identity_shown",
        "evidence_table": "evidence_shown",
    }
    value_search_fields = ("upstream_identity",)
    inlines = [CompletionEventInline]
    actions = ["retry", "export_csv"]
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

    @admin.display(description="reason")
    def reason_shown(self, completion):
        return completion_reason(completion)

    @admin.display(description="reason")
    def reason_short_shown(self, completion):
        return Truncator(completion_reason(completion)).chars(80)

    @admin.display(description="upstream identity")
    def upstream_identity_shown(self, completion):
        return "(hidden)" if completion.upstream_identity else ""

    @admin.display(description="evidence")
    def evidence_shown(self, completion):
        return _evidence_html(completion, shown=evidence_item_shown)

    @admin.display(description="evidence")
    def evidence_table(self, completion):
        return _evidence_html(completion)

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

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_retry"] = (
            obj is not None and obj.retryable and self.has_retry_permission(request)
        )
        context.update(self.staff_action_context(request, obj))  # Revoke, Re-issue
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(CompletionEvent)
class CompletionEventAdmin(HidesMemberValues, ReadOnly, admin.ModelAdmin):
    list_display = ("at", "completion", "from_state", "to_state", "by", "reason")
    list_filter = ("to_state", "actor_kind", "reason")
    list_select_related = ("completion__claim", "completion__member", "actor")
    search_fields = (
        "actor_detail",
        "actor__username",
        "completion__claim__name",
        "completion__member__username",
        "completion__member__email",
    )
    date_hierarchy = "at"
    fields = ("completion", "at", "from_state", "to_state", "by", "reason", "details")
    readonly_fields = fields
    value_fields = {"details": "details_shown"}

    @admin.display(description="details")
    def details_shown(self, event):
        return event_details(event.details)

    @admin.display(description="by", ordering="actor_kind")
    def by(self, event):
        return event.actor_display()


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
        return Completion.objects.paused().count()

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

"""Trigger deployments and the events they delivered, read-only."""

import logging

from django.contrib import admin
from django.utils.html import format_html

from claims.admin.base import ReadOnly
from claims.admin.member_values import HidesMemberValues, hidden_html
from claims.models import (
    Completion,
    TriggerDelivery,
    TriggerDeployment,
)

logger = logging.getLogger(__name__)

State = Completion.State


@admin.register(TriggerDeployment)
class TriggerDeploymentAdmin(ReadOnly, admin.ModelAdmin):
    """Each member's deployed triggers, and each claim's one on the site's account, with
    their last event (read-only; the signing key is never shown)."""

    list_display = ("runs_for", "claim", "status", "pipedream_id", "events", "last_event_at")
    list_filter = ("status", "claim")
    search_fields = ("member__username", "member__email", "pipedream_id", "claim__name")
    list_select_related = ("member", "claim")
    fields = (
        "claim",
        "member",
        "account",
        "site_account",
        "pipedream_id",
        "account_pipedream_id",
        "status",
        "error",
        "events",
        "last_event_at",
        "created_at",
        "deploy_started_at",
    )
    readonly_fields = fields

    @admin.display(description="runs for", ordering="member")
    def runs_for(self, deployment: TriggerDeployment):
        return deployment.member or "The site (one for the claim)"

    # No delete either: it would leave the trigger running upstream; disconnecting the
    # account, completing the claim or recheck_claims removes it properly.


def body_not_kept(delivery: TriggerDelivery) -> str:
    if delivery.outcome == TriggerDelivery.Outcome.ACCEPTED:
        return "Removed after the retention period (RETENTION_BODY_DAYS)."
    return "Not kept: only an accepted delivery keeps its body (this one: its digest and size)."


@admin.register(TriggerDelivery)
class TriggerDeliveryAdmin(HidesMemberValues, ReadOnly, admin.ModelAdmin):
    """Each delivery as received. One whose signature was not verified (none configured,
    or refused) keeps its headers, secrets redacted to their shape and a digest, so an
    operator can read the format Pipedream really sends and configure it."""

    list_display = ("received_at", "deployment", "event_id", "outcome", "detail")
    list_filter = ("outcome",)
    search_fields = ("event_id", "deployment__member__username", "deployment__pipedream_id")
    list_select_related = ("deployment__member", "deployment__claim")
    date_hierarchy = "received_at"
    fields = (
        "received_at",
        "deployment",
        "event_id",
        "outcome",
        "detail",
        "headers_shown",
        "body_digest",
        "body_size",
        "body_kept",
    )
    readonly_fields = fields
    # The event as the trigger emitted it: what it read on the member's account.
    value_fields = {"body_kept": "body_shown"}

    @admin.display(description="body")
    def body_shown(self, obj: TriggerDelivery):
        return hidden_html() if obj.body else body_not_kept(obj)

    @admin.display(description="body")
    def body_kept(self, obj: TriggerDelivery):
        return obj.body or body_not_kept(obj)

    @admin.display(description="Headers (secrets redacted)")
    def headers_shown(self, obj: TriggerDelivery) -> str:
        if not obj.headers:
            return "Not kept: the signature was verified, or no deployment of ours was named."
        lines = "\n".join(f"{name}: {value}" for name, value in sorted(obj.headers.items()))
        return format_html("<pre>{}</pre>", lines)

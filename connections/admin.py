"""Admin for Pipedream Connect: apps, members' accounts, sessions (the funnel), webhooks."""

import re

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils.html import format_html

from connections import pipedream, services
from connections.models import App, ConnectedAccount, ConnectSession, WebhookEvent


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "auth_type", "enabled", "order")
    list_editable = ("enabled", "order")
    list_filter = ("enabled", "auth_type")
    search_fields = ("name", "slug")
    readonly_fields = ("created_at", "updated_at")
    actions = ["sync_from_pipedream"]

    @admin.action(description="Sync from Pipedream", permissions=["change"])
    def sync_from_pipedream(self, request, queryset):
        client = pipedream.get_client()
        done = 0
        for app in queryset:
            try:
                services.app_upsert_from_pipedream(data=client.get_app(app.slug))
            except pipedream.PipedreamError as exc:
                self.message_user(request, f"{app.slug}: {exc}", messages.ERROR)
                continue
            done += 1
        if done:
            self.message_user(request, f"Refreshed {done} app(s) from Pipedream.", messages.SUCCESS)


class HealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return ConnectedAccount.Health.choices

    def queryset(self, request, queryset):
        value = self.value()
        if value in ConnectedAccount.Health.values:
            return queryset.in_health(value)
        return queryset


@admin.register(ConnectedAccount)
class ConnectedAccountAdmin(admin.ModelAdmin):
    list_display = ("__str__", "member", "app", "health_display", "last_synced_at", "created_at")
    list_filter = ("app", HealthFilter)
    list_select_related = ("member", "app")
    search_fields = ("member__username", "member__email", "name", "pipedream_id")
    readonly_fields = (
        "member",
        "app",
        "pipedream_id",
        "name",
        "healthy",
        "dead",
        "error",
        "upstream_created_at",
        "upstream_updated_at",
        "last_synced_at",
        "created_at",
        "updated_at",
    )
    actions = ["sync_with_pipedream", "disconnect"]

    def has_add_permission(self, request):
        return False  # accounts come from Pipedream, never typed in

    def has_delete_permission(self, request, obj=None):
        # A row deleted here alone would come back with the next sync: accounts go
        # through the Disconnect action, which deletes at Pipedream first.
        return False

    def has_disconnect_permission(self, request):
        return super().has_delete_permission(request)

    @admin.display(description="health")
    def health_display(self, account):
        return ConnectedAccount.Health(account.health).label

    @admin.action(description="Sync with Pipedream", permissions=["change"])
    def sync_with_pipedream(self, request, queryset):
        members = {account.member_id: account.member for account in queryset}
        for member in members.values():
            try:
                result = services.accounts_sync(member=member)
            except services.UpstreamError as exc:
                self.message_user(request, f"{member}: {exc.cause}", messages.ERROR)
                continue
            self.message_user(request, f"{member}: {result}.", messages.SUCCESS)

    @admin.action(description="Disconnect (at Pipedream too)", permissions=["disconnect"])
    def disconnect(self, request, queryset):
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Disconnect these accounts?",
                "accounts": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/connections/connectedaccount/disconnect_confirmation.html", context
            )
        gone = 0
        for account in queryset.select_related("member", "app"):
            try:
                services.account_disconnect(member=account.member, account=account)
            except services.UpstreamError as exc:
                self.message_user(request, f"{account}: {exc.cause}", messages.ERROR)
                continue
            gone += 1
        if gone:
            self.message_user(request, f"Disconnected {gone} account(s).", messages.SUCCESS)
        return None


class ReadOnlyAdmin(admin.ModelAdmin):
    """An audit record: looked at, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def conversion(queryset) -> list[dict]:
    """Sessions issued -> connected, per app and mode."""
    rows = (
        queryset.values("app__name", "mode")
        .annotate(
            issued=Count("pk"),
            connected=Count("pk", filter=Q(status=ConnectSession.Status.CONNECTED)),
            failed=Count("pk", filter=Q(status=ConnectSession.Status.FAILED)),
        )
        .order_by("app__name", "mode")
    )
    modes = dict(ConnectSession.Mode.choices)
    return [
        {
            **row,
            "mode_label": modes.get(row["mode"], row["mode"]),
            "rate": round(100 * row["connected"] / row["issued"]) if row["issued"] else 0,
        }
        for row in rows
    ]


@admin.register(ConnectSession)
class ConnectSessionAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "member", "app", "mode", "status", "created_at", "completed_at")
    list_filter = ("status", "mode", "app")
    list_select_related = ("member", "app")
    search_fields = ("member__username", "member__email", "public_id")
    date_hierarchy = "created_at"
    change_list_template = "admin/connections/connectsession/change_list.html"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        context = getattr(response, "context_data", None)  # a redirect has none
        if context and context.get("cl") is not None:
            context["conversion"] = conversion(context["cl"].queryset)
        return response


# A Connect token in a delivery's body: its first characters are kept to tell them apart.
CONNECT_TOKEN = re.compile(r"(ctok_[0-9A-Za-z]{4})[0-9A-Za-z_-]*")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "event", "outcome", "session", "detail_short")
    list_filter = ("outcome", "event")
    list_select_related = ("session__member", "session__app")
    search_fields = ("body_digest", "detail")
    # The raw body holds the Connect token. Admins see the delivery as received, except
    # the token, cut to its first characters: spent or not, a token is a credential, and
    # the session (verified against its digest) says which one it was. Nowhere else
    # (detail, logs, other fields) carries it.
    fields = (
        "received_at",
        "event",
        "outcome",
        "detail",
        "session",
        "content_type",
        "body_digest",
        "processed_at",
        "raw_body",
    )
    readonly_fields = fields
    actions = ["replay"]

    @admin.display(description="detail")
    def detail_short(self, event):
        return event.detail[:100]

    @admin.display(description="body")
    def raw_body(self, event):
        body = CONNECT_TOKEN.sub(lambda m: m.group(1) + "…", event.body)
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", body)

    # Replaying changes nothing already settled, so it needs only the view permission.
    @admin.action(description="Replay (process again, show the outcome)", permissions=["view"])
    def replay(self, request, queryset):
        for event in queryset:
            replayed = services.webhook_process(event_id=event.pk, replay=True)
            level = (
                messages.ERROR if replayed.outcome == WebhookEvent.Outcome.ERROR else messages.INFO
            )
            self.message_user(
                request,
                f"Delivery {event.pk}: {replayed.get_outcome_display()}. {replayed.detail}",
                level,
            )

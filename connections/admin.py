"""Admin for Pipedream Connect: apps, members' accounts, the site's own accounts,
sessions (the funnel), webhooks."""

import re
from collections.abc import Iterator, Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from connections import pipedream, services
from connections.models import (
    App,
    ConnectedAccount,
    ConnectSession,
    ReplacedAccount,
    SiteAccount,
    WebhookEvent,
)
from core import csv_stream


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "auth_type", "enabled", "order")
    list_editable = ("enabled", "order")
    list_filter = ("enabled", "auth_type")
    search_fields = ("name", "slug")
    readonly_fields = ("connect", "created_at", "updated_at")
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


class HealthColumn:
    """The account's health as one word (Pipedream's two flags, dead first)."""

    @admin.display(description="health")
    def health_display(self, account):
        return ConnectedAccount.Health(account.health).label


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


class AccountExport(csv_stream.CSVExportAdmin):
    """Members' accounts as CSV: one line each, with Pipedream's account ID (an ID, not a
    credential: using it takes the project's own client secret). No token is stored here
    to leak."""

    csv_stem = "accounts"
    csv_columns = (
        "name",
        "pipedream_id",
        "healthy",
        "dead",
        "error",
        "upstream_created_at",
        "last_synced_at",
        "created_at",
        "member__username",
        "app__slug",
        "app__name",
    )

    def csv_header(self, request: HttpRequest) -> Sequence[str]:
        return (
            "id",
            "member id",
            "member",
            "app",
            "app name",
            "health",
            "error",
            "name",
            "Pipedream account id",
            "created",
            "connected upstream",
            "last checked",
        )

    def csv_rows(self, request: HttpRequest, queryset: QuerySet[Any]) -> Iterator[Sequence[object]]:
        accounts = (
            queryset.select_related("member", "app")
            .only(*self.csv_columns)
            .iterator(chunk_size=csv_stream.CHUNK)
        )
        for account in accounts:
            yield (
                account.pk,
                account.member_id,
                account.member.username,
                account.app.slug,
                account.app.name,
                account.health,
                account.error,
                account.name,
                account.pipedream_id,
                account.created_at,
                account.upstream_created_at,
                account.last_synced_at,
            )


@admin.register(ConnectedAccount)
class ConnectedAccountAdmin(AccountExport, HealthColumn, admin.ModelAdmin):
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
    actions = ["sync_with_pipedream", "disconnect", "export_csv"]
    change_list_template = "admin/csv_export/change_list.html"

    def has_add_permission(self, request):
        return False  # accounts come from Pipedream, never typed in

    def has_delete_permission(self, request, obj=None):
        # A row deleted here alone would come back with the next sync: accounts go
        # through the Disconnect action, which deletes at Pipedream first.
        return False

    def has_disconnect_permission(self, request):
        return super().has_delete_permission(request)

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
        "body_size",
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
        if not event.body:
            if event.outcome == WebhookEvent.Outcome.REFUSED:
                return "Not kept: a refused delivery keeps only its digest and size."
            return "Removed after the retention period (RETENTION_BODY_DAYS)."
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


class SiteConnectForm(forms.Form):
    app = forms.ModelChoiceField(
        queryset=App.objects.order_by("name"),
        help_text="The app of the claim whose trigger watches a shared resource (GitHub for "
        "stars of a repository). The account must be able to watch it: for github-new-star, "
        "one that administers the repository.",
    )


@admin.register(SiteAccount)
class SiteAccountAdmin(HealthColumn, admin.ModelAdmin):
    """The site's own accounts, which claims' triggers on a shared resource run on. They
    are connected on Pipedream's hosted page and recorded from Pipedream's list."""

    list_display = ("__str__", "app", "health_display", "upstream_created_at", "last_synced_at")
    list_filter = ("app",)
    list_select_related = ("app",)
    readonly_fields = (
        "app",
        "pipedream_id",
        "name",
        "healthy",
        "dead",
        "error",
        "upstream_created_at",
        "last_synced_at",
        "created_at",
    )
    actions = ["disconnect"]

    def has_add_permission(self, request):
        return False  # connected on Pipedream's page (Connect for the site), never typed in

    def has_delete_permission(self, request, obj=None):
        return False  # through Disconnect, which deletes at Pipedream first

    def has_connect_permission(self, request):
        return super().has_add_permission(request)

    def has_disconnect_permission(self, request):
        return super().has_delete_permission(request)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("connect/", view(self.connect_view), name="connections_siteaccount_connect"),
            path("returned/", view(self.returned_view), name="connections_siteaccount_returned"),
            path("sync/", view(self.sync_view), name="connections_siteaccount_sync"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {
            "can_connect": self.has_connect_permission(request),
            "site_external_user_id": services.site_external_user_id(),
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def _back(self):
        return redirect("admin:connections_siteaccount_changelist")

    def connect_view(self, request):
        """Choose the app, then go to Pipedream's hosted page for the site's user."""
        if not self.has_connect_permission(request):
            raise PermissionDenied
        form = SiteConnectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                return redirect(services.site_connect_link(app=form.cleaned_data["app"]))
            except services.UpstreamError as exc:
                form.add_error(None, f"Pipedream did not answer: {exc.cause}. Try again.")
        context = {
            **self.admin_site.each_context(request),
            "title": "Connect an account for the site",
            "form": form,
            "opts": self.model._meta,
            "site_external_user_id": services.site_external_user_id(),
        }
        return TemplateResponse(request, "admin/connections/siteaccount/connect.html", context)

    def returned_view(self, request):
        """Back from Pipedream's page: what was connected is read from Pipedream's list."""
        if not self.has_connect_permission(request):
            raise PermissionDenied
        if request.GET.get("result") == "error":
            self.message_user(
                request,
                "Pipedream's page reported an error; nothing was connected.",
                messages.ERROR,
            )
        self._sync(request)
        return self._back()

    def sync_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        # A sync can move or stop the claims' shared triggers: for those who may connect.
        if not self.has_connect_permission(request):
            raise PermissionDenied
        self._sync(request)
        return self._back()

    def _sync(self, request) -> None:
        try:
            result = services.site_accounts_sync()
        except services.UpstreamError as exc:
            self.message_user(
                request, f"Could not list the site's accounts: {exc.cause}", messages.ERROR
            )
            return
        self.message_user(
            request, f"The site's accounts, from Pipedream: {result}.", messages.SUCCESS
        )

    @admin.action(description="Disconnect (at Pipedream too)", permissions=["disconnect"])
    def disconnect(self, request, queryset):
        gone = 0
        for account in queryset.select_related("app"):
            try:
                services.site_account_disconnect(account=account)
            except services.UpstreamError as exc:
                self.message_user(request, f"{account}: {exc.cause}", messages.ERROR)
                continue
            gone += 1
        if gone:
            self.message_user(request, f"Disconnected {gone} site account(s).", messages.SUCCESS)


@admin.register(ReplacedAccount)
class ReplacedAccountAdmin(ReadOnlyAdmin):
    """Upstream accounts a reconnect replaced that Pipedream has not deleted yet: syncs skip
    them, and the health poll (sync_accounts --all) tries the deletion again."""

    list_display = ("pipedream_id", "member", "attempts", "error", "created_at", "last_tried_at")
    list_select_related = ("member",)
    search_fields = ("pipedream_id", "member__username", "member__email")

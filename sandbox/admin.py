"""Django admin for the sandbox's state (the control page at /sandbox/ is the friendlier view)."""

from django.contrib import admin

from sandbox.bitbadges.models import (
    BitBadgesAttempt,
    BitBadgesClaim,
    BitBadgesCredits,
    BitBadgesStore,
    BitBadgesStoreAction,
    BitBadgesStoreEntry,
    SiwbbApp,
    SiwbbCode,
    SiwbbToken,
)
from sandbox.common.models import Fault
from sandbox.pipedream import services, webhooks
from sandbox.pipedream.models import (
    Account,
    ConnectToken,
    DeployedTrigger,
    ExternalUser,
    OAuthAccessToken,
    TriggerEvent,
    WebhookDelivery,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Issued credentials are records, not something to edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OAuthAccessToken)
class OAuthAccessTokenAdmin(ReadOnlyAdmin):
    list_display = ["client_id", "scope", "created_at", "expires_at"]
    exclude = ["token_hash"]


@admin.register(ConnectToken)
class ConnectTokenAdmin(ReadOnlyAdmin):
    list_display = ["token_hint", "external_user_id", "environment", "expires_at", "used_at"]
    list_filter = ["environment"]
    search_fields = ["external_user_id", "token_hint"]
    exclude = ["token_hash"]


class AccountInline(admin.TabularInline):
    model = Account
    fields = ["account_id", "app_slug", "name", "healthy", "dead"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(ExternalUser)
class ExternalUserAdmin(admin.ModelAdmin):
    list_display = ["external_id", "public_id", "environment", "project_id", "created_at"]
    list_filter = ["environment"]
    search_fields = ["external_id", "public_id"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    inlines = [AccountInline]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["account_id", "app_slug", "name", "user", "healthy", "dead", "created_at"]
    list_filter = ["app_slug", "healthy", "dead", "user__environment"]
    search_fields = ["account_id", "name", "user__external_id"]
    readonly_fields = ["account_id", "created_at", "updated_at"]
    raw_id_fields = ["user"]
    actions = ["mark_healthy", "mark_unhealthy", "mark_dead"]

    @admin.action(permissions=["change"], description="Mark healthy")
    def mark_healthy(self, request, queryset):
        for account in queryset:
            services.account_set_health(account, state="healthy")

    @admin.action(permissions=["change"], description="Mark unhealthy")
    def mark_unhealthy(self, request, queryset):
        for account in queryset:
            services.account_set_health(account, state="unhealthy")

    @admin.action(permissions=["change"], description="Mark dead")
    def mark_dead(self, request, queryset):
        for account in queryset:
            services.account_set_health(account, state="dead")


@admin.register(Fault)
class FaultAdmin(admin.ModelAdmin):
    list_display = ["endpoint", "describe", "enabled", "note", "created_at"]
    list_filter = ["enabled"]
    list_editable = ["enabled"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "url", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event"]
    # Every field read-only, but "change" stays so that the retry action is offered.
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.action(permissions=["change"], description="Send again")
    def retry(self, request, queryset):
        for delivery in queryset:
            webhooks.retry(delivery)
            webhooks.deliver(delivery.pk)
        self.message_user(request, f"Sent {queryset.count()} webhook(s) again.")


class TriggerEventInline(admin.TabularInline):
    model = TriggerEvent
    fields = ["event_id", "ts", "payload", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(DeployedTrigger)
class DeployedTriggerAdmin(admin.ModelAdmin):
    list_display = ["trigger_id", "component_key", "user", "account", "active", "created_at"]
    list_filter = ["component_key", "active", "user__environment"]
    search_fields = ["trigger_id", "user__external_id", "account__account_id"]
    readonly_fields = ["trigger_id", "created_at", "updated_at"]
    raw_id_fields = ["user", "account"]
    exclude = ["signing_key"]  # a secret: the API shows it to its owner
    inlines = [TriggerEventInline]


@admin.register(TriggerEvent)
class TriggerEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "trigger", "ts", "created_at"]
    search_fields = ["event_id", "trigger__trigger_id"]


# --- The emulated BitBadges ----------------------------------------------------------


class BitBadgesAttemptInline(admin.TabularInline):
    model = BitBadgesAttempt
    fields = ["attempt_id", "address", "status", "error", "claim_number", "created_at", "due_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(BitBadgesClaim)
class BitBadgesClaimAdmin(admin.ModelAdmin):
    list_display = [
        "claim_id",
        "label",
        "num_uses",
        "max_uses",
        "halted",
        "requires_sign_in",
        "hide_current_state",
        "version",
        "created_at",
    ]
    list_filter = ["halted", "requires_sign_in", "hide_current_state"]
    search_fields = ["claim_id", "label"]
    readonly_fields = ["num_uses", "created_at"]
    inlines = [BitBadgesAttemptInline]


@admin.register(BitBadgesAttempt)
class BitBadgesAttemptAdmin(ReadOnlyAdmin):
    list_display = ["attempt_id", "claim", "address", "status", "claim_number", "created_at"]
    list_filter = ["status"]
    search_fields = ["attempt_id", "address", "claim__claim_id"]


class BitBadgesStoreEntryInline(admin.TabularInline):
    model = BitBadgesStoreEntry
    extra = 0


@admin.register(BitBadgesStore)
class BitBadgesStoreAdmin(admin.ModelAdmin):
    list_display = ["dynamic_data_id", "label", "created_at"]
    search_fields = ["dynamic_data_id", "label"]
    inlines = [BitBadgesStoreEntryInline]


@admin.register(BitBadgesStoreAction)
class BitBadgesStoreActionAdmin(ReadOnlyAdmin):
    list_display = ["store", "action", "address", "created_at", "effective_at", "applied_at"]
    list_filter = ["action"]


@admin.register(BitBadgesCredits)
class BitBadgesCreditsAdmin(admin.ModelAdmin):
    """The sandbox API key's credits (one row; the control page sets the balance too)."""

    list_display = ["__str__", "on_chain_total", "used", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request):
        return not BitBadgesCredits.objects.exists()


# --- Sign In with BitBadges: no secret, code or token is shown (only their hashes exist) --


@admin.register(SiwbbApp)
class SiwbbAppAdmin(admin.ModelAdmin):
    """Developer apps. Made by `manage.py sandbox_setup` and sandbox.bitbadges.siwbb's
    register_app (which takes the secret); here the name and redirect URIs can change."""

    list_display = ["client_id", "name", "redirect_uris", "created_at", "updated_at"]
    search_fields = ["client_id", "name"]
    exclude = ["client_secret_hash"]
    readonly_fields = ["client_id", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False


@admin.register(SiwbbCode)
class SiwbbCodeAdmin(ReadOnlyAdmin):
    list_display = ["app", "address", "redirect_uri", "scopes", "created_at", "exchanged_at"]
    search_fields = ["address", "app__client_id"]
    exclude = ["code_hash"]


@admin.register(SiwbbToken)
class SiwbbTokenAdmin(ReadOnlyAdmin):
    list_display = ["app", "address", "scopes", "access_expires_at", "refresh_expires_at"]
    search_fields = ["address", "app__client_id"]
    exclude = ["access_token_hash", "refresh_token_hash"]

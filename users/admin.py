from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, Exists, OuterRef, Q

from claims.models import Completion
from connections.models import ConnectedAccount
from users.models import User


class ConnectedAccountInline(admin.TabularInline):
    """The member's accounts as Pipedream reported them (change them through sync or
    disconnect, never by hand)."""

    model = ConnectedAccount
    fields = ("app", "name", "pipedream_id", "healthy", "dead", "error", "last_synced_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("app__name", "pk")

    def has_add_permission(self, request, obj=None):
        return False


class CompletionInline(admin.TabularInline):
    """The member's rows of the claims ledger (read-only: Retry lives on the ledger)."""

    model = Completion
    fields = ("claim", "state", "reason", "attempts", "last_attempt_at", "completed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-updated_at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_filter = (*BaseUserAdmin.list_filter, "emailaddress__verified")
    list_display = (
        "username",
        "email",
        "address",
        "email_verified",
        "accounts",
        "completed",
        "is_staff",
        "is_active",
        "date_joined",
    )
    readonly_fields = ("external_id", "last_login", "date_joined")
    search_fields = ("username", "email", "first_name", "last_name", "address", "external_id")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Connect & Claim", {"fields": ("external_id", "address")}),
    )
    inlines = [ConnectedAccountInline, CompletionInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                account_count=Count("connected_accounts", distinct=True),
                completed_count=Count(
                    "completions", filter=Q(completions__state="completed"), distinct=True
                ),
                verified=Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)),
            )
        )

    @admin.display(description="email confirmed", boolean=True, ordering="verified")
    def email_verified(self, obj):
        return obj.verified

    @admin.display(description="accounts", ordering="account_count")
    def accounts(self, obj):
        return obj.account_count

    @admin.display(description="claims completed", ordering="completed_count")
    def completed(self, obj):
        return obj.completed_count

"""The member in the admin across the apps: users' User admin, plus the member's connected
accounts and completions (inline, read-only) and their counts in the list."""

from django.contrib import admin
from django.db.models import Count, Q

from claims.admin import member_values
from claims.models import Completion
from connections.models import ConnectedAccount
from users.admin import UserAdmin
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
    fields = ("claim", "state", "why", "attempts", "last_attempt_at", "completed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-updated_at",)

    def get_formset(self, request, obj=None, **kwargs):
        self._values_shown = member_values.can_see(request)
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="reason")
    def why(self, completion):
        """The reason, unless it quotes what the criterion read and the viewer may not
        see members' values (claims.view_member_values)."""
        if getattr(self, "_values_shown", False):
            return completion.reason
        return member_values.completion_reason(completion)

    def has_add_permission(self, request, obj=None):
        return False


class MemberAdmin(UserAdmin):
    """users' UserAdmin, with the connected accounts and completions of the member."""

    # users' columns, with the member's accounts and completions after "email_verified".
    list_display = (
        *UserAdmin.list_display[: UserAdmin.list_display.index("email_verified") + 1],
        "accounts",
        "completed",
        *UserAdmin.list_display[UserAdmin.list_display.index("email_verified") + 1 :],
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
            )
        )

    @admin.display(description="accounts", ordering="account_count")
    def accounts(self, obj):
        return obj.account_count

    @admin.display(description="claims completed", ordering="completed_count")
    def completed(self, obj):
        return obj.completed_count


# users.admin registered User first (users comes before members in INSTALLED_APPS).
admin.site.unregister(User)
admin.site.register(User, MemberAdmin)

"""Staff read what was sent, skipped or failed (view permission); nothing is edited
here, and no email address is shown (the member's own admin page has it)."""

from django.contrib import admin

from connections.admin import ReadOnlyAdmin
from notifications.models import Notification, Preference


class MemberRowAdmin(ReadOnlyAdmin):
    """A read-only list of the members' rows, each shown by its member's username."""

    list_select_related = ("member",)

    @admin.display(description="Member", ordering="member__username")
    def member_name(self, obj):
        return obj.member.get_username()


@admin.register(Notification)
class NotificationAdmin(MemberRowAdmin):
    list_display = ("created_at", "member_name", "kind", "state", "reason", "sent_at")
    list_filter = ("kind", "state")
    search_fields = ("member__username", "pipedream_id", "key")
    date_hierarchy = "created_at"
    fields = (
        "member",
        "kind",
        "key",
        "state",
        "reason",
        "completion",
        "account",
        "pipedream_id",
        "created_at",
        "send_after",
        "sent_at",
        "resolved_at",
        "attempts",
        "taken_at",
    )
    readonly_fields = fields


@admin.register(Preference)
class PreferenceAdmin(MemberRowAdmin):
    list_display = ("member_name", "badge_earned", "account_broken", "updated_at")
    list_filter = ("badge_earned", "account_broken")
    search_fields = ("member__username",)
    fields = ("member", "badge_earned", "account_broken", "updated_at")
    readonly_fields = fields

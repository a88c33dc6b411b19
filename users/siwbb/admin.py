"""The admin shows members' BitBadges logins, never an app's secret or a token, and
changes none of them.

The client id and secret come from settings (BITBADGES_CLIENT_ID / _SECRET); allauth's
"social applications" (secrets in clear) and "tokens" (none are stored) are not shown.
A BitBadges login is a way into an account: adding one, or moving one to another member,
would let its holder log in as that member; so the logins are read-only here, whatever
the staff member's permissions. Only the member makes or removes one (connect and
disconnect on /profile/), or deleting the member removes them.
"""

from allauth.account.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib import admin

for _model in (SocialApp, SocialToken, SocialAccount):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(SocialAccount)
class BitBadgesLoginAdmin(admin.ModelAdmin):
    list_display = ("uid", "user", "provider", "date_joined", "last_login")
    list_filter = ("provider",)
    list_select_related = ("user",)
    fields = ("user", "provider", "uid", "date_joined", "last_login")
    readonly_fields = fields
    search_fields = ["uid"]

    def get_search_fields(self, request) -> list[str]:
        users = [f"user__{field}" for field in get_adapter().get_user_search_fields()]
        return [*super().get_search_fields(request), *users]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

"""The member in the admin, as users knows them: account, emails, external id, address.

members.admin re-registers User with what the other apps add (connected accounts,
completions, their counts): users imports neither app.
"""

from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Exists, OuterRef

from users.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_filter = (*BaseUserAdmin.list_filter, "emailaddress__verified")
    list_display: tuple[str, ...] = (
        "username",
        "email",
        "address",
        "email_verified",
        "is_staff",
        "is_active",
        "date_joined",
    )
    readonly_fields = ("external_id", "last_login", "date_joined")
    search_fields = ("username", "email", "first_name", "last_name", "address", "external_id")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Connect & Claim", {"fields": ("external_id", "address")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                verified=Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=True))
            )
        )

    @admin.display(description="email confirmed", boolean=True, ordering="verified")
    def email_verified(self, obj):
        return obj.verified

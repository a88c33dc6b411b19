"""The member in the admin, as users knows them: account, emails, external id, how they
signed up, their id at the host site (when they sign on from it), address, whether Sign
in with BitBadges proved it (and when), and their BitBadges login.

members.admin re-registers User with what the other apps add (connected accounts,
completions, their counts): users imports neither app.
"""

from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Exists, OuterRef
from django.utils import timezone

from users.models import User, proven_q
from users.selectors import host_id_of
from users.siwbb.selectors import bitbadges_uid

# A proven address: the one BitBadges proved, still the member's (User.address_proven).
PROVEN = proven_q()


class AddressProvenFilter(admin.SimpleListFilter):
    """Members whose address Sign in with BitBadges proved, or not."""

    title = "address proven"
    parameter_name = "proven"

    def lookups(self, request, model_admin):
        return (("yes", "Proven with BitBadges"), ("no", "Not proven (typed, or none)"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(PROVEN)
        if self.value() == "no":
            return queryset.exclude(PROVEN)
        return queryset


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_filter = (
        *BaseUserAdmin.list_filter,
        "emailaddress__verified",
        AddressProvenFilter,
        "signup_method",
    )
    list_display: tuple[str, ...] = (
        "username",
        "email",
        "address",
        "proven",
        "email_verified",
        "is_staff",
        "is_active",
        "date_joined",
    )
    readonly_fields = (
        "external_id",
        "signup_method",
        "host_id",
        "last_login",
        "date_joined",
        "address_proof",
        "bitbadges_login",
    )
    search_fields = (
        "username",
        "email",
        "first_name",
        "last_name",
        "address",
        "external_id",
        "socialaccount__uid",  # a host id, a BitBadges address
    )
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (
            "Connect & Claim",
            {
                "fields": (
                    "external_id",
                    "signup_method",
                    "host_id",
                    "address",
                    "address_proof",
                    "bitbadges_login",
                )
            },
        ),
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

    @admin.display(description="proven", boolean=True, ordering="address_proven_at")
    def proven(self, obj):
        """The address was proven by Sign in with BitBadges (not just typed)."""
        return obj.address_proven

    @admin.display(description="address proven")
    def address_proof(self, obj):
        """Whether Sign in with BitBadges proved the address, and when (site time)."""
        if obj is None or obj.pk is None or not obj.address_proven:
            return "No: typed by the member, or none" if obj and obj.address else "No address"
        when = timezone.localtime(obj.address_proven_at)
        return f"Yes, with Sign in with BitBadges, on {when:%Y-%m-%d %H:%M %Z}"

    @admin.display(description="host id")
    def host_id(self, obj):
        """The member's id at the host site (its OpenID Connect `sub`), or a dash. Never
        changed here: it is the login's, made when they signed on from the host site."""
        if obj is None or obj.pk is None:
            return "-"
        return host_id_of(member=obj) or "-"

    @admin.display(description="BitBadges login")
    def bitbadges_login(self, obj):
        """The BitBadges address the member signs in with (the social account's uid), or
        a dash; never a token (none is kept)."""
        if obj is None or obj.pk is None:
            return "-"
        return bitbadges_uid(obj) or "-"

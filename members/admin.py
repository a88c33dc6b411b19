"""The member in the admin across the apps: users' User admin, plus the member's connected
accounts and completions (inline, read-only) and their counts in the list.

Deleting a member here goes through members.services.member_delete, as on /profile/:
Pipedream first, then here, the ledger anonymised. The stock delete page and the stock
"Delete selected" action, which delete the row directly, are replaced by a confirmation
page of our own that says so (`delete_view`, and the `delete_members` action).
"""

from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from claims.admin import member_values
from claims.models import Completion
from connections import pipedream
from connections.models import ConnectedAccount
from members import services as member_services
from members.exports import MemberExport
from users.admin import UserAdmin
from users.models import User

DELETE_TEMPLATE = "admin/members/delete_members.html"


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


class MemberAdmin(MemberExport, UserAdmin):
    """users' UserAdmin, with the connected accounts and completions of the member."""

    # users' columns, with the member's accounts and completions after "email_verified".
    list_display = (
        *UserAdmin.list_display[: UserAdmin.list_display.index("email_verified") + 1],
        "accounts",
        "completed",
        *UserAdmin.list_display[UserAdmin.list_display.index("email_verified") + 1 :],
    )
    inlines = [ConnectedAccountInline, CompletionInline]
    actions = ["delete_members", "export_csv"]
    change_list_template = "admin/csv_export/change_list.html"

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

    # --- deleting: always through member_delete --------------------------------------

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)  # Django's: it would delete rows directly
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        member = self.get_object(request, unquote(object_id))
        if member is None:
            raise Http404("No such member.")
        if not self.has_delete_permission(request, member):
            raise PermissionDenied
        return self._delete_page(request, [member])

    @admin.action(
        description="Delete selected members (at Pipedream first)", permissions=["delete"]
    )
    def delete_members(self, request, queryset):
        return self._delete_page(request, list(queryset.order_by("username")))

    def delete_model(self, request, obj):
        """Whatever reaches it (Django's own paths), a member is deleted upstream first."""
        member_pk = obj.pk  # None once deleted
        member_services.member_delete(member=obj, by_staff=True)
        self._log_deleted(request, member_pk)

    def delete_queryset(self, request, queryset):
        for member in queryset:
            self.delete_model(request, member)

    def _delete_page(self, request, members):
        """GET (or the action's first post): what deleting does, and a confirmation.
        Confirmed: each member through member_delete; one Pipedream refuses stays, with
        Pipedream's sentence, and nothing of them is deleted here."""
        confirmed = request.method == "POST" and request.POST.get("confirm") == "yes"
        failures: list[tuple[User, str]] = []
        status = 200
        if any(member.pk == request.user.pk for member in members):
            # Their own account goes from /profile/delete/ (re-authenticated, logged out).
            failures = [
                (request.user, "You cannot delete your own account here; use your profile.")
            ]
            members, confirmed, status = [], False, 400
        if confirmed:
            for member in members:
                if not self.has_delete_permission(request, member):
                    raise PermissionDenied
                label, member_pk = member.get_username(), member.pk
                try:
                    member_services.member_delete(member=member, by_staff=True)
                except member_services.MemberDeleteFailed as exc:
                    failures.append((member, str(exc)))
                    retry = isinstance(exc.cause, pipedream.RateLimited | pipedream.Unavailable)
                    status = 503 if retry else 502
                    continue
                self._log_deleted(request, member_pk)
                self.message_user(request, f"Deleted {label}.", messages.SUCCESS)
            if not failures:
                return HttpResponseRedirect(reverse("admin:users_user_changelist"))
            members = [member for member, _ in failures]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Delete members" if len(members) > 1 else "Delete a member",
            "members": members,
            "failures": failures,
            "action": request.POST.get("action", "") if request.method == "POST" else "",
        }
        return TemplateResponse(request, DELETE_TEMPLATE, context, status=status)

    def _log_deleted(self, request, member_pk) -> None:
        """The admin's history keeps that a member was deleted, not who they were."""
        LogEntry.objects.create(
            user_id=request.user.pk,
            content_type=ContentType.objects.get_for_model(User),
            object_id=str(member_pk),
            object_repr=f"member #{member_pk}",
            action_flag=DELETION,
            change_message="Deleted at Pipedream, then here (member_delete).",
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

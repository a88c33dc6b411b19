"""API keys in the admin.

- Add: a name, read-only scopes (checkboxes) and an optional expiry. The key is made on
  save and shown on the next page, once: only its SHA-256 digest is stored, so it cannot
  be shown again (a lost key is revoked and replaced). A scope may be given (on Add or
  Change) only by staff who may view its rows in the admin (SCOPE_NEEDS): the permission
  to make keys is not a way to read more than one may read here.
- The list and the key's page show its public prefix, name, scopes, state, who made it
  and when, and when it was last used; never the key or its digest.
- Revoke (an action, with its own permission api.revoke_apikey): the key answers 403
  from then on. Keys are not deleted, so the list keeps who had access.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import timezone

from api import keys
from api.models import ApiKey, Scope

# What a key with each scope reads, as the admin permission that shows the same rows: a
# key may carry a scope only if the staff member who gives it may view those rows here.
SCOPE_NEEDS = {
    Scope.COMPLETIONS_READ: "claims.view_completion",
    Scope.ACCOUNTS_READ: "connections.view_connectedaccount",
}


def grantable(user) -> set[str]:
    """The scopes `user` may put on a key: those whose rows they may view in the admin."""
    return {scope.value for scope, perm in SCOPE_NEEDS.items() if user.has_perm(perm)}


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the key may read. Every scope is read-only. You may give a scope "
        "only if you may view its rows here (completions, connected accounts).",
    )
    # Set by ApiKeyAdmin.get_form: the staff member filling the form in.
    user = None

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at"]

    def clean_scopes(self):
        scopes = self.cleaned_data.get("scopes") or []
        had = set(self.instance.scopes or []) if self.instance.pk else set()
        beyond = sorted(set(scopes) - had - grantable(self.user))
        if beyond:
            raise forms.ValidationError(
                "You may not give the scope %(scopes)s: it reads rows you may not view "
                "here. Ask someone who may.",
                params={"scopes": ", ".join(beyond)},
            )
        return scopes

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        changed = "expires_at" in self.changed_data
        if changed and expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return expires_at


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return ApiKey.State.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        expired = Q(expires_at__isnull=False, expires_at__lte=now)
        if self.value() == ApiKey.State.REVOKED:
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == ApiKey.State.EXPIRED:
            return queryset.filter(expired, revoked_at__isnull=True)
        if self.value() == ApiKey.State.ACTIVE:
            return queryset.filter(revoked_at__isnull=True).exclude(expired)
        return queryset


ADD_FIELDS = ["name", "scopes", "expires_at"]
SHOWN_FIELDS = [
    "name",
    "key_prefix",
    "scopes",
    "expires_at",
    "key_state",
    "created_by",
    "created_at",
    "last_used_at",
    "revoked_at",
    "revoked_by",
]
READONLY_FIELDS = [
    "key_prefix",
    "key_state",
    "created_by",
    "created_at",
    "last_used_at",
    "revoked_at",
    "revoked_by",
]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "key_prefix", "scope_list", "key_state", "created_at", "last_used_at"]
    list_filter = [StateFilter]
    search_fields = ["name", "prefix"]
    list_select_related = ["created_by"]
    actions = ["revoke"]

    @admin.display(description="key", ordering="prefix")
    def key_prefix(self, key: ApiKey) -> str:
        return f"{key.prefix}_…"

    @admin.display(description="scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes) if isinstance(key.scopes, list) else ""

    @admin.display(description="state")
    def key_state(self, key: ApiKey) -> str:
        return ApiKey.State(key.state).label

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def get_fields(self, request, obj=None):
        if obj is None:
            return ADD_FIELDS
        if not self.has_change_permission(request, obj):
            return ["scope_list" if name == "scopes" else name for name in SHOWN_FIELDS]
        return SHOWN_FIELDS

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if not self.has_change_permission(request, obj):
            return [*SHOWN_FIELDS, "scope_list"]
        return READONLY_FIELDS

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the list keeps who had access, and when

    def save_model(self, request, obj, form, change):
        if not change:
            key, obj.prefix, obj.digest = keys.new_key()
            obj.created_by = request.user
            request._api_key = key  # for response_add, this request only
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        key = getattr(request, "_api_key", "")
        if not key:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "api_key": obj,
            "key": key,
            "api_url": f"{settings.PUBLIC_URL}/api/v1/",
            "title": "API key made",
        }
        response = TemplateResponse(request, "admin/api/apikey/key_made.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("api.revoke_apikey")

    @admin.action(description="Revoke: the selected keys stop working now", permissions=["revoke"])
    def revoke(self, request, queryset):
        now = timezone.now()
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            key.revoked_at, key.revoked_by = now, request.user
            key.save(update_fields=["revoked_at", "revoked_by"])
            self.log_change(request, key, "Revoked.")
            revoked += 1
        self.message_user(
            request,
            f"{revoked} key(s) revoked: calls with them now answer 403.",
            messages.SUCCESS,
        )

"""A claim's requirements in the admin: one form each, under the claim's, checked on
Pipedream before the claim is saved."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from claims import preflight
from claims.admin.forms import BoundedJSONField, UpstreamChecked
from claims.models import Requirement

MAX_REQUIREMENTS = 20


class RequirementForm(UpstreamChecked):
    class Meta:
        model = Requirement
        fields = (
            "group",
            "app",
            "kind",
            "action",
            "props",
            "proxy_url",
            "path",
            "comparison",
            "value",
            "text",
            "link",
            "identity_path",
        )
        field_classes = {"props": BoundedJSONField}

    # Set by RequirementFormSet: the claim as posted (not saved yet on the add form).
    claim = None

    def _post_clean(self):
        super()._post_clean()  # type: ignore[misc]  # Django's hook, not in the stubs
        self.upstream_notes: list[str] = []
        if self.errors or not self.has_changed() and self.instance.pk is None:
            return
        requirement = self.instance
        if requirement.kind == Requirement.Kind.ACTION:
            # Whether the claim is enabled as posted: Pipedream down blocks enabling it.
            self._check_components(
                preflight.ComponentSettings.of_requirement(requirement),
                bool(self.claim is not None and self.claim.enabled),
            )


class RequirementFormSet(forms.BaseInlineFormSet):
    """What the requirements must be together: at least one, one identity at most, and
    the trigger on an app one of them names."""

    request = None  # set by RequirementInline.get_formset: the memo of upstream checks

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)  # type: ignore[misc]  # not in the stubs
        form.request = self.request
        form.claim = self.instance
        return form

    def clean(self):
        super().clean()
        kept = [
            form
            for form in self.forms
            if form.has_changed() or form.instance.pk is not None
            if not self._should_delete_form(form)  # type: ignore[attr-defined]  # Django's
            and hasattr(form, "cleaned_data")
        ]
        if any(form.errors for form in self.forms):
            return
        if not kept:
            raise ValidationError(
                "Add at least one requirement: a healthy account of an app, or a check of one."
            )
        identities = [form for form in kept if form.cleaned_data.get("identity_path")]
        if len(identities) > 1:
            raise ValidationError(
                "Only one requirement names the upstream identity (its identity path); "
                "clear it on the others."
            )
        if all(form.cleaned_data.get("group") == Requirement.Group.NONE for form in kept):
            raise ValidationError(
                "A claim needs at least one requirement a member must meet (all or any), "
                "besides the ones they must not."
            )
        claim = self.instance
        # An App, or its pk where the inline is read-only (staff who may only view it).
        apps = {
            getattr(form.cleaned_data["app"], "pk", form.cleaned_data["app"])
            for form in kept
            if form.cleaned_data.get("app")
        }
        if claim.trigger and claim.trigger_app_id and claim.trigger_app_id not in apps:
            raise ValidationError(
                f"The trigger runs on {claim.trigger_app}, which no requirement names: add a "
                "requirement on it, or choose the trigger's app among the claim's."
            )


class RequirementInline(admin.StackedInline):
    model = Requirement
    form = RequirementForm
    formset = RequirementFormSet
    extra = 0
    min_num = 1
    # A claim's requirements fit on one page; a forged form count past this is refused
    # before any form is built (Django would otherwise build up to a thousand more).
    max_num = MAX_REQUIREMENTS
    autocomplete_fields = ()
    fieldsets = (
        (None, {"fields": ("group", "app", "kind", "text", "link")}),
        (
            "The check",
            {
                "description": "For an action or a proxy read: what is called on the "
                "member's account, and what its result must show.",
                "fields": (
                    "action",
                    "props",
                    "proxy_url",
                    "path",
                    "comparison",
                    "value",
                    "identity_path",
                ),
            },
        ),
    )

    def get_formset(self, request, obj=None, **kwargs):
        kwargs.setdefault("absolute_max", MAX_REQUIREMENTS)
        formset = super().get_formset(request, obj, **kwargs)
        formset.request = request  # type: ignore[attr-defined]  # RequirementFormSet's
        return formset

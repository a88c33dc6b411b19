"""The member's two switches. A checkbox sends "on" or nothing: any other value is an
error, not read as "on" (Django's checkbox takes any non-empty string for yes)."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from notifications import services
from notifications.models import Kind


class _RawCheckbox(forms.CheckboxInput):
    def value_from_datadict(self, data, files, name):
        return data.get(name)


class Switch(forms.BooleanField):
    widget = _RawCheckbox

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        if value in (None, "", False):
            return False
        if value is True or value == "on":
            return True
        raise ValidationError(_("This switch is either on or off."), code="invalid")


class PreferencesForm(forms.Form):
    badge_earned = Switch(label=_("Email me when I earn a badge"))
    account_broken = Switch(
        label=_("Email me when an account a claim needs stops working"),
        help_text=_("One email per account, with a link to reconnect it."),
    )


def preferences_form(member) -> PreferencesForm:
    """The switches as the member left them (every kind on when they never chose)."""
    preference = services.preference_of(member)
    return PreferencesForm(
        initial={kind: getattr(preference, kind) for kind in Kind.values},
        auto_id="notify-%s",
    )

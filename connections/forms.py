"""Forms for the member's connections pages: what a request may name, checked once."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from connections.models import enabled_app


class ConnectForm(forms.Form):
    """Which app to connect, and optionally which of the member's accounts to reconnect.

    The app must be one the member may connect. The account is only a positive number
    here: the view looks it up among the member's own accounts, so that naming someone
    else's account is a 404, not a hint that it exists.
    """

    app = forms.SlugField(max_length=100)
    account = forms.IntegerField(required=False, min_value=1, max_value=2**62)

    error_messages = {
        "app_missing": gettext_lazy("Say which app to connect (the field app is missing)."),
        "app_unknown": gettext_lazy("This app is not available to connect."),
        "account_invalid": gettext_lazy(
            "The account to reconnect must be the number of one of your accounts."
        ),
    }

    def __init__(self, *args, member, **kwargs):
        super().__init__(*args, **kwargs)
        self.member = member
        self.fields["app"].error_messages.update(
            required=self.error_messages["app_missing"],
            invalid=self.error_messages["app_unknown"],
            max_length=self.error_messages["app_unknown"],
        )
        for key in ("invalid", "min_value", "max_value"):
            self.fields["account"].error_messages[key] = self.error_messages["account_invalid"]

    def clean_app(self):
        slug = self.cleaned_data["app"]
        # The app of that slug if members may connect it (selectors.apps_available:
        # enabled), from the per-process catalogue: no query on a mint.
        app = enabled_app(slug)
        if app is None:
            raise forms.ValidationError(self.error_messages["app_unknown"], code="app_unknown")
        return app

    def first_error(self) -> str:
        for errors in self.errors.values():
            return str(errors[0])
        return _("The request is not valid.")

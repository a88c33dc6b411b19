from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from core.addresses import MAX_ADDRESS_LENGTH, normalize_address


class AddressForm(forms.ModelForm):
    """The member's BitBadges address: validated, then stored in its canonical form."""

    address = forms.CharField(
        label=_("Your BitBadges address"),
        max_length=MAX_ADDRESS_LENGTH,
        required=True,
        strip=True,
        widget=forms.TextInput(
            attrs={"placeholder": _("0x… or bb1…"), "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text=_("An Ethereum address (0x…, e.g. from MetaMask) or a BitBadges address (bb1…)."),
        error_messages={"required": _("Enter your BitBadges address.")},
    )

    class Meta:
        model = get_user_model()
        fields = ["address"]

    def clean_address(self):
        # The model's validator says what is wrong; this stores the canonical spelling.
        value = self.cleaned_data["address"]
        return normalize_address(value)

    def first_error(self) -> str:
        for errors in self.errors.values():
            return str(errors[0])
        return ""

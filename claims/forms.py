from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core.addresses import MAX_ADDRESS_LENGTH, normalize_address, to_bitbadges_address
from users.selectors import member_email_verified

FORMAT_HELP = _("An Ethereum address (0x…, e.g. from MetaMask) or a BitBadges address (bb1…).")
PROVEN_HELP = _("Changing it removes the BitBadges proof; some claims need a proven address.")
# A member whose only proof of identity is the proven address (no confirmed email): typing
# another account's address would take away what lets them connect apps and complete claims.
KEEP_PROOF = _(
    "This address is proven by BitBadges, and it is what lets you connect apps without an "
    "email. To use another address, connect BitBadges with it, or add and confirm an email "
    "first."
)


def _account(address: str) -> str:
    """The canonical bb1 of an address (0x and bb1 spellings of one account alike)."""
    try:
        return to_bitbadges_address(normalize_address(address))
    except (ValidationError, ValueError):
        return address


class AddressForm(forms.ModelForm):
    """The member's BitBadges address: validated, then stored in its canonical form.

    A proven address (Sign in with BitBadges) is said to be proven, and that changing it
    drops the proof; a member with no confirmed email cannot replace it by typing another
    account's address (the proof is their only way through the gate)."""

    address = forms.CharField(
        label=_("Your BitBadges address"),
        max_length=MAX_ADDRESS_LENGTH,
        required=True,
        strip=True,
        widget=forms.TextInput(
            attrs={"placeholder": _("0x… or bb1…"), "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text=FORMAT_HELP,
        error_messages={"required": _("Enter your BitBadges address.")},
    )

    class Meta:
        model = get_user_model()
        fields = ["address"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The address as stored, before this form changes the instance in memory.
        self._proven = self.instance.address if self.instance.address_proven else ""
        if self._proven:
            self.fields["address"].help_text = format_lazy("{} {}", FORMAT_HELP, PROVEN_HELP)

    def clean_address(self):
        # The model's validator says what is wrong; this stores the canonical spelling.
        value = normalize_address(self.cleaned_data["address"])
        if (
            self._proven
            and _account(value) != _account(self._proven)
            and not member_email_verified(member=self.instance)
        ):
            raise ValidationError(KEEP_PROOF, code="proven_address")
        return value

    def first_error(self) -> str:
        for errors in self.errors.values():
            return str(errors[0])
        return ""

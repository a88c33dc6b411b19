"""Forms for the member's own settings."""

from django import forms


class DeleteAccountForm(forms.Form):
    """Deleting an account takes typing one's username: never a single click."""

    confirm = forms.CharField(
        label="Type your username to confirm",
        max_length=150,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
        error_messages={"required": "Type your username to confirm that you want this."},
    )

    def __init__(self, *args, member, **kwargs):
        self.member = member
        super().__init__(*args, **kwargs)

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value.casefold() != self.member.get_username().casefold():
            raise forms.ValidationError(
                "That is not your username, so nothing was deleted. "
                f"Type {self.member.get_username()} exactly."
            )
        return value

"""Forms for the member's own settings, and our versions of allauth's."""

from allauth.account.adapter import get_adapter
from allauth.account.forms import AddEmailForm as BaseAddEmailForm
from allauth.account.forms import LoginForm as BaseLoginForm
from allauth.account.forms import SignupForm as BaseSignupForm
from allauth.account.internal.userkit import filter_users_by_email
from allauth.account.utils import get_next_redirect_url
from django import forms
from django.http import HttpResponseRedirect

from users.lookalikes import plain


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


# --- allauth's forms (settings.ACCOUNT_FORMS) ------------------------------------------

NOT_ADDABLE = (
    "This address cannot be added to your account. Use an address that only you use; "
    "if you have another account with it, log in to that account instead."
)


class LoginForm(BaseLoginForm):
    """allauth's login; a login string is read as it looks (users.lookalikes.plain)."""

    def clean_login(self) -> str:
        return plain(super().clean_login()).strip()


class SignupForm(BaseSignupForm):
    """allauth's sign-up, which tells nobody whether an email address is registered.

    With "optional" verification allauth answers a registered address with "email_taken"
    even when ACCOUNT_PREVENT_ENUMERATION is on (it would have to log the newcomer in
    otherwise). Here such a sign-up gets the same redirect as a new member's, no account
    is made, and the address's owner is emailed that someone tried. A taken username is
    still said (usernames are public on nothing, but they are not secrets either).
    """

    def validate_unique_email(self, value: str) -> str:
        value = get_adapter().validate_unique_email(value)
        self.account_already_exists = bool(filter_users_by_email(value))
        return value

    def try_save(self, request):
        if not self.account_already_exists:
            return super().try_save(request)
        adapter = get_adapter(request)
        adapter.send_account_already_exists_mail(self.cleaned_data["email"])
        redirect_url = get_next_redirect_url(request) or adapter.get_signup_redirect_url(request)
        return None, HttpResponseRedirect(redirect_url)


class AddEmailForm(BaseAddEmailForm):
    """allauth's "add an email": never another member's address (nor a look-alike of any)."""

    def clean_email(self) -> str:
        value = super().clean_email()
        if any(user.pk != self.user.pk for user in filter_users_by_email(value)):
            raise forms.ValidationError(NOT_ADDABLE, code="not_addable")
        return value

"""Forms for the member's own settings, and our versions of allauth's."""

from allauth.account import app_settings
from allauth.account.adapter import get_adapter
from allauth.account.forms import AddEmailForm as BaseAddEmailForm
from allauth.account.forms import LoginForm as BaseLoginForm
from allauth.account.forms import ResetPasswordForm as BaseResetPasswordForm
from allauth.account.forms import SignupForm as BaseSignupForm
from allauth.account.internal.flows.email_verification import (
    add_email_verification_sent_message,
    consume_email_verification_rate_limit,
)
from allauth.account.internal.flows.login import perform_login
from allauth.account.internal.flows.signup import complete_signup
from allauth.account.internal.userkit import filter_users_by_email
from allauth.account.models import EmailAddress, Login
from allauth.account.utils import get_next_redirect_url, has_verified_email
from allauth.core.exceptions import ImmediateHttpResponse
from django import forms
from django.contrib.auth.hashers import make_password
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from core import ratelimit
from users.lookalikes import plain

# Confirmation links a member may have sent to addresses they add (taken ones count
# too, so both answer alike): removing and adding again is no way to mail strangers.
ADDS_PER_DAY = 5
ADD_WINDOW = 24 * 3600


def registered_members(email: str) -> list:
    """The members an address names: those who confirmed it, and those whose account's
    own address (User.email, how they sign in) it is. A member who merely listed it and
    never confirmed it is not one: listing an address claims nothing."""
    return [
        user
        for user in filter_users_by_email(email)
        if has_verified_email(user, email) or (user.email or "").casefold() == email.casefold()
    ]


def confirmed_elsewhere(member, email: str) -> bool:
    """Whether another member holds `email` confirmed (so `member` can never confirm it)."""
    return any(
        user.pk != member.pk and has_verified_email(user, email)
        for user in filter_users_by_email(email)
    )


def send_taken_notice(request, email: str) -> bool:
    """What adding (or resending to) another member's confirmed address does instead of
    a link: the same per-address limit a link passes (allauth's confirm_email), then a
    notice (at most one an hour, users.adapter) and the very "we sent a link" message.
    Whether it went out, as allauth's own sending says."""
    if not consume_email_verification_rate_limit(request, email):
        return False
    get_adapter(request).send_address_notice(
        "account/email/email_add_attempt", email, {"email": email}
    )
    add_email_verification_sent_message(request, email, signup=False)
    return True


def _wait(seconds: int) -> str:
    hours = -(-seconds // 3600)
    if hours > 1:
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    minutes = -(-seconds // 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


class DeleteAccountForm(forms.Form):
    """Deleting an account takes typing one's username: never a single click."""

    confirm = forms.CharField(
        label=gettext_lazy("Type your username to confirm"),
        max_length=150,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
        error_messages={
            "required": gettext_lazy("Type your username to confirm that you want this.")
        },
    )

    def __init__(self, *args, member, **kwargs):
        self.member = member
        super().__init__(*args, **kwargs)

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value.casefold() != self.member.get_username().casefold():
            raise forms.ValidationError(
                _("That is not your username, so nothing was deleted. Type %(username)s exactly.")
                % {"username": self.member.get_username()}
            )
        return value


# --- allauth's forms (settings.ACCOUNT_FORMS) ------------------------------------------


class LoginForm(BaseLoginForm):
    """allauth's login; a login string is read as it looks (users.lookalikes.plain)."""

    def clean_login(self) -> str:
        return plain(super().clean_login()).strip()


class SignupForm(BaseSignupForm):
    """allauth's sign-up, which tells nobody whether an email address is registered.

    Every sign-up ends the way allauth ends one under "mandatory" verification: nobody is
    logged in, and the answer is the redirect to "check your inbox" (with the same
    message and session cookie) whether the address was new or registered. Logging in
    before confirming stays allowed (settings: "optional"); confirming in the same
    browser logs the newcomer in (ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION) and carries on to
    the `next` they signed up from. A registered address makes no account; the same
    password hashing is done, and its owner gets a notice (users.stages). A taken
    username is still said (usernames are not secrets).
    """

    def validate_unique_email(self, value: str) -> str:
        value = get_adapter().validate_unique_email(value)
        self.account_already_exists = bool(registered_members(value))
        return value

    def custom_signup(self, request, user) -> None:
        # How the account was made (the funnel's paths): recorded once, here.
        super().custom_signup(request, user)
        user.signup_method = user.SignupMethod.PASSWORD
        user.save(update_fields=["signup_method"])

    def try_save(self, request):
        email = self.cleaned_data["email"]
        redirect_url = get_next_redirect_url(request)
        mandatory = app_settings.EmailVerificationMethod.MANDATORY
        try:
            if self.account_already_exists:
                # The work a new account's password costs, for the same answer time.
                make_password(self.cleaned_data["password1"])
                login = Login(
                    user=None,
                    email=email,
                    signup=True,
                    email_verification=mandatory,
                    redirect_url=redirect_url,
                )
                return None, perform_login(request, login)
            user = self.save(request)
            return user, complete_signup(
                request, user=user, email_verification=mandatory, redirect_url=redirect_url
            )
        except ImmediateHttpResponse as error:
            return None, error.response


class AddEmailForm(BaseAddEmailForm):
    """allauth's "add an email", which tells nobody whether an address is registered.

    Another member's confirmed address is added as any other (listed "Not confirmed",
    counted, removable, refused if added twice), so the page tells nothing; but it never
    gets a link, only a short notice (send_taken_notice), and allauth would refuse its
    confirmation anyway (another member holds it confirmed). Another member's
    UNconfirmed address blocks nobody (allauth's ACCOUNT_UNIQUE_EMAIL): it is added, and whoever confirms it
    first keeps it (allauth refuses the later confirmation). Look-alikes are refused
    (users.adapter.clean_email); ACCOUNT_MAX_EMAIL_ADDRESSES caps the addresses, and
    ADDS_PER_DAY the adds (taken or not) a member makes in a day.
    """

    taken = False

    def clean_email(self) -> str:
        value = super().clean_email()
        self.taken = confirmed_elsewhere(self.user, value)
        return value

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            wait = ratelimit.hit("email-add", self.user.pk, limit=ADDS_PER_DAY, window=ADD_WINDOW)
            if wait:
                raise forms.ValidationError(
                    ngettext(
                        "You have added %(count)d email address within a day, the most "
                        "a day allows. You can add another in %(wait)s.",
                        "You have added %(count)d email addresses within a day, the most "
                        "a day allows. You can add another in %(wait)s.",
                        ADDS_PER_DAY,
                    )
                    % {"count": ADDS_PER_DAY, "wait": _wait(wait)},
                    code="too_many_adds",
                )
        return cleaned

    def save(self, request):
        if not self.taken:
            return super().save(request)
        email = self.cleaned_data["email"]
        address = EmailAddress.objects.add_email(request, self.user, email, confirm=False)
        send_taken_notice(request, address.email)
        return address


class ResetPasswordForm(BaseResetPasswordForm):
    """allauth's password reset; a link goes only to a member the address names
    (registered_members), never to one who merely listed it unconfirmed. The answer is
    the same either way (ACCOUNT_PREVENT_ENUMERATION): an address naming nobody gets
    allauth's "no account here" letter."""

    users: list

    def clean_email(self) -> str:
        value = super().clean_email()
        named = {user.pk for user in registered_members(value)}
        self.users = [user for user in self.users if user.pk in named]
        return value

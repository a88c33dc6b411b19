"""Login stages: an unconfirmed address gets its link again when the member logs in, and
every sign-up ends on "check your inbox"."""

from allauth.account import app_settings
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.email_verification import (
    add_email_verification_sent_message,
    send_verification_email_at_login,
)
from allauth.account.stages import EmailVerificationStage as BaseEmailVerificationStage
from allauth.account.utils import has_verified_email


class EmailVerificationStage(BaseEmailVerificationStage):
    """allauth's stage; with "optional" verification it also resends at login.

    Verification stays optional for logging in (Connect tokens need it, not the site),
    so the member is let in either way. allauth's confirm_email rate limit keeps this
    to one email every few minutes.

    A sign-up (users.forms.SignupForm) comes here as "mandatory": it never logs in.
    One with a registered address has no user (allauth's enumeration prevention): its
    owner gets a notice (at most one an hour, users.adapter) and the visitor the very
    message and page a new member gets, whether or not the notice went out.
    """

    def handle(self):
        login = self.login
        if login.user is None and login.signup and login.email:
            adapter = get_adapter(self.request)
            adapter.send_account_already_exists_mail(login.email)
            add_email_verification_sent_message(self.request, login.email, signup=True)
            return adapter.respond_email_verification_sent(self.request, None), True
        if (
            login.email_verification == app_settings.EmailVerificationMethod.OPTIONAL
            and not login.signup
            and login.user is not None
            and not has_verified_email(login.user, login.email)
        ):
            send_verification_email_at_login(self.request, login)
            return None, True
        return super().handle()

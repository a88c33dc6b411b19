"""Login stages: an unconfirmed address gets its link again when the member logs in, and
every sign-up ends on "check your inbox"."""

from allauth.account import app_settings
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.email_verification import (
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
    One with a registered address has no user (allauth's enumeration prevention) and
    goes as allauth sends one: through the address's confirm_email limit, which a new
    address's link also passes. Only when it allows does the owner get a notice (at most
    one an hour, users.adapter) and the visitor "We sent a confirmation link", so the
    message and its cookie come exactly when they would for a new address.
    """

    def handle(self):
        login = self.login
        if login.user is None and login.signup and login.email:
            send_verification_email_at_login(self.request, login)
            return get_adapter(self.request).respond_email_verification_sent(
                self.request, None
            ), True
        if (
            login.email_verification == app_settings.EmailVerificationMethod.OPTIONAL
            and not login.signup
            and login.user is not None
            and not has_verified_email(login.user, login.email)
        ):
            send_verification_email_at_login(self.request, login)
            return None, True
        return super().handle()

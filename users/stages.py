"""Login stages: an unconfirmed address gets its link again when the member logs in."""

from allauth.account import app_settings
from allauth.account.internal.flows.email_verification import send_verification_email_at_login
from allauth.account.stages import EmailVerificationStage as BaseEmailVerificationStage
from allauth.account.utils import has_verified_email


class EmailVerificationStage(BaseEmailVerificationStage):
    """allauth's stage; with "optional" verification it also resends at login.

    Verification stays optional for logging in (Connect tokens need it, not the site),
    so the member is let in either way. allauth's confirm_email rate limit keeps this
    to one email every few minutes.
    """

    def handle(self):
        login = self.login
        if (
            login.email_verification == app_settings.EmailVerificationMethod.OPTIONAL
            and not login.signup
            and login.user is not None
            and not has_verified_email(login.user, login.email)
        ):
            send_verification_email_at_login(self.request, login)
            return None, True
        return super().handle()

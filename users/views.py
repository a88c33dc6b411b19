"""Member views around django-allauth's and its MFA app's (/profile/ lives in members.views)."""

from allauth.account import app_settings as allauth_settings
from allauth.account.decorators import reauthentication_required
from allauth.account.utils import get_next_redirect_url
from allauth.account.views import ConfirmEmailView as BaseConfirmEmailView
from allauth.account.views import EmailView as BaseEmailView
from allauth.account.views import password_set as allauth_password_set
from allauth.core.internal.httpkit import add_query_params
from allauth.mfa.recovery_codes.views import ViewRecoveryCodesView as BaseRecoveryCodesView
from allauth.mfa.totp.views import ActivateTOTPView as BaseActivateTOTPView
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404
from django.utils.translation import gettext as _

from users.forms import confirmed_elsewhere, send_taken_notice


class ConfirmEmailView(BaseConfirmEmailView):
    """allauth's confirmation page; a bad or expired link POSTed says so (not a bare 404)."""

    def post(self, *args, **kwargs):
        try:
            return super().post(*args, **kwargs)
        except Http404:
            self.object = None
            response = self.render_to_response(self.get_context_data())
            response.status_code = 400
            return response


confirm_email = login_not_required(ConfirmEmailView.as_view())


class EmailView(BaseEmailView):
    """allauth's email page; a resend held back by the rate limit says so, and one to
    another member's confirmed address sends a notice, not a link."""

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["max_email_addresses"] = allauth_settings.MAX_EMAIL_ADDRESSES
        return context

    def _action_send(self, request, *args, **kwargs):
        address = self._get_email_address(request)
        if (
            address is not None
            and not address.verified
            and confirmed_elsewhere(request.user, address.email)
        ):
            # Another member's confirmed address: a notice, never a link (users.forms).
            self._did_send_verification_email = send_taken_notice(request, address.email)
            response = None
        else:
            response = super()._action_send(request, *args, **kwargs)
        if not self._did_send_verification_email and address is not None and not address.verified:
            messages.warning(
                request,
                _(
                    "We sent a link to %(email)s a moment ago. Wait a few minutes "
                    "before asking for another, and check your spam folder."
                )
                % {"email": address.email},
            )
        return response


email = EmailView.as_view()

# allauth's page asks for nothing: whoever holds the session of a member without a
# password could give the account one. A member with a password is sent on to "change
# password" by allauth's view, which asks for the current one.
password_set = reauthentication_required(
    allauth_password_set, enabled=lambda request: not request.user.has_usable_password()
)


class ActivateTOTPView(BaseActivateTOTPView):
    """allauth's activation; a `next` (the admin page that sent staff here) is kept.

    Once active, the new recovery codes are shown with a link on to `next`; with no new
    codes to show, the person goes straight there.
    """

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["next_url"] = get_next_redirect_url(self.request)
        return context

    def get_success_url(self) -> str:
        url = super().get_success_url()
        next_url = get_next_redirect_url(self.request)
        if not next_url:
            return url
        if self.did_generate_recovery_codes:
            return add_query_params(url, {"next": next_url})
        return next_url


activate_totp = ActivateTOTPView.as_view()


class RecoveryCodesView(BaseRecoveryCodesView):
    """allauth's recovery codes page, with a link on to a safe `next` when there is one."""

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["continue_url"] = get_next_redirect_url(self.request)
        return context


view_recovery_codes = RecoveryCodesView.as_view()

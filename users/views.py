"""Member views around django-allauth's (the /profile/ page lives in members.views)."""

from allauth.account.views import ConfirmEmailView as BaseConfirmEmailView
from allauth.account.views import EmailView as BaseEmailView
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404


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
    """allauth's email page; a resend held back by the rate limit says so."""

    def _action_send(self, request, *args, **kwargs):
        response = super()._action_send(request, *args, **kwargs)
        if not self._did_send_verification_email:
            address = self._get_email_address(request)
            if address is not None and not address.verified:
                messages.warning(
                    request,
                    f"We sent a link to {address.email} a moment ago. Wait a few minutes "
                    "before asking for another, and check your spam folder.",
                )
        return response


email = EmailView.as_view()

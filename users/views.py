"""Member views around django-allauth's."""

from allauth.account.views import ConfirmEmailView as BaseConfirmEmailView
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

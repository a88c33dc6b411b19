"""/auth/bitbadges/login/ (start) and /auth/bitbadges/login/callback/ (BitBadges' return).

allauth's OAuth 2.0 views, with what this site adds in front of them: 404 while the
feature is off (no client id and secret), only "login" and "connect", GET shows a page
with a button and only a POST starts (any other method: 405, so no "safe" method such
as HEAD or OPTIONS starts a flow without the CSRF check), the login rate limit on each
start, and for "connect" a logged-in member who confirmed it is them in the last few
minutes, asked before they leave for BitBadges.
"""

from allauth.account.internal.flows import reauthentication
from allauth.account.utils import get_next_redirect_url
from allauth.core.exceptions import ReauthenticationRequired
from allauth.core.internal import ratelimit
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialToken
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.oauth2.views import (
    OAuth2Adapter,
    OAuth2CallbackView,
    OAuth2LoginView,
)
from allauth.utils import get_request_param
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from users.siwbb import reauth
from users.siwbb.client import SiwbbClient
from users.siwbb.config import PROVIDER_ID, authorize_url, callback_url, siwbb_enabled, token_url
from users.siwbb.selectors import bitbadges_uid
from users.siwbb.wording import PROCESS, RATE, STAFF, cancelled_page, error_response
from users.social import staff_without_authenticator

PROCESSES = (AuthProcess.LOGIN, AuthProcess.CONNECT)
MAX_NEXT_LENGTH = 2000


class BitBadgesOAuth2Adapter(OAuth2Adapter):
    provider_id = PROVIDER_ID
    client_class = SiwbbClient

    @property
    def authorize_url(self) -> str:
        return authorize_url()

    @property
    def access_token_url(self) -> str:
        return token_url()

    def get_callback_url(self, request, app) -> str:
        return callback_url()

    def get_client(self, request, app) -> SiwbbClient:
        return SiwbbClient(request, app.client_id, app.secret, self.get_callback_url(request, app))

    def parse_token(self, data) -> SocialToken:
        # Without scopes BitBadges' token is the address itself: nothing worth keeping,
        # and nothing of it goes into the session while a login is under way.
        return SocialToken(token="")

    def complete_login(self, request, app, token, **kwargs):
        return self.get_provider().sociallogin_from_response(request, kwargs["response"])


_login = OAuth2LoginView.adapter_view(BitBadgesOAuth2Adapter)
_callback = OAuth2CallbackView.adapter_view(BitBadgesOAuth2Adapter)


@login_not_required
@require_http_methods(["GET", "POST"])
def oauth2_login(request):
    """GET: allauth's page with a Continue button. POST: off to BitBadges."""
    if not siwbb_enabled():
        raise Http404
    process = get_request_param(request, "process") or AuthProcess.LOGIN
    next_url = get_request_param(request, "next") or ""
    # `next` is kept in the session until BitBadges sends the member back: a page's.
    if process not in PROCESSES or len(next_url) > MAX_NEXT_LENGTH:
        return error_response(request, PROCESS)
    if request.method != "POST":
        return _login(request)  # GET: the page (SOCIALACCOUNT_LOGIN_ON_GET is False)
    if not ratelimit.consume(request, app="allauth.account", action="login"):
        return error_response(request, RATE, process=process)
    if process == AuthProcess.CONNECT:
        if not request.user.is_authenticated:
            return redirect_to_login(reverse("users:profile"))
        if staff_without_authenticator(request.user):
            return error_response(request, STAFF, process=process, next_url=next_url)
        # Through the module: users.siwbb.reauth wraps it (password-less members).
        if not reauthentication.did_recently_reauthenticate(request):
            # AccountMiddleware keeps this POST and sends it on once they confirmed.
            raise ReauthenticationRequired()
    return _login(request)


@login_not_required
def oauth2_callback(request):
    if not siwbb_enabled():
        raise Http404
    return _callback(request)


REAUTH_TEMPLATE = "siwbb/reauthenticate.html"


@require_http_methods(["GET", "POST"])
def reauthenticate(request):
    """Confirm with BitBadges (reauth.py). GET: the page with the button. POST: off to
    BitBadges, the member's id in the state; `next` is what the confirmation is for."""
    if not siwbb_enabled():
        raise Http404
    raw_next = get_request_param(request, "next") or ""
    if len(raw_next) > MAX_NEXT_LENGTH:
        return error_response(request, PROCESS)
    next_url = get_next_redirect_url(request) or ""
    address = bitbadges_uid(request.user)
    if not address:
        # No BitBadges login to confirm with: allauth's page offers what the member has.
        url = reverse("account_reauthenticate")
        return HttpResponseRedirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)
    if request.method != "POST":
        context = {"next_url": next_url, "bitbadges_address": address}
        return render(request, REAUTH_TEMPLATE, context)
    if not ratelimit.consume(request, app="allauth.account", action="login"):
        return error_response(request, RATE, process=reauth.PROCESS, next_url=next_url)
    provider = get_social_adapter(request).get_provider(request, PROVIDER_ID)
    return provider.redirect(
        request, process=reauth.PROCESS, next_url=next_url or None, member=request.user.pk
    )


@login_not_required
@require_http_methods(["GET"])
def login_cancelled(request):
    """/auth/social/login/cancelled/: "you said no at BitBadges", with the button to start
    again where the member was going (wording.cancelled_response kept it)."""
    return cancelled_page(request)

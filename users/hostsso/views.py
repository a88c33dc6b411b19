"""/auth/oidc/host/...: start (POST login/), the host's return (login/callback/, the
redirect URI: a contract), "you said no" (login/cancelled/), Confirm with <host>
(reauthenticate/) and disconnecting the host login (disconnect/).

Like Sign in with BitBadges (users/siwbb/views.py): 404 while sign-on is off; only
"login" and "connect"; a GET shows a page with a button and only a POST starts (any other
method: 405, so no "safe" method starts a flow without the CSRF check); the login rate
limit on each start; "connect" asks a logged-in member to confirm it is them first.
"""

from allauth.account.decorators import reauthentication_required
from allauth.account.internal.flows import reauthentication
from allauth.account.utils import get_next_redirect_url
from allauth.core.exceptions import ReauthenticationRequired
from allauth.core.internal import ratelimit
from allauth.socialaccount import signals
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from allauth.utils import get_request_param
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from users.hostsso import PROVIDER_ID, REAUTHENTICATE, client, config, discovery, wording
from users.hostsso.provider import HostOIDCAdapter
from users.hostsso.selectors import host_login, only_way_in
from users.hostsso.signon import profile_url
from users.social import staff_without_authenticator

PROCESSES = (AuthProcess.LOGIN, AuthProcess.CONNECT)
MAX_NEXT_LENGTH = 2000
# A return from the host is a code, a state and perhaps iss: a few hundred characters.
MAX_QUERY_LENGTH = 4096


def _start(request, process: str, next_url: str, **extra):
    """Off to the host's authorize page (the discovery document read first: a host that
    does not answer is said here, before the member leaves)."""
    try:
        provider = get_social_adapter(request).get_provider(request, PROVIDER_ID)
        HostOIDCAdapter(request).openid_config  # noqa: B018 (read and checked now)
        return provider.redirect(request, process=process, next_url=next_url or None, **extra)
    except client.HostFailure as failure:
        client.log_failure(failure)
        return wording.error_response(request, failure.kind, process=process, next_url=next_url)


@login_not_required
@require_http_methods(["GET", "POST"])
def login(request):
    """GET: a page with the Continue button. POST: off to the host site."""
    if not config.hostsso_enabled():
        raise Http404
    process = get_request_param(request, "process") or AuthProcess.LOGIN
    raw_next = get_request_param(request, "next") or ""
    if process not in PROCESSES or len(raw_next) > MAX_NEXT_LENGTH:
        return wording.error_response(request, wording.PROCESS)
    next_url = get_next_redirect_url(request) or ""
    if request.method != "POST":
        context = {"process": process, "next_url": next_url, "host_name": config.site_name()}
        return render(request, "hostsso/login.html", context)
    if not ratelimit.consume(request, app="allauth.account", action="login"):
        return wording.error_response(request, wording.RATE, process=process, next_url=next_url)
    if process == AuthProcess.CONNECT:
        if not request.user.is_authenticated:
            return redirect_to_login(profile_url())
        if staff_without_authenticator(request.user):
            return wording.error_response(
                request, wording.STAFF, process=process, next_url=next_url
            )
        # Through the module: users.siwbb.reauth wraps it (password-less members).
        if not reauthentication.did_recently_reauthenticate(request):
            # AccountMiddleware keeps this POST and sends it on once they confirmed.
            raise ReauthenticationRequired()
    return _start(request, process, next_url)


class HostCallbackView(OAuth2CallbackView):
    """allauth's callback; the state it finds is handed to the adapter (the nonce)."""

    def _get_state(self, request, provider):
        state, response = super()._get_state(request, provider)
        self.adapter.state = state or {}
        if state is not None and response is None and not _iss_as_promised(request):
            return None, wording.error_response(
                request,
                wording.ISSUER,
                process=state.get("process") or "login",
                next_url=state.get("next") or "",
            )
        return state, response


_callback = HostCallbackView.adapter_view(HostOIDCAdapter)


@login_not_required
@require_GET
def callback(request):
    if not config.hostsso_enabled():
        raise Http404
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_LENGTH:
        return wording.error_response(request, wording.PROCESS)
    # RFC 9207 section 2.4: an `iss` in the answer must be our issuer, once (no mix-up
    # with another provider). Whether one had to be there is asked once the state is
    # known to be ours (HostCallbackView): a stranger's link costs no call to the host.
    given = request.GET.getlist("iss")
    if given and given != [config.issuer()]:
        return wording.error_response(request, wording.ISSUER)
    return _callback(request)


def _iss_as_promised(request) -> bool:
    """RFC 9207 section 2.4: a provider whose discovery document says it sends `iss`
    (authorization_response_iss_parameter_supported) must have sent it."""
    if "iss" in request.GET:
        return True  # and it is ours: callback() checked
    try:
        return not discovery.read(request)["iss_parameter"]
    except client.HostFailure:
        return True  # the exchange reads the document again and says what failed


@login_not_required
@require_GET
def login_cancelled(request):
    if not config.hostsso_enabled():
        raise Http404
    return wording.cancelled_page(request)


@require_http_methods(["GET", "POST"])
def reauthenticate(request):
    """Confirm with <host> (users/siwbb/reauth.py wraps allauth's check). GET: the page with the button. POST:
    off to the host, the member's id in the state; `next` is what it is for."""
    if not config.hostsso_enabled():
        raise Http404
    if len(get_request_param(request, "next") or "") > MAX_NEXT_LENGTH:
        return wording.error_response(request, wording.PROCESS)
    next_url = get_next_redirect_url(request) or ""
    login_ = host_login(request.user)
    if login_ is None:
        # No host login to confirm with: allauth's page offers what the member has.
        url = reverse("account_reauthenticate")
        return HttpResponseRedirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)
    if request.method != "POST":
        context = {"next_url": next_url, "host_name": config.site_name(), "login": login_}
        return render(request, "hostsso/reauthenticate.html", context)
    if not ratelimit.consume(request, app="allauth.account", action="login"):
        return wording.error_response(
            request, wording.RATE, process=REAUTHENTICATE, next_url=next_url
        )
    return _start(request, REAUTHENTICATE, next_url, member=request.user.pk)


@require_POST
@never_cache
@reauthentication_required
def disconnect(request):
    """Disconnect the member's host login, unless it is their only way in."""
    if not config.hostsso_enabled():
        raise Http404
    login_ = host_login(request.user)
    host = config.site_name()
    if login_ is None or str(login_.pk) != request.POST.get("account", ""):
        messages.error(
            request, _("Nothing to disconnect: the page was out of date. Nothing was changed.")
        )
    elif only_way_in(request.user, login_):
        messages.error(
            request,
            _(
                "%(host)s is the only way you log in here, so it cannot be disconnected. Set "
                "a password first (Profile, Password), then disconnect it."
            )
            % {"host": host},
        )
    else:
        provider = login_.get_provider()
        login_.delete()
        signals.social_account_removed.send(
            sender=type(login_), request=request, socialaccount=login_
        )
        get_social_adapter(request).send_notification_mail(
            "socialaccount/email/account_disconnected",
            request.user,
            context={"account": login_, "provider": provider},
        )
        messages.info(
            request,
            _("%(host)s is disconnected: you can no longer log in here with it.") % {"host": host},
        )
    return HttpResponseRedirect(profile_url())

"""Sign In with BitBadges, emulated: the authorize page (the stand-in for
https://bitbadges.io/siwbb/authorize) and the token and revoke routes of the API.

The page: the visitor plays the BitBadges user. They see which app asks and for what,
choose one of the sandbox's users or enter an address, and Approve or Deny (a real form,
with Django's CSRF protection: the page lives on this site's origin). Anything wrong with
the link itself (no or unknown client ID, a redirect URI the app did not register, a
link too long) is a page at the sandbox, never a redirect.

The API routes answer as the rest of the emulated API does (sandbox/bitbadges/views.py):
fault injection first (names bitbadges.siwbb.token and bitbadges.siwbb.revoke), then the
API key, then the route; errors are {"errorMessage"}. The key is optional here: the 2024
indexer served a request without one (its free tier, per IP), and the OAuth clients
BitBadges lists (Auth.js, Auth0) send only the client ID and secret. A key that is sent
must be the sandbox's and spends a credit, as on every other route.
SANDBOX_BITBADGES_SIWBB_KEY="required" asks for it (401 without), as the OpenAPI
description's `security: apiKey` and the 2026 docs' examples read.
"""

import functools
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.csp import CSP
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sandbox.bitbadges import credits as service_credits
from sandbox.bitbadges import siwbb, siwbb_exchange
from sandbox.bitbadges.base import INVALID_PAYLOAD, BitBadgesError
from sandbox.bitbadges.faults import injectable
from sandbox.bitbadges.views import NO_KEY, TOO_LARGE, check_key, error, json_body

logger = logging.getLogger(__name__)

# The indexer's two body parsers on these routes (express.json, express.urlencoded, each
# with its default type); multer serves one other route only. Any other type, multipart
# and "+json" included, leaves the body empty there, so here too.
JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def key_required() -> bool:
    """SANDBOX_BITBADGES_SIWBB_KEY: "optional" (the default) or "required"; read per call."""
    return getattr(settings, "SANDBOX_BITBADGES_SIWBB_KEY", "optional") == "required"


def siwbb_endpoint(name: str):
    """A SIWBB API route: faults, the optional key (and its credit), BitBadges' errors."""

    def decorator(view):
        @injectable(name)
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                if request.headers.get("x-api-key"):
                    check_key(request)
                    service_credits.credits_debit()
                elif key_required():
                    raise BitBadgesError(401, NO_KEY)
                return view(request, *args, **kwargs)
            except BitBadgesError as exc:
                return JsonResponse(exc.as_body(), status=exc.status)
            except RequestDataTooBig:
                return error(413, TOO_LARGE)
            except SuspiciousOperation as exc:  # e.g. too many form fields
                return error(400, INVALID_PAYLOAD + str(exc))
            except Exception as exc:
                # Never the body: it carries a client secret, a code or a token.
                logger.exception("The BitBadges sandbox failed on %s", request.path)
                return error(500, type(exc).__name__)

        return wrapped

    return decorator


def _nested(fields: dict) -> dict:
    """Express's extended urlencoded parser (qs): `options[a]=b` is {"options": {"a": "b"}};
    a name given twice is a list."""
    result: dict = {}
    for name, values in fields.items():
        value = values[0] if len(values) == 1 else values
        if "[" in name and name.endswith("]"):
            outer, inner = name[:-1].split("[", 1)
            if outer and isinstance(result.setdefault(outer, {}), dict):
                result[outer][inner] = value
                continue
        result[name] = value
    return result


def request_body(request):
    """The body as the indexer's parsers make it: JSON (`application/json`), or a form
    (`application/x-www-form-urlencoded`, express.urlencoded), or {} for any other type:
    what the indexer's handler would see (an exchange then fails for its grant type)."""
    content_type = request.content_type or ""
    if content_type == JSON_CONTENT_TYPE:
        return json_body(request)
    if content_type == FORM_CONTENT_TYPE:
        return _nested(dict(request.POST.lists()))
    return {}


@siwbb_endpoint("bitbadges.siwbb.token")
def token(request):
    """POST api/v0/siwbb/token: exchange a code, or a refresh token."""
    return JsonResponse(
        siwbb_exchange.exchange(
            request_body(request),
            authorization=request.headers.get("Authorization", ""),
            query_options=request.GET.get("options"),
        )
    )


@siwbb_endpoint("bitbadges.siwbb.revoke")
def revoke(request):
    """POST api/v0/siwbb/token/revoke {token}: revoke the whole authorization."""
    return JsonResponse(siwbb_exchange.revoke(request_body(request)))


# --- The authorize page ----------------------------------------------------------------


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _page(request, template: str, context: dict, *, status: int = 200, redirect_uri: str = ""):
    """A page of the stand-in, whose form may send the browser on to `redirect_uri`
    (CSP form-action covers the redirect after a form is sent)."""
    response = render(request, f"sandbox/{template}", context, status=status)
    origin = _origin(redirect_uri) if redirect_uri else None
    response._csp_config = {
        **settings.SECURE_CSP,
        "form-action": [CSP.SELF, *([origin] if origin else [])],
    }
    return response


def _problem(request, problem: siwbb.AuthorizeProblem):
    return _page(
        request,
        "siwbb_problem.html",
        {"title": problem.title, "message": problem.message},
        status=problem.status,
    )


def _form(request, ask, *, errors=(), typed="", address_invalid=False, status=200):
    context = {
        "ask": ask,
        "users": siwbb.demo_users(),
        "fresh": siwbb.fresh_address(),
        "typed": typed,
        "errors": list(errors),
        "address_invalid": address_invalid,
    }
    return _page(
        request, "siwbb_authorize.html", context, status=status, redirect_uri=ask.redirect_uri
    )


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def authorize(request):
    """GET siwbb/authorize?client_id=&redirect_uri=&state=&scope=: the page; POST: the
    user's answer (decision=approve|deny, account=<address>, address=<typed>)."""
    try:
        ask = siwbb.authorize_request(request.GET, request.META.get("QUERY_STRING", ""))
    except siwbb.AuthorizeProblem as problem:
        return _problem(request, problem)
    if request.method == "GET":
        return _form(request, ask)
    decision = request.POST.get("decision")
    if decision == "deny":
        target = siwbb.deny(ask)
        if target:
            return HttpResponseRedirect(target)
        return _page(request, "siwbb_done.html", {"ask": ask, "denied": True})
    if decision != "approve":
        return _form(request, ask, errors=["Choose Approve or Deny."], status=400)
    typed = request.POST.get("address", "")[: siwbb.MAX_PARAM["client_id"]]
    try:
        address = siwbb.chosen_address(request.POST.get("account", ""), typed)
    except ValidationError as exc:
        return _form(
            request, ask, errors=exc.messages, typed=typed, address_invalid=bool(typed), status=400
        )
    code, target = siwbb.approve(ask, address)
    if target:
        return HttpResponseRedirect(target)
    return _page(request, "siwbb_done.html", {"ask": ask, "code": code, "address": address})

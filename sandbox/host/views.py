"""The host provider's routes under /sandbox/host/: discovery, jwks, the authorize page,
token and userinfo (and, for the /sandbox/ page, turning an id_token fault on).

The authorize page is the host site's own page: the visitor plays the host's member
(choosing one stands in for logging in to the host site), then Approve or Deny, a form
with Django's CSRF protection. A link that names no known client, or a redirect URI the
client did not register, is a page here and never a redirect (RFC 6749 4.1.2.1); once
both are known good, every other problem goes back to the client as `error` and `state`.

token and userinfo are called server to server, by the client's backend with its
secret or its access token, never by a browser with this site's cookies: they are
csrf_exempt (a CSRF token is for forms this site serves; the client has none to send).
"""

import base64
import functools
import logging
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    MissingAuthorizationError,
    UnsupportedResponseTypeError,
    UnsupportedTokenTypeError,
)
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox.common.models import Fault
from sandbox.host import keys, registry
from sandbox.host.faults import ID_TOKEN_FAULTS, injectable
from sandbox.host.server import (
    SandboxRequest,
    discovery,
    protector,
    server,
    user_info,
    with_issuer,
)

logger = logging.getLogger(__name__)

MAX_QUERY = 8192
MAX_PARAM = {"client_id": 200, "redirect_uri": 2000, "state": 2000}
MAX_OTHER_PARAM = 1000  # scope, nonce, prompt... (a nonce may be long; none this long)
TOKEN_PARAMS = ("grant_type", "code", "redirect_uri", "client_id", "client_secret", "code_verifier")
SCOPE_WORDS = {
    "openid": "your member id at Sandbox Community",
    "profile": "your name and username",
    "email": "your email address, and whether Sandbox Community has verified it",
}


def _json_error(status: int, error: str, description: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _methods(*allowed: str):
    """Another method is 405 in OAuth's error shape, with Allow."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in allowed:
                return _json_error(
                    405,
                    "invalid_request",
                    f"Use {' or '.join(allowed)}.",
                    Allow=", ".join(allowed),
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# --- Discovery and keys ----------------------------------------------------------------


@login_not_required
@never_cache
@_methods("GET")
@injectable("host.discovery")
def openid_configuration(request):
    """GET .well-known/openid-configuration (OpenID Connect Discovery 1.0 section 4)."""
    return JsonResponse(discovery())


@login_not_required
@never_cache
@_methods("GET")
@injectable("host.jwks")
def jwks(request):
    """GET jwks: the public signing keys (RFC 7517 5)."""
    return JsonResponse(keys.jwks())


# --- The authorize page ----------------------------------------------------------------


class Problem(Exception):
    """An authorize link the provider will not send back to: shown here, never redirected."""

    def __init__(self, title: str, message: str):
        super().__init__(message)
        self.title = title
        self.message = message


def _one(params, name: str) -> str:
    values = params.getlist(name)
    if len(values) > 1:
        raise Problem("This sign-on link is broken", f"It gives {name} more than once.")
    value = values[0] if values else ""
    if len(value) > MAX_PARAM[name]:
        raise Problem(
            "This sign-on link is too long", f"Its {name} is over {MAX_PARAM[name]} characters."
        )
    return value


def _trusted(request):
    """(client, redirect_uri) when the link names a known client and one of its redirect
    URIs; otherwise Problem."""
    params = request.GET
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY:
        raise Problem("This sign-on link is too long", "Its query is over 8 KB.")
    client_id = _one(params, "client_id")
    if not client_id:
        raise Problem("No client", "The sign-on link names no site: its client_id is missing.")
    client = server.query_client(client_id)
    if client is None:
        raise Problem("Unknown site", "No site is registered here with this client_id.")
    redirect_uri = _one(params, "redirect_uri")
    if not redirect_uri:
        raise Problem(
            "No redirect URI",
            f"The link does not say where to send you back to {client.name}: its redirect_uri "
            "is missing.",
        )
    if not client.check_redirect_uri(redirect_uri):
        raise Problem(
            "Redirect URI not registered",
            f"{client.name} has not registered the address this link would send you back "
            "to, so Sandbox Community does not send you there.",
        )
    _one(params, "state")
    return client, redirect_uri


def _checked(oauth_request, redirect_uri: str):
    """Authlib's checks of the request (response type, scope, PKCE, nonce, prompt): the
    grant, or the OAuth2Error to send back."""
    data = oauth_request.payload.data
    if data.get("response_type") != "code":
        # Checked here: Authlib's own error would put the value into its description.
        raise UnsupportedResponseTypeError(
            "", "Only response_type=code is supported.", redirect_uri=redirect_uri
        )
    for name, values in oauth_request.payload.datalist.items():
        if name not in MAX_PARAM and any(len(value) > MAX_OTHER_PARAM for value in values):
            raise InvalidRequestError(f"A parameter is over {MAX_OTHER_PARAM} characters.")
        if any("\x00" in value for value in values):
            raise InvalidRequestError("A parameter holds a NUL character.")
    return server.get_consent_grant(oauth_request, end_user=None)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _page(request, template: str, context: dict, *, status: int = 200, redirect_uri: str = ""):
    """A page of the host's provider; its form may send the browser on to the client
    (CSP form-action covers the redirect after a form is sent)."""
    response = render(request, f"sandbox/host/{template}", context, status=status)
    response._csp_config = {
        **settings.SECURE_CSP,
        "form-action": [CSP.SELF, *([_origin(redirect_uri)] if redirect_uri else [])],
    }
    return response


def _form(request, client, oauth_request, redirect_uri, *, errors=(), typed="", status=200):
    scopes = (oauth_request.scope or "").split()
    context = {
        "client": client,
        "redirect_uri": redirect_uri,
        "asked": [SCOPE_WORDS[scope] for scope in scopes if scope in SCOPE_WORDS],
        "members": registry.DEMO_MEMBERS,
        "errors": list(errors),
        "typed": typed,
        "site_name": registry.SITE_NAME,
    }
    return _page(request, "authorize.html", context, status=status, redirect_uri=redirect_uri)


@login_not_required
@never_cache
def authorize(request):
    """GET authorize?response_type=code&client_id=&redirect_uri=&scope=&state=&nonce=
    &code_challenge=&code_challenge_method=S256: the page. POST (the same URL): the
    member's answer (decision=approve|deny, member=alice|bob|new, username=<typed>)."""
    if request.method not in ("GET", "POST"):
        return _page(
            request,
            "problem.html",
            {"title": "Not here", "message": "Open the sign-on link in your browser."},
            status=405,
        )
    try:
        client, redirect_uri = _trusted(request)
    except Problem as problem:
        context = {"title": problem.title, "message": problem.message}
        return _page(request, "problem.html", context, status=400)
    oauth_request = SandboxRequest(request, request.GET)  # never the posted form
    try:
        grant = _checked(oauth_request, redirect_uri)
    except OAuth2Error as error:
        # Client and redirect URI are known good: the error goes back (RFC 6749 4.1.2.1).
        error.redirect_uri = redirect_uri
        error.state = request.GET.get("state") or None
        return with_issuer(server.handle_error_response(oauth_request, error))
    if request.method == "GET":
        return _form(request, client, oauth_request, redirect_uri)
    decision = request.POST.get("decision")
    if decision == "deny":
        return server.create_authorization_response(oauth_request, grant_user=None, grant=grant)
    typed = request.POST.get("username", "")[:200]
    if decision != "approve":
        return _form(
            request,
            client,
            oauth_request,
            redirect_uri,
            errors=["Choose Approve or Deny."],
            typed=typed,
            status=400,
        )
    try:
        member = registry.chosen_member(request.POST.get("member", ""), typed)
    except ValidationError as exc:
        return _form(
            request,
            client,
            oauth_request,
            redirect_uri,
            errors=exc.messages,
            typed=typed,
            status=400,
        )
    return server.create_authorization_response(oauth_request, grant_user=member, grant=grant)


# --- Token and userinfo (server to server) ---------------------------------------------


def _token_precheck(request):
    """What RFC 6749 asks of a token request that Authlib does not check itself: every
    parameter once (3.2), grant_type present (4.1.3), one way of client authentication
    (2.3). Returns the JSON error, or None."""
    for name in TOKEN_PARAMS:
        if len(request.POST.getlist(name)) > 1:
            return _json_error(400, "invalid_request", f"{name} is given more than once.")
    if not request.POST.get("grant_type"):
        return _json_error(
            400,
            "invalid_request",
            "grant_type is missing (send the parameters as an "
            "application/x-www-form-urlencoded body).",
        )
    authorization = request.headers.get("Authorization", "")
    basic = authorization.lower().startswith("basic ")
    if basic and request.POST.get("client_secret"):
        return _json_error(
            400, "invalid_request", "Authenticate the client one way: HTTP Basic or the body."
        )
    if basic and not _readable_basic(authorization):
        return _json_error(
            401,
            "invalid_client",
            "The HTTP Basic credentials are not base64 of UTF-8 text.",
            WWW_Authenticate='Basic error="invalid_client"',
        )
    return None


def _readable_basic(authorization: str) -> bool:
    """Whether Basic credentials decode as RFC 7617 2 writes them (UTF-8 here)."""
    try:
        base64.b64decode(authorization.split(None, 1)[1], validate=False).decode("utf-8")
    except (IndexError, ValueError):  # binascii.Error and UnicodeDecodeError are ValueErrors
        return False
    return True


@csrf_exempt  # server to server, authenticated by the client's secret: see the module
@login_not_required
@never_cache
@_methods("POST")
@injectable("host.token")
def token(request):
    """POST token: exchange a code (grant_type=authorization_code) for an access token and
    an id_token (OpenID Connect Core 3.1.3)."""
    try:
        problem = _token_precheck(request)
        if problem is not None:
            return problem
        with transaction.atomic():  # the code stays locked until the exchange ends
            return server.create_token_response(request)
    except RequestDataTooBig:
        return _json_error(400, "invalid_request", "The request body is too large.")
    except SuspiciousOperation:  # e.g. too many fields
        return _json_error(400, "invalid_request", "The request body is malformed.")
    except ValueError:  # e.g. Basic credentials that are not UTF-8
        return _json_error(400, "invalid_request", "The request could not be read.")
    except Exception:
        # Never the body: it carries the client secret, the code and the verifier.
        logger.exception("The host provider's token endpoint failed")
        return _json_error(500, "server_error", "The sandbox failed; see its log.")


@csrf_exempt  # server to server, authenticated by the access token: see the module
@login_not_required
@never_cache
@_methods("GET", "POST")
@injectable("host.userinfo")
def userinfo(request):
    """GET or POST userinfo with Authorization: Bearer (OpenID Connect Core 5.3)."""
    realm = f'Bearer realm="{registry.SITE_NAME}"'
    try:
        token_row = protector.acquire_token(request, scopes=["openid"])
    except MissingAuthorizationError:
        # RFC 6750 3.1: no credentials, no error code.
        response = JsonResponse(
            {"error_description": "Send Authorization: Bearer <token>."}, status=401
        )
        response["WWW-Authenticate"] = realm
        return response
    except UnsupportedTokenTypeError:
        return _json_error(
            400,
            "invalid_request",
            "Send the access token as Authorization: Bearer <token>.",
            WWW_Authenticate=f'{realm}, error="invalid_request"',
        )
    except OAuth2Error as error:  # invalid_token (401), insufficient_scope (403)
        status, body, headers = error()
        response = JsonResponse(dict(body), status=status)
        for name, value in headers:
            response[name] = value
        return response
    return JsonResponse(dict(user_info(token_row.member, token_row.scope)))


# --- The /sandbox/ page: id_token faults -----------------------------------------------


@require_POST
def id_token_fault_add(request):
    """Turn an id_token fault on (superusers, from the /sandbox/ page)."""
    if not request.user.is_superuser:
        raise PermissionDenied("The sandbox control page is for superusers.")
    name = request.POST.get("fault", "")
    if name not in ID_TOKEN_FAULTS:
        messages.error(request, "Choose one of the id_token faults.")
    else:
        Fault.objects.create(endpoint=name, malformed=True, note=ID_TOKEN_FAULTS[name])
        messages.success(
            request, f"The host's id_tokens now have this fault: {ID_TOKEN_FAULTS[name]}."
        )
    return redirect(f"{reverse('sandbox:index')}#host")

"""The emulated hosted Connect page (/_static/connect.html): Allow or Deny, then tell the site.

Two modes, as on pipedream.com:
- iframe (the browser SDK's): the answer page posts {type: "success", authProvisionId}
  then {type: "close"} (or {type: "error", error} then {type: "close"}) to
  window.parent, once per origin in the token's allowed_origins and to no other;
- Connect Link (`connectLink=true`): a redirect to the token's success_redirect_uri or
  error_redirect_uri (or to the sandbox's own result page when unset).
Either way the token's webhook_uri gets CONNECTION_SUCCESS or CONNECTION_ERROR after
the answer has gone out (sandbox/pipedream/webhooks.py).

SANDBOX_PIPEDREAM_CONNECT_QUIRK="empty-error" reproduces a known fault of the real page:
the account is created (and CONNECTION_SUCCESS sent), but the iframe posts
{type: "error", error: ""} instead of success (PipedreamHQ/pipedream-sdk-typescript#280).

Other sites embed this page, so it relaxes X-Frame-Options and sets its CSP
frame-ancestors to the token's allowed_origins (plus 'self').
"""

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from sandbox.common.faults import injectable
from sandbox.pipedream import catalogue, services, webhooks
from sandbox.pipedream.views.base import APP_NOT_FOUND, INVALID_TOKEN

DENIED = "The user denied the connection request."
# SANDBOX_PIPEDREAM_CONNECT_QUIRK: the real page's empty error instead of success.
EMPTY_ERROR = "empty-error"
EMPTY_ERROR_BANNER = "Connection failed. Please retry or contact support"


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _with_csp(response, *, frame_ancestors: list[str], form_action: list[str] = ()):
    """The site's CSP, but framable by `frame_ancestors` and posting to `form_action`."""
    response._csp_config = {
        **settings.SECURE_CSP,
        "frame-ancestors": [CSP.SELF, *frame_ancestors],
        "form-action": [CSP.SELF, *form_action],
    }
    return response


def _error_page(request, status: int, title: str, message: str, token=None):
    """A page that says what went wrong; it has no buttons, so any site may frame it."""
    iframe = request.GET.get("connectLink") != "true"
    origins = list(token.allowed_origins) if token and iframe else []
    response = render(
        request,
        "sandbox/connect_error.html",
        {
            "title": title,
            "message": message,
            "pd_data": {"origins": origins, "messages": []} if origins else None,
        },
        status=status,
    )
    return _with_csp(response, frame_ancestors=["*"])


def _token_problem(request, token):
    """An error page for a token that cannot be used, or None."""
    if token is None:
        return _error_page(request, 400, "This link is not valid", INVALID_TOKEN)
    if token.is_used:
        return _error_page(
            request,
            410,
            "This link has already been used",
            "Each Connect link connects one account. Go back to the site and start again.",
            token,
        )
    if token.is_expired:
        return _error_page(
            request,
            410,
            "This link has expired",
            "This link has expired. Please go back to the site and request a new one.",
            token,
        )
    return None


def _custom_fields(app: dict) -> list[dict]:
    try:
        fields = json.loads(app.get("custom_fields_json") or "[]")
    except ValueError:
        return []
    return [field for field in fields if isinstance(field, dict) and field.get("name")]


# The page is embedded by other sites (iframe) and opened from emails (Connect Link), so
# Django's CSRF cookie is not available: in a cross-site iframe, browsers withhold the
# SameSite=Lax cookie and every POST would fail. The Connect token in the URL is the
# anti-forgery secret instead: unguessable (128 bits), bound to one user, single-use
# and short-lived, and the POST does nothing without a valid unused one.
@csrf_exempt
@xframe_options_exempt
@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
@injectable("pipedream.connect.page")
def connect_page(request):
    raw_token = request.GET.get("token", "")
    token = services.connect_token_lookup(raw_token)
    if problem := _token_problem(request, token):
        return problem
    app = catalogue.find_app(request.GET.get("app"))
    if app is None:
        return _error_page(request, 404, "App not found", APP_NOT_FOUND, token)
    link_mode = request.GET.get("connectLink") == "true"
    account = None
    # `accountId` is an iframe parameter (the browser SDK's); Connect Link documents only
    # `app`. Whether link mode honours it is unconfirmed: the sandbox takes the cautious
    # reading and ignores it there, so a reconnect by link connects a new account.
    account_id = "" if link_mode else request.GET.get("accountId", "")
    if account_id:
        account = services.account_for_reconnect(token, app["name_slug"], account_id)
        if account is None:
            return _error_page(
                request,
                404,
                "Account not found",
                "The account to reconnect does not belong to this user and app.",
                token,
            )
    fields = _custom_fields(app)
    default_name = services.default_account_name(app, token.external_user_id)
    context = {
        "app": catalogue.app_json(app, request.build_absolute_uri("/")),
        "token": token,
        "account": account,
        "link_mode": link_mode,
        "fields": fields,
        "name": account.name if account else default_name,
        "errors": [],
        "pd_data": None if link_mode else {"origins": token.allowed_origins, "messages": []},
    }
    redirect_origins = [
        origin
        for origin in map(_origin, (token.success_redirect_uri, token.error_redirect_uri))
        if origin
    ]
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "deny":
            response = _deny(request, raw_token, token, link_mode)
        elif action == "allow":
            response = _allow(request, raw_token, token, app, account, fields, context)
        else:
            return _error_page(request, 400, "Unknown answer", "Choose Allow or Deny.", token)
    else:
        response = render(request, "sandbox/connect.html", context)
    return _with_csp(
        response, frame_ancestors=list(token.allowed_origins), form_action=redirect_origins
    )


def _allow(request, raw_token, token, app, account, fields, context):
    name = request.POST.get("name", "").strip()[:200]
    values = {f["name"]: request.POST.get(f"field_{f['name']}", "").strip() for f in fields}
    missing = [
        f.get("label") or f["name"]
        for f in fields
        if not f.get("optional") and not values[f["name"]]
    ]
    if missing:
        context.update(
            name=name,
            fields=[{**field, "value": values[field["name"]]} for field in fields],
            errors=[f"{label} is required." for label in missing],
        )
        return render(request, "sandbox/connect.html", context, status=400)
    try:
        account = services.account_connect(
            token=token,
            app_slug=app["name_slug"],
            name=name,
            oauth_app_id=request.GET.get("oauthAppId", ""),
            account_id=account.account_id if account else "",
            custom_fields={k: v for k, v in values.items() if v},
        )
    except services.ExternalUserLimit as exc:  # told to the site, like a denial
        return _deny(request, raw_token, token, context["link_mode"], error=str(exc))
    except services.ConnectError as exc:
        return _error_page(request, 410, "This link cannot be used", str(exc), token)
    delivery = webhooks.connection_success(
        raw_token=raw_token,
        token=token,
        account=account,
        base_url=request.build_absolute_uri("/").rstrip("/"),
    )
    if context["link_mode"]:
        target = token.success_redirect_uri or _result_url("success")
        response = redirect(target)
    elif settings.SANDBOX_PIPEDREAM_CONNECT_QUIRK == EMPTY_ERROR:
        response = _empty_error(request, token)
    else:
        response = render(
            request,
            "sandbox/connect_done.html",
            {
                "success": True,
                "app": context["app"],
                "account": account,
                "token": token,
                "pd_data": {
                    "origins": token.allowed_origins,
                    "messages": [
                        {"type": "success", "authProvisionId": account.account_id},
                        {"type": "close"},
                    ],
                },
            },
        )
    return webhooks.send_after_response(response, [delivery] if delivery else [])


def _deny(request, raw_token, token, link_mode, *, error=DENIED):
    delivery = webhooks.connection_error(raw_token=raw_token, token=token, error=error)
    if link_mode:
        response = redirect(token.error_redirect_uri or _result_url("error"))
    else:
        response = render(
            request,
            "sandbox/connect_done.html",
            {
                "success": False,
                "error": error,
                "token": token,
                "pd_data": {
                    "origins": token.allowed_origins,
                    "messages": [{"type": "error", "error": error}, {"type": "close"}],
                },
            },
        )
    return webhooks.send_after_response(response, [delivery] if delivery else [])


def _empty_error(request, token):
    """The account is created, yet the page posts {type: "error", error: ""} and no
    success, and shows a failure banner (PipedreamHQ/pipedream-sdk-typescript#280: the
    SDK's onError fires with an empty message; the banner's words are the report's)."""
    return render(
        request,
        "sandbox/connect_done.html",
        {
            "success": False,
            "error": EMPTY_ERROR_BANNER,
            "token": token,
            "pd_data": {
                "origins": token.allowed_origins,
                "messages": [{"type": "error", "error": ""}],
            },
        },
    )


def _result_url(result: str) -> str:
    return reverse("sandbox:pipedream:connect-result", kwargs={"result": result})


@login_not_required
@xframe_options_exempt
@require_GET
def connect_result(request, result: str):
    """Where Connect Link ends when the token names no redirect URI (Pipedream's own pages)."""
    return render(request, "sandbox/connect_result.html", {"success": result == "success"})

"""The emulated Pipedream's OAuth token and Connect token views (sandbox/pipedream/views/base.py
says what every view goes through)."""

import secrets
from urllib.parse import urlencode

from django.http import JsonResponse
from django.urls import reverse

from sandbox.common.faults import injectable
from sandbox.credentials import SANDBOX_CREDENTIALS
from sandbox.pipedream import catalogue, services
from sandbox.pipedream.models import ConnectToken
from sandbox.pipedream.views.base import (
    APP_NOT_FOUND,
    INVALID_TOKEN,
    OAUTH,
    ApiError,
    Caller,
    _absolute_http_url,
    _origins,
    base_url,
    endpoint,
    error,
    json_body,
    public_api,
)

# --- OAuth ---------------------------------------------------------------------------


@public_api
@injectable("pipedream.oauth.token")
def oauth_token(request):
    """POST /v1/oauth/token: client-credentials grant (JSON, or form-encoded)."""
    if request.method != "POST":
        return error(405, f"Method {request.method} not allowed.")
    try:
        if request.content_type == "application/x-www-form-urlencoded":
            data = request.POST.dict()
        else:
            data = json_body(request)
    except ApiError as exc:
        return error(exc.status, exc.error)
    if data.get("grant_type") != "client_credentials":
        return error(400, "unsupported_grant_type: grant_type must be client_credentials.")
    client_id, client_secret = data.get("client_id"), data.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str):
        return error(400, "client_id and client_secret are required.")
    expected_id = SANDBOX_CREDENTIALS["client_id"]
    expected_secret = SANDBOX_CREDENTIALS["client_secret"]
    # Both compared, always: which one was wrong is not told.
    id_ok = secrets.compare_digest(client_id.encode(), expected_id.encode())
    secret_ok = secrets.compare_digest(client_secret.encode(), expected_secret.encode())
    if not (id_ok and secret_ok):
        return error(401, "Invalid client credentials.")
    scope = data.get("scope") if isinstance(data.get("scope"), str) else "*"
    raw, _ = services.oauth_token_issue(client_id=client_id, scope=scope)
    return JsonResponse(
        {"access_token": raw, "token_type": "Bearer", "expires_in": services.OAUTH_TOKEN_TTL}
    )


# --- Connect tokens ------------------------------------------------------------------


@endpoint("pipedream.tokens.create", auth=(OAUTH,))
def tokens_create(request, caller: Caller):
    """POST /v1/connect/{project_id}/tokens.

    The published schema requires `project_id` in the body; the docs and the SDKs do
    not send it. It is accepted and ignored, like the old SDK's `external_id`.
    """
    data = json_body(request)
    external_user_id = data.get("external_user_id")
    if not isinstance(external_user_id, str) or not external_user_id.strip():
        raise ApiError(400, "external_user_id is required.")
    if len(external_user_id) > 250:
        raise ApiError(400, "external_user_id must be at most 250 characters.")
    expires_in = data.get("expires_in", services.CONNECT_TOKEN_MAX_TTL)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise ApiError(400, "expires_in must be an integer number of seconds.")
    if not 0 < expires_in <= services.CONNECT_TOKEN_MAX_TTL:
        raise ApiError(
            400, f"expires_in must be between 1 and {services.CONNECT_TOKEN_MAX_TTL} seconds."
        )
    scope = data.get("scope") or "connect:*"
    if not isinstance(scope, str):
        raise ApiError(400, "scope must be a space-separated string.")
    progressive = data.get("allow_progressive_scopes", False)
    if not isinstance(progressive, bool):
        raise ApiError(400, "allow_progressive_scopes must be true or false.")
    raw, token = services.connect_token_create(
        project_id=caller.project_id,
        environment=caller.environment,
        external_user_id=external_user_id,
        expires_in=expires_in,
        allowed_origins=_origins(data),
        success_redirect_uri=_absolute_http_url(data, "success_redirect_uri"),
        error_redirect_uri=_absolute_http_url(data, "error_redirect_uri"),
        webhook_uri=_absolute_http_url(data, "webhook_uri"),
        scope=scope,
        allow_progressive_scopes=progressive,
    )
    link = request.build_absolute_uri(reverse("sandbox:pipedream:connect"))
    return JsonResponse(
        {
            "token": raw,
            "expires_at": services.isoformat(token.expires_at),
            "connect_link_url": f"{link}?{urlencode({'token': raw, 'connectLink': 'true'})}",
        }
    )


def validation_result(token: ConnectToken | None, app: dict | None, account_id: str = "") -> str:
    """Why a token cannot be used for `app` (the documented texts), or "" when it can."""
    if token is None or token.state != "valid":
        return INVALID_TOKEN
    if app is None:
        return APP_NOT_FOUND
    if account_id and services.account_for_reconnect(token, app["name_slug"], account_id) is None:
        return "Account not found. Please check your account id."
    return ""


@public_api
@injectable("pipedream.tokens.validate")
def tokens_validate(request, ctok: str):
    """GET /v1/connect/tokens/{ctok}/validate (no auth: the token is in the path)."""
    if request.method != "GET":
        return error(405, f"Method {request.method} not allowed.")
    token = services.connect_token_lookup(ctok)
    app = catalogue.find_app(request.GET.get("app_id"))
    problem = validation_result(token, app, request.GET.get("account_id", ""))
    if problem:
        return JsonResponse({"success": False, "error": problem})
    return JsonResponse(
        {
            "success": True,
            "error": None,
            "app": catalogue.app_json(app, base_url(request)),
            "oauth_app_id": request.GET.get("oauth_app_id") or None,
            "project_app_name": services.PROJECT_NAME,
            "project_environment": token.environment,
            "project_id": token.project_id,
            "project_support_email": None,
            "success_redirect_uri": token.success_redirect_uri or None,
            "error_redirect_uri": token.error_redirect_uri or None,
            "oauth_app_workday_official": False,
        }
    )

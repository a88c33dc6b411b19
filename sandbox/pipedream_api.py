"""The emulated Pipedream Connect REST API (/v1/...), as docs/pipedream-connect-api.md describes it.

Every view is declared with `@endpoint(name, ...)`, which does what the real service
does before an operation runs: fault injection (sandbox/faults.py), the bearer check
(an OAuth access token and/or a Connect token), the project in the path (or the
Connect token's), and the `x-pd-environment` header. Errors are JSON {"error": "..."}
with the status the docs give: 401 for a missing, unknown or expired bearer, 404 for
an unknown project or record, 400 for a bad request.

Where the docs leave a point open, the sandbox picks one reading and says so here:
- `x-pd-environment` is required on every path with a project id; on the
  Connect-token routes without one the token's environment applies, and a header that
  contradicts the token's environment is a 400;
- list cursors are null where there is nothing further that way;
- `limit` defaults to and is capped at 100;
- a failed `validate` answers 200 with success false and no `app` key (the published
  schema rejects `"app": null`);
- OAuth token scopes are recorded, not enforced;
- deployed triggers (sandbox/triggers.py) of another external user, project or
  environment are a 404 "record not found", as is a Connect token asking for a user
  other than its own; a deployed trigger's webhooks share the trigger's signing key, so
  regenerating "a webhook's" key regenerates the trigger's;
- the proxy (sandbox/proxy.py) answers a few demo upstream endpoints from the account's
  profile, never the network.
"""

import functools
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from sandbox import bitbadges, catalogue, components, proxy, services, triggers, webhooks
from sandbox.actions import ACTIONS, ActionError
from sandbox.credentials import SANDBOX_CREDENTIALS
from sandbox.faults import injectable
from sandbox.models import Account, ConnectToken, DeployedTrigger, Environment, ExternalUser

OAUTH = "oauth"
CONNECT = "connect"
DEFAULT_LIMIT = 100
MAX_LIMIT = 100
ENVIRONMENTS = set(Environment.values)
INVALID_TOKEN = "The Pipedream Connect token is invalid. Please generate a new one and try again."
APP_NOT_FOUND = "App not found. Please check your app id."
RECORD_NOT_FOUND = "record not found"
ACCOUNT_MISMATCH = {"account": ["account and user mismatch"]}


class ApiError(Exception):
    """Ends a request with {"error": ...} and `status`."""

    def __init__(self, status: int, error):
        super().__init__(error)
        self.status = status
        self.error = error


@dataclass
class Caller:
    """Who is calling, and in which project and environment."""

    kind: str  # OAUTH or CONNECT
    project_id: str | None = None
    environment: str | None = None
    connect_token: ConnectToken | None = None

    @property
    def external_user_id(self) -> str | None:
        """The only external user a Connect token may act for (None for OAuth)."""
        return self.connect_token.external_user_id if self.connect_token else None


def error(status: int, message) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


# --- The decorator every API view goes through ---------------------------------------


def _bearer(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate(request, allowed: tuple[str, ...]) -> Caller:
    raw = _bearer(request)
    if raw is None:
        raise ApiError(401, "Missing bearer token: send Authorization: Bearer <token>.")
    if raw.startswith("ctok_"):
        if CONNECT not in allowed:
            raise ApiError(401, "This endpoint needs an OAuth access token, not a Connect token.")
        token = services.connect_token_lookup(raw)
        if token is None or token.is_expired:
            raise ApiError(401, INVALID_TOKEN)
        return Caller(CONNECT, token.project_id, token.environment, token)
    if OAUTH not in allowed:
        raise ApiError(401, "This endpoint needs a Connect token.")
    if services.oauth_token_lookup(raw) is None:
        raise ApiError(401, "The access token is invalid or has expired. Request a new one.")
    return Caller(OAUTH)


def scope_to_project(request, caller: Caller, project_id: str | None) -> None:
    """Settle the caller's project and environment (404 / 400 when they do not fit).

    `x-pd-environment` is required whenever the path names a project; on the
    Connect-token routes without one, the token's environment applies.
    """
    if caller.kind == OAUTH:
        if project_id is None:
            raise ApiError(
                400, "The project ID is required in the path when using an OAuth access token."
            )
        if project_id != SANDBOX_CREDENTIALS["project_id"]:
            raise ApiError(404, f"Project {project_id} not found.")
    elif project_id is not None and project_id != caller.project_id:
        raise ApiError(404, f"Project {project_id} not found.")
    environment = request.headers.get("x-pd-environment", "")
    if not environment and project_id is not None:
        raise ApiError(
            400, "The x-pd-environment header is required: 'development' or 'production'."
        )
    if environment and environment not in ENVIRONMENTS:
        raise ApiError(
            400, f"Invalid x-pd-environment {environment!r}: use 'development' or 'production'."
        )
    if caller.kind == CONNECT:
        if environment and environment != caller.environment:
            raise ApiError(
                400,
                f"x-pd-environment is {environment!r} but the Connect token was created "
                f"for {caller.environment!r}.",
            )
        return
    caller.project_id = project_id
    caller.environment = environment


def _cors(request, response, caller: Caller | None):
    """Let a Connect token's allowed origins read the answer (the browser client)."""
    origin = request.headers.get("Origin")
    if (
        origin
        and caller
        and caller.connect_token
        and origin in caller.connect_token.allowed_origins
    ):
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


def _preflight(request) -> HttpResponse:
    response = HttpResponse(status=204)
    if origin := request.headers.get("Origin"):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        response["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "authorization, content-type, x-pd-environment"
        )
        response["Access-Control-Max-Age"] = "600"
        response["Vary"] = "Origin"
    return response


def public_api(view):
    """What every API URL needs whatever its method: no login, no CSRF, no caching."""
    return csrf_exempt(login_not_required(never_cache(view)))


def endpoint(name: str, *, auth: tuple[str, ...] = (OAUTH, CONNECT), scoped=True):
    """Declare an API operation: fault name, accepted bearers, project scoping.

    The view is called as view(request, caller, **url_kwargs) without `project_id`.
    """

    def decorator(view):
        @injectable(name)
        @functools.wraps(view)
        def wrapped(request, project_id=None, **kwargs):
            caller = None
            try:
                caller = authenticate(request, auth)
                if scoped:
                    scope_to_project(request, caller, project_id)
                response = view(request, caller, **kwargs)
            except ApiError as exc:
                response = error(exc.status, exc.error)
            return _cors(request, response, caller)

        return wrapped

    return decorator


def by_method(**views):
    """One URL, one view per HTTP method (each with its own fault name)."""

    def dispatch(request, *args, **kwargs):
        if request.method == "OPTIONS":
            return _preflight(request)
        view = views.get(request.method)
        if view is None:
            response = error(405, f"Method {request.method} not allowed.")
            response["Allow"] = ", ".join(sorted(views))
            return response
        return view(request, *args, **kwargs)

    dispatch = public_api(dispatch)
    dispatch.views = views
    return dispatch


# --- Request parsing -----------------------------------------------------------------


def json_body(request) -> dict:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return data


def query_bool(request, name: str) -> bool:
    value = request.GET.get(name, "").strip().lower()
    if value in ("", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise ApiError(400, f"{name} must be true or false, not {value!r}.")


def query_limit(request) -> int:
    raw = request.GET.get("limit", "").strip()
    if not raw:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise ApiError(400, f"limit must be an integer, not {raw!r}.") from None
    if limit < 1:
        raise ApiError(400, "limit must be at least 1.")
    return min(limit, MAX_LIMIT)


def query_cursors(request) -> tuple[str | None, str | None]:
    cursors = []
    for name in ("after", "before"):
        raw = request.GET.get(name, "")
        try:
            cursors.append(services.decode_cursor(raw) if raw else None)
        except ValueError:
            raise ApiError(400, f"Invalid {name} cursor {raw!r}.") from None
    return cursors[0], cursors[1]


def _absolute_http_url(data: dict, name: str) -> str:
    value = data.get(name)
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string.")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiError(400, f"{name} must be an absolute http(s) URL, not {value!r}.")
    return value


def _origins(data: dict) -> list[str]:
    value = data.get("allowed_origins")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiError(400, "allowed_origins must be an array of strings.")
    origins = []
    for item in value:
        parts = urlsplit(item.strip())
        # A bare origin only: these go into the hosted page's CSP frame-ancestors.
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or any(ch in parts.netloc for ch in " ;,'\"")
        ):
            raise ApiError(
                400, f"allowed_origins: {item!r} is not an origin like https://example.com."
            )
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return origins


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


# --- Accounts ------------------------------------------------------------------------


def _accounts(caller: Caller):
    accounts = Account.objects.scoped(caller.project_id, caller.environment).select_related("user")
    if caller.external_user_id is not None:
        accounts = accounts.filter(user__external_id=caller.external_user_id)
    return accounts


def _filter_app(accounts, app_param: str):
    if not app_param:
        return accounts
    app = catalogue.find_app(app_param)
    return accounts.filter(app_slug=app["name_slug"]) if app else accounts.none()


def _account_or_404(caller: Caller, account_id: str) -> Account:
    account = _accounts(caller).filter(account_id=account_id).first()
    if account is None:
        raise ApiError(404, RECORD_NOT_FOUND)
    return account


@endpoint("pipedream.accounts.list")
def accounts_list(request, caller: Caller):
    """GET /v1/connect/{project_id}/accounts: {data, page_info}, paged by account id."""
    accounts = _accounts(caller)
    if external_user_id := request.GET.get("external_user_id"):
        accounts = accounts.filter(user__external_id=external_user_id)
    if oauth_app_id := request.GET.get("oauth_app_id"):
        accounts = accounts.filter(oauth_app_id=oauth_app_id)
    accounts = _filter_app(accounts, request.GET.get("app", ""))
    include_credentials = query_bool(request, "include_credentials")
    after, before = query_cursors(request)
    page = services.paginate(
        accounts, key="account_id", limit=query_limit(request), after=after, before=before
    )
    base = base_url(request)
    return JsonResponse(
        {
            "data": [
                services.account_json(a, base_url=base, include_credentials=include_credentials)
                for a in page.items
            ],
            "page_info": services.page_info(page, lambda a: a.account_id),
        }
    )


@endpoint("pipedream.accounts.create", auth=(CONNECT,))
def accounts_create(request, caller: Caller):
    """POST /v1/connect/{project_id}/accounts: the hosted UI's call for key-based apps."""
    data = json_body(request)
    token = caller.connect_token
    body_token = data.get("connect_token")
    if body_token and services.connect_token_lookup(body_token) != token:
        raise ApiError(400, "connect_token does not match the bearer token.")
    external_user_id = request.GET.get("external_user_id")
    if external_user_id and external_user_id != token.external_user_id:
        raise ApiError(400, ACCOUNT_MISMATCH)
    app_slug = data.get("app_slug")
    if not isinstance(app_slug, str) or catalogue.find_app(app_slug) is None:
        raise ApiError(400, APP_NOT_FOUND)
    cfmap = data.get("cfmap_json") or "{}"
    try:
        custom_fields = json.loads(cfmap) if isinstance(cfmap, str) else None
    except ValueError:
        custom_fields = None
    if not isinstance(custom_fields, dict):
        raise ApiError(400, "cfmap_json must be a JSON object encoded as a string.")
    try:
        account = services.account_connect(
            token=token,
            app_slug=app_slug,
            name=str(data.get("name") or ""),
            oauth_app_id=request.GET.get("oauth_app_id", ""),
            account_id=str(data.get("account_id") or ""),
            custom_fields={str(k): str(v) for k, v in custom_fields.items()},
        )
    except services.ConnectError as exc:
        raise ApiError(400, str(exc)) from exc
    base = base_url(request)
    response = JsonResponse(services.account_json(account, base_url=base))
    delivery = webhooks.connection_success(
        raw_token=_bearer(request), token=token, account=account, base_url=base
    )
    return webhooks.send_after_response(response, [delivery] if delivery else [])


@endpoint("pipedream.accounts.get")
def account_get(request, caller: Caller, account_id: str):
    """GET /v1/connect/{project_id}/accounts/{account_id}: a bare Account."""
    account = _account_or_404(caller, account_id)
    return JsonResponse(
        services.account_json(
            account,
            base_url=base_url(request),
            include_credentials=query_bool(request, "include_credentials"),
        )
    )


@endpoint("pipedream.accounts.delete")
def account_delete(request, caller: Caller, account_id: str):
    """DELETE /v1/connect/{project_id}/accounts/{account_id}: 204."""
    _account_or_404(caller, account_id).delete()
    return HttpResponse(status=204)


@endpoint("pipedream.accounts.delete_by_app")
def accounts_delete_by_app(request, caller: Caller, app_id: str):
    """DELETE /v1/connect/{project_id}/apps/{app_id}/accounts: 204 (slug, app_ or oa_ id)."""
    accounts = _accounts(caller)
    if app_id.startswith("oa_"):
        accounts = accounts.filter(oauth_app_id=app_id)
    else:
        accounts = _filter_app(accounts, app_id)
    accounts.delete()
    return HttpResponse(status=204)


# --- External users ------------------------------------------------------------------


def _users(caller: Caller):
    users = ExternalUser.objects.filter(
        project_id=caller.project_id, environment=caller.environment
    )
    if caller.external_user_id is not None:
        users = users.filter(external_id=caller.external_user_id)
    return users


@endpoint("pipedream.users.list", auth=(OAUTH,))
def users_list(request, caller: Caller):
    """GET /v1/connect/{project_id}/users: {data: [ExternalUser], page_info}."""
    users = _users(caller)
    if q := request.GET.get("q"):
        users = users.filter(external_id__icontains=q)
    after, before = query_cursors(request)
    page = services.paginate(
        users, key="public_id", limit=query_limit(request), after=after, before=before
    )
    return JsonResponse(
        {
            "data": [services.external_user_json(user) for user in page.items],
            "page_info": services.page_info(page, lambda user: user.public_id),
        }
    )


@endpoint("pipedream.users.accounts")
def user_accounts(request, caller: Caller, external_user_id: str):
    """GET /v1/connect/{project_id}/users/{external_user_id}/accounts: a bare array."""
    accounts = _filter_app(
        _accounts(caller).filter(user__external_id=external_user_id), request.GET.get("app", "")
    )
    include_credentials = query_bool(request, "include_credentials")
    base = base_url(request)
    data = [
        services.account_json(a, base_url=base, include_credentials=include_credentials)
        for a in accounts.order_by("account_id")
    ]
    return JsonResponse(data, safe=False)


@endpoint("pipedream.users.delete")
def user_delete(request, caller: Caller, external_user_id: str):
    """DELETE /v1/connect/{project_id}/users/{external_user_id}: the user and their accounts."""
    user = _users(caller).filter(external_id=external_user_id).first()
    if user is None:
        raise ApiError(404, RECORD_NOT_FOUND)
    user.delete()  # cascades to the accounts
    return HttpResponse(status=204)


# --- Apps ----------------------------------------------------------------------------

SORT_KEYS = {"name", "name_slug", "featured_weight"}


@endpoint("pipedream.apps.list", scoped=False)
def apps_list(request, caller: Caller):
    """GET /v1/connect/apps and /v1/apps: {data: [App], page_info}."""
    apps = list(catalogue.APPS.values())
    if q := request.GET.get("q", "").strip().lower():
        apps = [
            a
            for a in apps
            if q in a["name"].lower()
            or q in a["name_slug"]
            or q in (a["description"] or "").lower()
        ]
    for kind in ("actions", "triggers"):
        if request.GET.get(f"has_{kind}"):
            wanted = query_bool(request, f"has_{kind}")
            apps = [a for a in apps if catalogue.app_has(a["name_slug"], kind) == wanted]
    if request.GET.get("has_components") and query_bool(request, "has_components"):
        apps = [
            a
            for a in apps
            if catalogue.app_has(a["name_slug"], "actions")
            or catalogue.app_has(a["name_slug"], "triggers")
        ]
    sort_key = request.GET.get("sort_key") or "featured_weight"
    direction = request.GET.get("sort_direction") or (
        "desc" if sort_key == "featured_weight" else "asc"
    )
    if sort_key not in SORT_KEYS:
        raise ApiError(400, f"sort_key must be one of {sorted(SORT_KEYS)}.")
    if direction not in ("asc", "desc"):
        raise ApiError(400, "sort_direction must be asc or desc.")
    apps.sort(key=lambda a: a["name_slug"])  # ties break the same way every time
    apps.sort(key=lambda a: a[sort_key], reverse=direction == "desc")
    after, before = query_cursors(request)
    limit = query_limit(request)
    ids = [a["id"] for a in apps]
    start, stop = 0, len(apps)
    if after:
        start = ids.index(after) + 1 if after in ids else len(apps)
    if before:
        stop = ids.index(before) if before in ids else 0
    if before and not after:
        start = max(0, stop - limit)
    window = apps[start:stop][:limit]
    end = start + len(window)
    base = base_url(request)
    return JsonResponse(
        {
            "data": [catalogue.app_json(a, base) for a in window],
            "page_info": {
                "count": len(window),
                "total_count": len(apps),
                "start_cursor": services.encode_cursor(window[0]["id"])
                if window and start
                else None,
                "end_cursor": (
                    services.encode_cursor(window[-1]["id"]) if window and end < len(apps) else None
                ),
            },
        }
    )


@endpoint("pipedream.apps.get", scoped=False)
def apps_get(request, caller: Caller, app_id: str):
    """GET /v1/connect/apps/{app_id} and /v1/apps/{app_id}: {"data": App}."""
    app = catalogue.find_app(app_id)
    if app is None:
        raise ApiError(404, APP_NOT_FOUND)
    return JsonResponse({"data": catalogue.app_json(app, base_url(request))})


# --- Actions -------------------------------------------------------------------------


def _account_for_run(
    caller: Caller, external_user_id: str, app_slug: str, props: dict, prop_name: str = ""
) -> Account:
    """The account `configured_props[prop_name]` names ({"authProvisionId": ...}); the app
    prop's name is the component's (`googleSheets`), not always the app slug."""
    prop_name = prop_name or app_slug
    prop = props.get(prop_name)
    account_id = prop.get("authProvisionId") if isinstance(prop, dict) else None
    if not account_id:
        raise ApiError(
            400,
            f"The {prop_name} prop is required: "
            f'configured_props {{"{prop_name}": {{"authProvisionId": "apn_..."}}}}.',
        )
    account = (
        Account.objects.scoped(caller.project_id, caller.environment)
        .filter(account_id=account_id)
        .select_related("user")
        .first()
    )
    if (
        account is None
        or account.user.external_id != external_user_id
        or account.app_slug != app_slug
        or (caller.external_user_id is not None and caller.external_user_id != external_user_id)
    ):
        raise ApiError(400, ACCOUNT_MISMATCH)
    if account.dead:
        raise ApiError(
            400, f"Account {account.account_id} is dead: {account.error or 'reconnect it'}."
        )
    if not account.healthy:
        raise ApiError(
            400, f"Account {account.account_id} is unhealthy: {account.error or 'reconnect it'}."
        )
    return account


def component_for(data: dict, registry: dict, kind: str) -> components.Component:
    """The component `data["id"]` names, at `data["version"]` when given (404 otherwise)."""
    key, version = data.get("id"), data.get("version")
    if not isinstance(key, str) or not key:
        raise ApiError(400, f"id is required: the {kind}'s component key.")
    component = registry.get(key)
    if component is None:
        raise ApiError(
            404, f"Component {key} not found. The sandbox has: {', '.join(sorted(registry))}."
        )
    if version not in (None, "") and version != component.version:
        raise ApiError(
            404, f"Component {key}@{version} not found (the sandbox has {component.version})."
        )
    return component


def checked_props(
    caller: Caller, component: components.Component, external_user_id: str, data: dict
) -> tuple[Account, dict, list[dict]]:
    """(account, configured props, dynamic props) for a run or a deploy, or a 400: the app
    prop names one of the user's accounts, a `dynamic_props_id` is the one a props reload
    gave for these values, and every required prop has a value."""
    props = data.get("configured_props") or {}
    if not isinstance(props, dict):
        raise ApiError(400, "configured_props must be an object.")
    account = _account_for_run(caller, external_user_id, component.app, props, component.app_prop)
    dynamic_props_id = data.get("dynamic_props_id") or ""
    if not isinstance(dynamic_props_id, str):
        raise ApiError(400, "dynamic_props_id must be a string.")
    if dynamic_props_id and dynamic_props_id != component.dynamic_props_id(
        account.account_id, props
    ):
        raise ApiError(
            400,
            f"dynamic_props_id {dynamic_props_id} does not match these configured_props: "
            "reload the props (POST .../components/props) and use the id it returns.",
        )
    dynamic = component.dynamic_props(account.profile or {}, props)
    missing = component.missing(props, dynamic)
    if missing:
        raise ApiError(400, f"Missing required prop(s) of {component.key}: {', '.join(missing)}.")
    return account, props, dynamic


@endpoint("pipedream.actions.run")
def actions_run(request, caller: Caller):
    """POST /v1/connect/{project_id}/actions/run: a real action (sandbox/components.py)."""
    data = json_body(request)
    external_user_id = data.get("external_user_id")
    action = component_for(data, ACTIONS, "action")
    if not isinstance(external_user_id, str) or not external_user_id:
        raise ApiError(400, "external_user_id is required.")
    account, props, _ = checked_props(caller, action, external_user_id, data)
    values = {name: components.prop_value(value) for name, value in props.items()}
    try:
        summary, ret = action.run(account.profile or {}, values)
    except ActionError as exc:
        raise ApiError(400, str(exc)) from exc
    return JsonResponse({"exports": {"$summary": summary}, "os": [], "ret": ret, "stash_id": None})


# --- Triggers ------------------------------------------------------------------------

EMITTER_TYPES = {"email", "http", "source", "timer"}


def _external_user_param(request, caller: Caller) -> str:
    external_user_id = request.GET.get("external_user_id", "")
    if not external_user_id:
        raise ApiError(400, "external_user_id is required (query parameter).")
    if caller.external_user_id is not None and caller.external_user_id != external_user_id:
        raise ApiError(404, RECORD_NOT_FOUND)
    return external_user_id


def _triggers(caller: Caller, external_user_id: str):
    return DeployedTrigger.objects.filter(
        user__project_id=caller.project_id,
        user__environment=caller.environment,
        user__external_id=external_user_id,
    ).select_related("user", "account")


def _trigger_or_404(request, caller: Caller, trigger_id: str) -> DeployedTrigger:
    external_user_id = _external_user_param(request, caller)
    trigger = _triggers(caller, external_user_id).filter(trigger_id=trigger_id).first()
    if trigger is None:
        raise ApiError(404, RECORD_NOT_FOUND)
    return trigger


def _bool_field(data: dict, name: str, default=None):
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false.")
    return value


def _webhook_urls(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(url, str) for url in value):
        raise ApiError(400, "webhook_urls must be an array of URLs.")
    return [_absolute_http_url({"url": url}, "url") for url in value if url]


@endpoint("pipedream.triggers.deploy")
def triggers_deploy(request, caller: Caller):
    """POST /v1/connect/{project_id}/triggers/deploy: {"data": DeployedComponent}."""
    data = json_body(request)
    external_user_id = data.get("external_user_id")
    component = component_for(data, triggers.TRIGGERS, "trigger")
    if not isinstance(external_user_id, str) or not external_user_id:
        raise ApiError(400, "external_user_id is required.")
    account, props, _ = checked_props(caller, component, external_user_id, data)
    webhook_url = _absolute_http_url(data, "webhook_url")
    workflow_id = data.get("workflow_id") or ""
    if workflow_id and (not isinstance(workflow_id, str) or not workflow_id.startswith("p_")):
        raise ApiError(400, f"workflow_id must look like p_..., not {workflow_id!r}.")
    dynamic_props_id = data.get("dynamic_props_id") or ""
    trigger, deliveries = triggers.deploy(
        component=component,
        account=account,
        configured_props=props,
        webhook_url=webhook_url,
        emit_on_deploy=_bool_field(data, "emit_on_deploy", True),
        workflow_id=workflow_id,
        dynamic_props_id=dynamic_props_id,
    )
    body = triggers.deployed_component_json(
        trigger, signing_key=bool(webhook_url) and caller.kind == OAUTH
    )
    return webhooks.send_after_response(JsonResponse({"data": body}), deliveries)


@endpoint("pipedream.triggers.list")
def deployed_triggers_list(request, caller: Caller):
    """GET /v1/connect/{project_id}/deployed-triggers: {data, page_info}, paged by id."""
    external_user_id = _external_user_param(request, caller)
    found = _triggers(caller, external_user_id)
    emitter_type = request.GET.get("emitter_type", "")
    if emitter_type and emitter_type not in EMITTER_TYPES:
        raise ApiError(400, f"emitter_type must be one of {sorted(EMITTER_TYPES)}.")
    if emitter_type not in ("", "source"):
        found = found.none()  # the sandbox deploys sources only
    after, before = query_cursors(request)
    page = services.paginate(
        found, key="trigger_id", limit=query_limit(request), after=after, before=before
    )
    return JsonResponse(
        {
            "data": [triggers.deployed_component_json(t) for t in page.items],
            "page_info": services.page_info(page, lambda t: t.trigger_id),
        }
    )


@endpoint("pipedream.triggers.get")
def deployed_trigger_get(request, caller: Caller, trigger_id: str):
    """GET .../deployed-triggers/{trigger_id}: {"data": DeployedComponent}."""
    trigger = _trigger_or_404(request, caller, trigger_id)
    return JsonResponse({"data": triggers.deployed_component_json(trigger)})


@endpoint("pipedream.triggers.update")
def deployed_trigger_update(request, caller: Caller, trigger_id: str):
    """PUT .../deployed-triggers/{trigger_id}: {active, configured_props, name, emit_on_deploy}."""
    trigger = _trigger_or_404(request, caller, trigger_id)
    data = json_body(request)
    active = _bool_field(data, "active")
    emit_on_deploy = _bool_field(data, "emit_on_deploy")
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ApiError(400, "name must be a non-empty string.")
    props = data.get("configured_props")
    if props is not None:
        if not isinstance(props, dict):
            raise ApiError(400, "configured_props must be an object.")
        component = triggers.TRIGGERS[trigger.component_key]
        trigger.account, props, _ = checked_props(
            caller, component, trigger.user.external_id, {"configured_props": props}
        )
        trigger.configured_props = props
    if active is not None:
        trigger.active = active
    if emit_on_deploy is not None:
        trigger.emit_on_deploy = emit_on_deploy
    if name is not None:
        trigger.name = name.strip()
    trigger.updated_at = timezone.now()
    trigger.save()
    return JsonResponse({"data": triggers.deployed_component_json(trigger)})


@endpoint("pipedream.triggers.delete")
def deployed_trigger_delete(request, caller: Caller, trigger_id: str):
    """DELETE .../deployed-triggers/{trigger_id}: 204; its pending deliveries stop."""
    triggers.remove(_trigger_or_404(request, caller, trigger_id))
    return HttpResponse(status=204)


@endpoint("pipedream.triggers.events")
def deployed_trigger_events(request, caller: Caller, trigger_id: str):
    """GET .../deployed-triggers/{trigger_id}/events?n=: {"data": [EmittedEvent]}, newest first."""
    trigger = _trigger_or_404(request, caller, trigger_id)
    raw = request.GET.get("n", "").strip() or "20"
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(400, f"n must be an integer, not {raw!r}.") from None
    if n < 1:
        raise ApiError(400, "n must be at least 1.")
    events = trigger.events.order_by("-ts", "-pk")[: min(n, 100)]
    return JsonResponse({"data": [triggers.event_json(event) for event in events]})


def _webhooks_json(caller: Caller, trigger: DeployedTrigger) -> JsonResponse:
    oauth = caller.kind == OAUTH
    return JsonResponse(
        {
            "webhook_urls": trigger.webhook_urls,
            "webhooks": [
                triggers.webhook_json(trigger, hook, signing_key=oauth) for hook in trigger.webhooks
            ],
        }
    )


@endpoint("pipedream.triggers.webhooks")
def deployed_trigger_webhooks(request, caller: Caller, trigger_id: str):
    """GET .../deployed-triggers/{trigger_id}/webhooks: {webhook_urls, webhooks}."""
    return _webhooks_json(caller, _trigger_or_404(request, caller, trigger_id))


@endpoint("pipedream.triggers.webhooks")
def deployed_trigger_webhooks_update(request, caller: Caller, trigger_id: str):
    """PUT .../deployed-triggers/{trigger_id}/webhooks {webhook_urls}: the new list."""
    trigger = _trigger_or_404(request, caller, trigger_id)
    data = json_body(request)
    if "webhook_urls" not in data:
        raise ApiError(400, "webhook_urls is required.")
    trigger.webhooks = triggers.make_webhooks(_webhook_urls(data["webhook_urls"]), trigger.webhooks)
    trigger.updated_at = timezone.now()
    trigger.save(update_fields=["webhooks", "updated_at"])
    return _webhooks_json(caller, trigger)


def _hook_or_404(trigger: DeployedTrigger, webhook_id: str) -> dict:
    hook = next((hook for hook in trigger.webhooks if hook["id"] == webhook_id), None)
    if hook is None:
        raise ApiError(404, RECORD_NOT_FOUND)
    return hook


@endpoint("pipedream.triggers.webhooks", auth=(OAUTH,))
def deployed_trigger_webhook_get(request, caller: Caller, trigger_id: str, webhook_id: str):
    """GET .../webhooks/{webhook_id} (OAuth only): {"data": WebhookWithSigningKey}."""
    trigger = _trigger_or_404(request, caller, trigger_id)
    hook = _hook_or_404(trigger, webhook_id)
    return JsonResponse({"data": triggers.webhook_with_key_json(trigger, hook)})


@endpoint("pipedream.triggers.webhooks", auth=(OAUTH,))
def deployed_trigger_webhook_regenerate(request, caller: Caller, trigger_id: str, webhook_id: str):
    """POST .../webhooks/{webhook_id}/regenerate_signing_key (OAuth only): a new key.

    The sandbox keeps one key per trigger, shared by its webhooks: all of them change.
    """
    trigger = _trigger_or_404(request, caller, trigger_id)
    hook = _hook_or_404(trigger, webhook_id)
    trigger.signing_key = triggers.new_signing_key()
    hook["updated_at"] = int(time.time())
    trigger.updated_at = timezone.now()
    trigger.save(update_fields=["signing_key", "webhooks", "updated_at"])
    return JsonResponse({"data": triggers.webhook_with_key_json(trigger, hook)})


# --- Proxy ---------------------------------------------------------------------------


@endpoint("pipedream.proxy")
def proxy_request(request, caller: Caller, url_64: str):
    """Any of GET|POST|PUT|PATCH|DELETE /v1/connect/{project_id}/proxy/{url_64}.

    The upstream's answer comes back as it is (status, JSON body); the sandbox's own
    refusals are Pipedream-style errors: 400 for a bad url_64, a missing parameter,
    someone else's account or a dead/unhealthy one; 403 for a host outside the app's
    allowed domains; 404 for an upstream endpoint the sandbox does not emulate.
    """
    try:
        url = proxy.decode_url(url_64)
    except proxy.ProxyError as exc:
        raise ApiError(exc.status, exc.message) from exc
    external_user_id = request.GET.get("external_user_id", "")
    account_id = request.GET.get("account_id", "")
    if not external_user_id or not account_id:
        raise ApiError(400, "external_user_id and account_id are required (query parameters).")
    account = (
        Account.objects.scoped(caller.project_id, caller.environment)
        .filter(account_id=account_id)
        .select_related("user")
        .first()
    )
    if (
        account is None
        or account.user.external_id != external_user_id
        or (caller.external_user_id is not None and caller.external_user_id != external_user_id)
    ):
        raise ApiError(400, ACCOUNT_MISMATCH)
    if account.dead or not account.healthy:
        state = "dead" if account.dead else "unhealthy"
        raise ApiError(
            400, f"Account {account.account_id} is {state}: {account.error or 'reconnect it'}."
        )
    body = None
    if request.body:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            body = request.body.decode(errors="replace")
    forwarded = proxy.forwarded_headers(request.headers)
    try:
        status, answer = proxy.answer(account, request.method, url, body)
    except proxy.ProxyError as exc:
        raise ApiError(exc.status, exc.message) from exc
    if answer is None:
        response = HttpResponse(status=status)
    else:
        response = JsonResponse(answer, status=status, safe=False)
    if forwarded:
        # Names only, never values: what a test or a person can check reached "upstream".
        response["X-Sandbox-Proxy-Forwarded"] = ", ".join(sorted(forwarded))
    return response


# --- Workflows -----------------------------------------------------------------------


# Pipedream's default HTTP response, byte for byte as a real endpoint sent it (a 2020
# capture: helium/console assets/js/components/common/Debug.jsx@636b4b8, 179 bytes,
# Content-Type text/html; charset=UTF-8; the docs-v2 triggers page prints the same text
# with another anchor), and the JSON form a 2022 capture recorded (pretty-printed, with a
# trailing newline).
DEFAULT_RESPONSE_HTML = (
    "<p><b>Success!</b></p>\n<p>To customize this response, check out our docs "
    '<a href="https://docs.pipedream.com/workflows/steps/triggers/'
    '#customizing-the-http-response">here</a></p>\n'
)
DEFAULT_RESPONSE_JSON = {
    "success": True,
    "info": "To customize this response, check out our docs at "
    "https://pipedream.com/docs/workflows/steps/triggers/#customizing-the-http-response",
}
# docs-v2 triggers.mdx "Errors with HTTP Responses": a workflow that throws before
# $.respond. unconfirmed: the Content-Type (no source); text/plain here.
NO_RESPOND = "No $.respond called in workflow"
# The official action's one sentence for every failure (PipedreamHQ/pipedream
# components/bitbadges/actions/complete-claim.mjs@11e39611); it never reaches the caller.
ACTION_FAILED = "Failed to complete claim. Please try again later."


def _default_response(kind: str) -> HttpResponse:
    if kind == "default-json":
        response = HttpResponse(
            json.dumps(DEFAULT_RESPONSE_JSON, indent=2) + "\n",
            content_type="application/json; charset=utf-8",
        )
    else:
        response = HttpResponse(DEFAULT_RESPONSE_HTML, content_type="text/html; charset=UTF-8")
    response["x-pd-status"] = "sent to coordinator"  # as in the 2020 capture
    return response


def _no_respond() -> HttpResponse:
    return HttpResponse(NO_RESPOND, status=400, content_type="text/plain; charset=utf-8")


@public_api
@injectable("pipedream.workflows.invoke")
def workflow_invoke(request, endpoint_id: str):
    """Any method /workflows/{endpoint_id}/: an HTTP-triggered workflow run for a user.

    Stands in for https://{endpoint_id}.m.pipedream.net (docs §5): needs an OAuth access
    token and X-PD-External-User-ID; X-PD-Environment defaults to production.

    A workflow whose trigger is left on the default response ("default-html",
    "default-json") answers 200 with Pipedream's default body whatever its steps did.
    The real one answers before the steps run (docs-v2 faq.mdx: "sent to the caller
    immediately, before the rest of the workflow steps are executed"); the sandbox has
    no background runs, so it runs them first, then answers the same.
    """
    workflow = catalogue.WORKFLOWS.get(endpoint_id)
    if workflow is None:
        return error(404, f"Workflow endpoint {endpoint_id} not found.")
    raw = _bearer(request)
    if raw is None or raw.startswith("ctok_") or services.oauth_token_lookup(raw) is None:
        return error(401, "Unauthorized: send Authorization: Bearer <OAuth access token>.")
    response = _workflow_run(request, endpoint_id, workflow)
    kind = workflow.get("response", "custom")
    if kind in ("default-html", "default-json"):
        return _default_response(kind)
    return response


def _workflow_run(request, endpoint_id: str, workflow: dict) -> HttpResponse:
    """The workflow's steps after the trigger accepted the request; their answer."""
    external_user_id = request.headers.get("X-PD-External-User-ID", "").strip()
    if not external_user_id:
        return error(400, "Pipedream Connect Error: the X-PD-External-User-ID header is required.")
    environment = request.headers.get("X-PD-Environment") or Environment.PRODUCTION
    if environment not in ENVIRONMENTS:
        return error(400, f"Invalid X-PD-Environment {environment!r}.")
    app_slug = workflow["app"]
    account = (
        Account.objects.scoped(SANDBOX_CREDENTIALS["project_id"], environment)
        .filter(user__external_id=external_user_id, app_slug=app_slug, dead=False)
        .order_by("-created_at", "-account_id")  # the newest (users.mdx), healthy or not
        .first()
    )
    if account is None:
        return error(
            400,
            f"Pipedream Connect Error: Required account for {app_slug} not found for "
            f"external user ID {external_user_id} in {environment}",
        )
    try:
        body = json.loads(request.body) if request.body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = request.body.decode(errors="replace")
    if workflow.get("claim"):
        return _workflow_claim(workflow, account, body)
    if app_slug == "discord":
        # The demo workflow's own code step: is the account in the demo guild?
        guild = ((account.profile or {}).get("guilds") or {}).get(catalogue.DEMO_GUILD_ID)
        result = {
            "guild_id": catalogue.DEMO_GUILD_ID,
            "member": guild is not None,
            "roles": (guild or {}).get("roles", []),
        }
    else:
        _, result = ACTIONS["github-get-current-user"].run(account.profile, {})
    return JsonResponse(
        {
            "success": True,
            "workflow": endpoint_id,
            "external_user_id": external_user_id,
            "environment": environment,
            "account": {"id": account.account_id, "name": account.name, "app": app_slug},
            "result": result,
            "body": body,
        }
    )


def _workflow_claim(workflow: dict, account: Account, body) -> HttpResponse:
    """The claim workflow's steps: a healthy account, an address, the criterion, then
    complete the demo claim through the emulated BitBadges (no HTTP, no API credit:
    unconfirmed whose key a real workflow would spend).

    With the official action as the BitBadges step ("response": "action"), any failure
    of that step (a malformed address, a BitBadges refusal) is thrown as ACTION_FAILED
    before $.respond runs: the caller gets 400 "No $.respond called in workflow".
    """
    action = workflow.get("response") == "action"
    if not account.healthy:
        return error(
            400, f"Account {account.account_id} is unhealthy: {account.error or 'reconnect it'}."
        )
    address = body.get("address") if isinstance(body, dict) else None
    if not isinstance(address, str) or not address.strip():
        return error(
            400, 'The body must be JSON with the member\'s address: {"address": "bb1..."}.'
        )
    try:
        bb_address = bitbadges.bb_address(address.strip())
    except bitbadges.BitBadgesError as exc:
        return _no_respond() if action else error(400, exc.message)
    repos = (account.profile or {}).get("public_repos") or 0
    wanted = workflow["min_public_repos"]
    if not isinstance(repos, int) or repos < wanted:
        return JsonResponse(
            {
                "success": False,
                "error": f"The GitHub account needs at least {wanted} public repo(s); "
                f"it has {repos}.",
            },
            status=400,
        )
    demo = bitbadges.demo_claims_ensure()[workflow["claim"]]
    bitbadges.tick()
    try:
        attempt = bitbadges.complete(
            demo["claim_id"],
            bb_address,
            {
                "_expectedVersion": -1,
                demo["password_instance_id"]: {"password": demo["password"]},
            },
        )
    except bitbadges.BitBadgesError as exc:
        if action:
            return _no_respond()  # the action threw ACTION_FAILED; nothing responded
        return JsonResponse({"success": False, "error": exc.message}, status=400)
    if action:
        # complete-claim.mjs@11e39611: {success, claimAttemptId, currentTimestamp: Date.now()}
        return JsonResponse(
            {
                "success": True,
                "claimAttemptId": attempt.attempt_id,
                "currentTimestamp": int(time.time() * 1000),
            }
        )
    return JsonResponse(
        {
            "success": True,
            "claimAttemptId": attempt.attempt_id,
            "claimId": demo["claim_id"],
            "bitbadgesAddress": bb_address,
            "account": {"id": account.account_id, "name": account.name, "app": account.app_slug},
            "currentTimestamp": int(attempt.created_at.timestamp() * 1000),
        }
    )


@public_api
def not_found(request, *args, **kwargs):
    """Anything else under the API: JSON 404, as an API answers."""
    return error(404, f"No route for {request.method} {request.path}.")

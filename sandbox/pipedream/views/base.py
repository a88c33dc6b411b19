"""The emulated Pipedream Connect REST API (/v1/...), as docs/pipedream-connect-api.md
describes it: what every view goes through (this module), and the views by topic in
its siblings (connect, accounts, apps, actions, components, triggers, proxy, workflows;
hosted is the Connect page). sandbox/pipedream/urls.py routes them.

Every view is declared with `@endpoint(name, ...)`, which does what the real service
does before an operation runs: fault injection (sandbox/common/faults.py), the bearer check
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
- deployed triggers (sandbox/pipedream/triggers.py) of another external user, project or
  environment are a 404 "record not found", as is a Connect token asking for a user
  other than its own; a deployed trigger's webhooks share the trigger's signing key, so
  regenerating "a webhook's" key regenerates the trigger's;
- the proxy (sandbox/pipedream/proxy.py) answers a few demo upstream endpoints from the account's
  profile, never the network.
"""

import functools
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from sandbox.common.faults import injectable
from sandbox.credentials import SANDBOX_CREDENTIALS
from sandbox.pipedream import services
from sandbox.pipedream.models import ConnectToken, Environment

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


@public_api
def not_found(request, *args, **kwargs):
    """Anything else under the API: JSON 404, as an API answers."""
    return error(404, f"No route for {request.method} {request.path}.")

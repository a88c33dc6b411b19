"""The Connect proxy's demo upstream: a few real API endpoints, answered from a profile.

Pipedream's proxy (`/v1/connect/{project_id}/proxy/{url_64}`) forwards a request to
the app's API with the account's credentials. The sandbox never goes to the network:
the upstream URL must be one of the endpoints below, and the answer is built from the
account's `profile` (see catalogue.default_profile), with the upstream's status codes
(a star check is 204 or 404, as on GitHub). A PUT or DELETE of a star changes the
profile, as the upstream would.

Rules applied before an endpoint runs (sandbox/pipedream/views/proxy.py):
- `url_64` is URL-safe base64 of the full URL, or of a path starting with `/`; padding
  is optional; anything else, a path with `.` or `..` segments, or more than
  MAX_URL characters is a 400 (the real texts are unconfirmed);
- a path is joined to the app's `connect.base_proxy_target_url`; a `{{custom_fields.X}}`
  placeholder in it is the account's custom field X (GitLab's `base_api_url`, whose
  default is `gitlab.com`): Pipedream's docs, connect/api-proxy, "When to use relative
  vs full URLs";
- a full URL's host must be one of the app's `connect.allowed_domains` (or a
  subdomain): otherwise 403, which is how the sandbox reads Pipedream's "allowed
  domains" rule (the real status and text are unconfirmed);
- the emulated upstream takes SANDBOX_PIPEDREAM_PROXY_UPSTREAM_DELAY seconds; past
  SANDBOX_PIPEDREAM_PROXY_LIMIT (30 s, Pipedream's limit) the proxy answers 504 at the
  limit, as Pipedream's docs say it does (the body is unconfirmed);
- an https URL the sandbox does not emulate is a 404 that lists the ones it does.
"""

import base64
import binascii
import re
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings

from sandbox.pipedream import catalogue

MAX_URL = 8192
_PLACEHOLDER = re.compile(r"\{\{\s*custom_fields\.([A-Za-z0-9_]+)\s*\}\}")
# The default of GitLab's `base_api_url` custom field in Pipedream's app API.
CUSTOM_FIELD_DEFAULTS = {("gitlab", "base_api_url"): "gitlab.com"}

_URL_64 = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
HEADER_PREFIX = "x-pd-proxy-"
# Never forwarded nor echoed: Pipedream adds the account's own credentials.
SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}


class ProxyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def decode_url(url_64: str) -> str:
    """The URL (or `/path`) inside URL-safe base64 (padding optional); ProxyError 400
    otherwise."""
    if not _URL_64.match(url_64 or ""):
        raise ProxyError(400, f"url_64 is not URL-safe base64: {url_64[:80]!r}.")
    if len(url_64) > MAX_URL * 4 // 3 + 4:
        raise ProxyError(400, f"url_64 is longer than a URL of {MAX_URL} characters.")
    text = url_64.rstrip("=")
    try:
        url = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ProxyError(400, f"url_64 does not decode to a URL: {url_64[:80]!r}.") from None
    if any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        raise ProxyError(
            400, f"url_64 encodes a URL with spaces or control characters: {url[:200]!r}."
        )
    parts = urlsplit(url)
    relative = url.startswith("/") and not url.startswith("//")
    if not relative and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise ProxyError(
            400, f"url_64 must encode an absolute http(s) URL or a path, not {url[:200]!r}."
        )
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        raise ProxyError(400, f"url_64 encodes a path with . or .. segments: {url[:200]!r}.")
    return url


def resolve(account, url: str) -> str:
    """The full upstream URL: a path joined to the app's base_proxy_target_url, with its
    `{{custom_fields.X}}` taken from the account (ProxyError 400 when it has none)."""
    if not url.startswith("/"):
        return url
    app = catalogue.find_app(account.app_slug)
    base = app["connect"]["base_proxy_target_url"] if app else ""

    def field(match: re.Match) -> str:
        name = match[1]
        value = (account.custom_fields or {}).get(name) or CUSTOM_FIELD_DEFAULTS.get(
            (account.app_slug, name)
        )
        if not value:
            raise ProxyError(400, f"The account has no custom field {name} for the base URL.")
        return str(value)

    base = _PLACEHOLDER.sub(field, base).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme != "https" or not parts.hostname or parts.path or "{" in base:
        raise ProxyError(400, f"{account.app_slug} accounts have no base URL for a path.")
    return base + url


def based_on_account(app_slug: str) -> bool:
    """Whether the app's base URL has a placeholder filled from the account."""
    app = catalogue.find_app(app_slug)
    return bool(app and _PLACEHOLDER.search(app["connect"]["base_proxy_target_url"]))


def upstream_wait() -> None:
    """The emulated upstream's time to answer; ProxyError 504 at Pipedream's limit."""
    delay = float(getattr(settings, "SANDBOX_PIPEDREAM_PROXY_UPSTREAM_DELAY", 0) or 0)
    limit = float(getattr(settings, "SANDBOX_PIPEDREAM_PROXY_LIMIT", 30) or 30)
    if delay > limit:
        time.sleep(limit)
        raise ProxyError(504, f"The upstream did not answer within {limit:g} seconds.")
    if delay > 0:
        time.sleep(delay)


def encode_url(url: str, *, padding: bool = True) -> str:
    encoded = base64.urlsafe_b64encode(url.encode()).decode()
    return encoded if padding else encoded.rstrip("=")


def check_domain(app_slug: str, url: str) -> None:
    app = catalogue.find_app(app_slug)
    allowed = app["connect"]["allowed_domains"] if app else []
    host = (urlsplit(url).hostname or "").lower()
    if not any(host == domain or host.endswith("." + domain) for domain in allowed):
        raise ProxyError(
            403,
            f"The proxy does not allow requests to {host} for {app_slug} accounts; "
            f"allowed domains: {', '.join(allowed) or 'none'}.",
        )


def forwarded_headers(request_headers) -> dict[str, str]:
    """The upstream headers (x-pd-proxy-<name>), secrets left out."""
    headers = {}
    for name, value in request_headers.items():
        lower = name.lower()
        if lower.startswith(HEADER_PREFIX):
            upstream = lower[len(HEADER_PREFIX) :]
            if upstream and upstream not in SECRET_HEADERS:
                headers[upstream] = value
    return headers


# --- The emulated endpoints ----------------------------------------------------------

GITHUB_NOT_FOUND = {
    "message": "Not Found",
    "documentation_url": "https://docs.github.com/rest",
    "status": "404",
}


@dataclass(frozen=True)
class Endpoint:
    methods: tuple[str, ...]
    app: str
    pattern: re.Pattern  # on "https://host/path"
    example: str
    handler: object  # (account, method, match, body) -> (status, body or None)


def _github_user(account, method, match, body):
    profile = account.profile or {}
    login = profile.get("login", "")
    return 200, {
        "login": login,
        "id": catalogue._number(login or "sandbox-user", 10**6, 10**8),
        "type": "User",
        "public_repos": int(profile.get("public_repos", 0)),
        "followers": int(profile.get("followers", 0)),
        "created_at": profile.get("created_at"),
        "html_url": f"https://github.com/{login}",
    }


def _github_star(account, method, match, body):
    repo = f"{match['owner']}/{match['repo']}"
    profile = dict(account.profile or {})
    starred = list(profile.get("starred") or [])
    present = repo.lower() in {name.lower() for name in starred}
    if method == "GET":
        return (204, None) if present else (404, GITHUB_NOT_FOUND)
    if method == "PUT" and not present:
        starred.append(repo)
    elif method == "DELETE":
        starred = [name for name in starred if name.lower() != repo.lower()]
    profile["starred"] = starred
    account.profile = profile
    account.save(update_fields=["profile", "updated_at"])
    return 204, None


def _discord_guilds(account, method, match, body):
    guilds = (account.profile or {}).get("guilds") or {}
    return 200, [
        {
            "id": guild_id,
            "name": "Sandbox Demo Guild"
            if guild_id == catalogue.DEMO_GUILD_ID
            else f"Guild {guild_id}",
            "icon": None,
            "owner": False,
            "permissions": "0",
            "features": [],
        }
        for guild_id in sorted(guilds)
    ]


def _gitlab_user(account, method, match, body):
    # GitLab's GET /api/v4/user, the fields a criterion would read.
    profile = account.profile or {}
    username = profile.get("username") or account.name or "sandbox-user"
    host = match["host"]
    return 200, {
        "id": catalogue._number(username, 10**5, 10**7),
        "username": username,
        "name": username,
        "state": "active",
        "created_at": profile.get("created_at"),
        "web_url": f"https://{host}/{username}",
        "public_email": None,
    }


def _slack_team(account, method, match, body):
    team = (account.profile or {}).get("team") or {}
    return 200, {
        "ok": True,
        "team": {"id": team.get("id"), "name": team.get("name"), "domain": team.get("domain")},
    }


ENDPOINTS = [
    Endpoint(
        ("GET",),
        "github",
        re.compile(r"^https://api\.github\.com/user/?$"),
        "GET https://api.github.com/user",
        _github_user,
    ),
    Endpoint(
        ("GET", "PUT", "DELETE"),
        "github",
        re.compile(r"^https://api\.github\.com/user/starred/(?P<owner>[^/]+)/(?P<repo>[^/]+)/?$"),
        "GET|PUT|DELETE https://api.github.com/user/starred/{owner}/{repo}",
        _github_star,
    ),
    Endpoint(
        ("GET",),
        "discord",
        re.compile(r"^https://discord\.com/api(/v\d+)?/users/@me/guilds/?$"),
        "GET https://discord.com/api/users/@me/guilds",
        _discord_guilds,
    ),
    Endpoint(
        ("GET",),
        "gitlab",
        re.compile(r"^https://(?P<host>[^/]+)/api/v4/user/?$"),
        "GET /api/v4/user (GitLab: a path, on the account's own host)",
        _gitlab_user,
    ),
    Endpoint(
        ("GET", "POST"),
        "slack",
        re.compile(r"^https://slack\.com/api/team\.info/?$"),
        "GET|POST https://slack.com/api/team.info",
        _slack_team,
    ),
]


def known() -> str:
    return "; ".join(endpoint.example for endpoint in ENDPOINTS)


def answer(account, method: str, url: str, body) -> tuple[int, object]:
    """(status, JSON body or None) of the upstream for this request, from the profile."""
    if url.startswith("/"):
        url = resolve(account, url)  # the account's own host: no domain list applies
    else:
        check_domain(account.app_slug, url)
    upstream_wait()
    parts = urlsplit(url)
    target = f"{parts.scheme}://{(parts.hostname or '').lower()}{parts.path}"
    for endpoint in ENDPOINTS:
        match = endpoint.pattern.match(target)
        if match and endpoint.app == account.app_slug and method in endpoint.methods:
            return endpoint.handler(account, method, match, body)
    raise ProxyError(
        404,
        f"The sandbox proxy does not emulate {method} {url}. It answers: {known()}.",
    )

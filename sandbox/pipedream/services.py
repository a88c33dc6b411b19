"""The sandbox's writes and JSON shapes, shared by the API views, the hosted page and the page.

JSON follows docs/pipedream-connect-api.md §3: timestamps are ISO-8601 with
milliseconds and a Z, an Account carries `credentials` only when asked for them.
"""

import base64
import datetime
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from sandbox.credentials import SANDBOX_CREDENTIALS
from sandbox.pipedream import catalogue
from sandbox.pipedream.models import (
    Account,
    ConnectToken,
    Environment,
    ExternalUser,
    OAuthAccessToken,
    hash_secret,
    sortable_id,
)

OAUTH_TOKEN_TTL = 3600
CONNECT_TOKEN_MAX_TTL = 14400
CREDENTIAL_TTL = datetime.timedelta(hours=1)  # how long fake OAuth credentials "last"
PROJECT_NAME = "Connect & Claim (sandbox)"
PROJECT_ID = SANDBOX_CREDENTIALS["project_id"]
# Development mode allows this many external user ids per project: docs-v2/pages/connect/
# managed-auth/environments.mdx ("Maximum of 10 external users"). Production has no limit.
DEVELOPMENT_USER_LIMIT = 10
# The CONNECTION_ERROR webhook's `error` past that limit (docs-v2/pages/connect/
# managed-auth/webhooks.mdx, its example). What the hosted page itself shows is unconfirmed.
DEVELOPMENT_USER_LIMIT_ERROR = (
    "You've hit your limit on the number of external users you can connect."
)


def isoformat(moment: datetime.datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- Cursors (docs §9: unpadded base64 of the boundary item's id) ---------------------


def encode_cursor(item_id: str) -> str:
    return base64.b64encode(item_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The id inside a cursor; ValueError when it is not one of ours."""
    text = cursor.strip().replace(" ", "+")  # a '+' that arrived unencoded
    text = text.replace("-", "+").replace("_", "/")  # accept the URL-safe alphabet too
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid cursor {cursor!r}") from exc
    if not decoded.isprintable() or not decoded:
        raise ValueError(f"invalid cursor {cursor!r}")
    return decoded


@dataclass
class Page:
    items: list
    total_count: int
    has_before: bool
    has_after: bool


def paginate(queryset, *, key: str, limit: int, after: str | None, before: str | None) -> Page:
    """One page of `queryset` ordered by the unique string field `key`.

    `after` gives the items following that id, `before` the `limit` items preceding it.
    """
    total = queryset.count()
    ordered = queryset.order_by(key)
    if after:
        window = ordered.filter(**{f"{key}__gt": after})
        if before:
            window = window.filter(**{f"{key}__lt": before})
        items = list(window[:limit])
    elif before:
        items = list(
            reversed(queryset.filter(**{f"{key}__lt": before}).order_by(f"-{key}")[:limit])
        )
    else:
        items = list(ordered[:limit])
    if not items:
        return Page([], total, has_before=False, has_after=False)
    first, last = getattr(items[0], key), getattr(items[-1], key)
    return Page(
        items,
        total,
        has_before=queryset.filter(**{f"{key}__lt": first}).exists(),
        has_after=queryset.filter(**{f"{key}__gt": last}).exists(),
    )


def page_info(page: Page, id_of) -> dict:
    """PageInfo: cursors are null where there is nothing further that way."""
    return {
        "count": len(page.items),
        "total_count": page.total_count,
        "start_cursor": encode_cursor(id_of(page.items[0])) if page.has_before else None,
        "end_cursor": encode_cursor(id_of(page.items[-1])) if page.has_after else None,
    }


# --- OAuth access tokens -------------------------------------------------------------


def oauth_token_issue(*, client_id: str, scope: str = "*") -> tuple[str, OAuthAccessToken]:
    raw = "pdsbx_" + secrets.token_urlsafe(32)
    now = timezone.now()
    token = OAuthAccessToken.objects.create(
        token_hash=hash_secret(raw),
        client_id=client_id,
        scope=scope or "*",
        created_at=now,
        expires_at=now + datetime.timedelta(seconds=OAUTH_TOKEN_TTL),
    )
    return raw, token


def oauth_token_lookup(raw: str) -> OAuthAccessToken | None:
    """The unexpired access token for a raw bearer, or None."""
    return OAuthAccessToken.objects.active().filter(token_hash=hash_secret(raw)).first()


# --- Connect tokens ------------------------------------------------------------------


def connect_token_create(
    *,
    project_id: str,
    environment: str,
    external_user_id: str,
    expires_in: int = CONNECT_TOKEN_MAX_TTL,
    allowed_origins: list[str] | None = None,
    success_redirect_uri: str = "",
    error_redirect_uri: str = "",
    webhook_uri: str = "",
    scope: str = "connect:*",
    allow_progressive_scopes: bool = False,
) -> tuple[str, ConnectToken]:
    raw = "ctok_" + secrets.token_hex(16)
    now = timezone.now()
    token = ConnectToken.objects.create(
        token_hash=hash_secret(raw),
        token_hint=raw[:13],
        project_id=project_id,
        environment=environment,
        external_user_id=external_user_id,
        allowed_origins=list(allowed_origins or []),
        success_redirect_uri=success_redirect_uri,
        error_redirect_uri=error_redirect_uri,
        webhook_uri=webhook_uri,
        scope=scope or "connect:*",
        allow_progressive_scopes=allow_progressive_scopes,
        # The real ids are ~1.4e38: 128-bit numbers, larger than any database integer.
        connect_session_id=str(secrets.randbits(127) | (1 << 126)),
        created_at=now,
        expires_at=now + datetime.timedelta(seconds=expires_in),
    )
    return raw, token


def connect_token_lookup(raw: str) -> ConnectToken | None:
    """The Connect token for a raw ctok_ value (expired and used ones included), or None."""
    if not raw or not raw.startswith("ctok_"):
        return None
    return ConnectToken.objects.filter(token_hash=hash_secret(raw)).first()


# --- Accounts ------------------------------------------------------------------------


def fake_credentials(account: Account) -> dict:
    """Credentials that look the part and open nothing."""
    seed = hash_secret(account.account_id)
    app = catalogue.APPS.get(account.app_slug)
    if app and app["auth_type"] == "keys":
        return {key: "sandbox-" + seed[:24] for key in account.custom_fields or {"api_key": ""}}
    return {
        "oauth_client_id": "sandbox-oauth-client-" + account.app_slug,
        "oauth_access_token": "sbx_at_" + seed[:32],
        "oauth_refresh_token": "sbx_rt_" + seed[32:64],
        "oauth_uid": catalogue.default_profile(account.app_slug, account.name).get(
            "login", seed[:10]
        ),
    }


def account_json(account: Account, *, base_url: str | None, include_credentials=False) -> dict:
    """The Account object of the API (docs §3).

    `expires_at` (credential expiry) is given for OAuth accounts and left out for
    key-based ones: the docs allow null there, the published schema does not, and a
    missing key reads as null to every client.
    """
    app = catalogue.find_app(account.app_slug)
    app_data = (
        catalogue.app_json(app, base_url)
        if app
        else {
            "id": None,
            "name_slug": account.app_slug,
            "name": account.app_slug,
            "img_src": "",
            "custom_fields_json": "[]",
            "categories": [],
            "featured_weight": 0,
        }
    )
    refreshed = account.last_refreshed_at or account.created_at
    oauth = app_data.get("auth_type") == "oauth"
    data = {
        "id": account.account_id,
        "name": account.name or None,
        "external_id": account.user.external_id,
        "healthy": account.healthy,
        "dead": account.dead,
        "app": app_data,
        "created_at": isoformat(account.created_at),
        "updated_at": isoformat(account.updated_at),
        "authorized_scopes": list(account.authorized_scopes or []),
        "error": account.error or None,
        "last_refreshed_at": isoformat(account.last_refreshed_at) if oauth else None,
        "next_refresh_at": (
            isoformat(refreshed + CREDENTIAL_TTL - datetime.timedelta(minutes=5))
            if oauth and not account.dead
            else None
        ),
    }
    if oauth:
        data["expires_at"] = isoformat(refreshed + CREDENTIAL_TTL)
    if include_credentials:
        data["credentials"] = fake_credentials(account)
    return data


def external_user_json(user: ExternalUser) -> dict:
    return {
        "id": user.public_id,
        "external_id": user.external_id,
        "created_at": isoformat(user.created_at),
        "updated_at": isoformat(user.updated_at),
    }


def external_user_get_or_create(
    *, project_id: str, environment: str, external_id: str
) -> ExternalUser:
    user, _ = ExternalUser.objects.get_or_create(
        project_id=project_id,
        environment=environment,
        external_id=external_id,
        defaults={"public_id": sortable_id("exu_")},
    )
    return user


class ConnectError(Exception):
    """A connect flow that cannot complete; the message is for the person connecting."""


class ExternalUserLimit(ConnectError):
    """A new external user past DEVELOPMENT_USER_LIMIT in `development`: Pipedream answers
    the connect flow with CONNECTION_ERROR, so the site is told (unlike ConnectError)."""

    def __init__(self) -> None:
        super().__init__(DEVELOPMENT_USER_LIMIT_ERROR)


def external_user_admit(*, project_id: str, environment: str, external_id: str) -> None:
    """ExternalUserLimit when `external_id` would be one user too many in development."""
    if environment != Environment.DEVELOPMENT:
        return
    users = ExternalUser.objects.filter(project_id=project_id, environment=environment)
    if users.filter(external_id=external_id).exists():
        return
    if users.count() >= DEVELOPMENT_USER_LIMIT:
        raise ExternalUserLimit()


@transaction.atomic
def account_connect(
    *,
    token: ConnectToken,
    app_slug: str,
    name: str = "",
    oauth_app_id: str = "",
    account_id: str = "",
    custom_fields: dict | None = None,
) -> Account:
    """Create an account with a Connect token (or reconnect `account_id` in place).

    The token is locked and marked used here: two tabs cannot both spend it.
    """
    token = ConnectToken.objects.select_for_update().get(pk=token.pk)
    if token.is_used:
        raise ConnectError("This Connect token has already been used. Generate a new one.")
    if token.is_expired:
        raise ConnectError("This Connect token has expired. Generate a new one.")
    app = catalogue.find_app(app_slug)
    if app is None:
        raise ConnectError("App not found. Please check your app id.")
    external_user_admit(
        project_id=token.project_id,
        environment=token.environment,
        external_id=token.external_user_id,
    )
    now = timezone.now()
    user = external_user_get_or_create(
        project_id=token.project_id,
        environment=token.environment,
        external_id=token.external_user_id,
    )
    if account_id:
        account = account_for_reconnect(token, app["name_slug"], account_id)
        if account is None:
            raise ConnectError("The account to reconnect does not belong to this user and app.")
        account.healthy, account.dead, account.error = True, False, ""
        account.last_refreshed_at = now
        if name:
            account.name = name
        if custom_fields:
            account.custom_fields = custom_fields
        account.save()
    else:
        account = account_create(
            user=user,
            app_slug=app["name_slug"],
            name=name or default_account_name(app, token.external_user_id),
            oauth_app_id=oauth_app_id,
            custom_fields=custom_fields,
            now=now,
        )
    token.used_at = now
    token.account = account
    token.save(update_fields=["used_at", "account"])
    return account


def account_create(
    *,
    user: ExternalUser,
    app_slug: str,
    name: str,
    oauth_app_id: str = "",
    custom_fields: dict | None = None,
    now=None,
) -> Account:
    """A new account of `app_slug` for `user`, its profile derived from its name."""
    now = now or timezone.now()
    return Account.objects.create(
        account_id=sortable_id("apn_"),
        user=user,
        app_slug=app_slug,
        oauth_app_id=oauth_app_id,
        name=name,
        authorized_scopes=catalogue.app_scopes(app_slug),
        custom_fields=custom_fields or {},
        profile=catalogue.default_profile(app_slug, name),
        created_at=now,
        last_refreshed_at=now,
    )


def account_for_reconnect(token: ConnectToken, app_slug: str, account_id: str) -> Account | None:
    """The token user's account `account_id` of `app_slug`, or None."""
    return (
        Account.objects.scoped(token.project_id, token.environment)
        .filter(account_id=account_id, user__external_id=token.external_user_id, app_slug=app_slug)
        .select_related("user")
        .first()
    )


def default_account_name(app: dict, external_user_id: str) -> str:
    short = external_user_id.split("@")[0][:40]
    return f"{short}'s {app['name']}"


def account_set_health(account: Account, *, state: str, error: str = "") -> Account:
    """Mark an account "healthy", "unhealthy" (with an error) or "dead"."""
    if state == "healthy":
        account.healthy, account.dead, account.error = True, False, ""
        account.last_refreshed_at = timezone.now()
    elif state == "unhealthy":
        account.healthy, account.dead = False, False
        account.error = error or "Token refresh failed: invalid_grant (set in the sandbox)"
    elif state == "dead":
        account.healthy, account.dead = False, True
        account.error = error or "The account is no longer active (set in the sandbox)"
    else:
        raise ValueError(f"Unknown health state {state!r}")
    account.save()
    return account

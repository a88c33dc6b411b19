"""Client for the Pipedream Connect REST API: the only module that speaks HTTP to Pipedream.

What it guarantees, so that callers need not:
- one OAuth access token (client-credentials grant) shared through Django's cache by
  every thread and process, refreshed two minutes before it expires, fetched by one
  caller at a time, and fetched afresh once if Pipedream answers 401;
- a timeout on every call, and retries with backoff only where a retry is safe:
  idempotent calls on timeouts and 5xx, every call on 429 (nothing was processed);
- one error family (`PipedreamError`) whose text a person can act on, and never a
  client secret, OAuth token or Connect token in an error message or a log line.

Facts about the API: ../shared/docs/pipedream-connect-api.md.
"""

from __future__ import annotations

import base64
import hashlib
import http
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.cache import cache

from core import http as http_support

logger = logging.getLogger("connections.pipedream")

# Refresh the OAuth token this long before Pipedream says it expires (as the SDKs do),
# so that a token never dies between our check and Pipedream's.
TOKEN_REFRESH_MARGIN = 120.0
# While another process fetches the OAuth token, poll the cache this often.
TOKEN_LOCK_POLL = 0.1
# A Retry-After longer than this is not slept through: the caller (a web request, a
# task) is better off failing now and trying later.
MAX_RETRY_AFTER = 30.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
USER_AGENT = "connect-and-claim (python-requests)"

OP_OAUTH_TOKEN = "obtain an OAuth token"

_CTOK = re.compile(r"ctok_[A-Za-z0-9]+")
# Keys whose values are secrets wherever they appear in a body we keep on an error.
_SECRET_KEYS = frozenset(
    {
        "access_token",
        "client_secret",
        "connect_token",
        "token",
        "credentials",
        # A deployed trigger's key for signing the events it sends to a webhook.
        "webhook_signing_key",
        "signing_key",
    }
)
_ENDPOINT_ID = re.compile(r"^e[no][a-z0-9-]+$")

# One fetch of the OAuth token per process at a time; the cache lock does the same
# across processes.
_TOKEN_FETCH_LOCK = threading.Lock()


# --- Errors --------------------------------------------------------------------------


class PipedreamError(Exception):
    """A call to Pipedream failed. `str(exc)` says what happened and while doing what."""

    summary = "Pipedream answered with an error"

    def __init__(
        self,
        message: str = "",
        *,
        operation: str = "",
        status: int | None = None,
        code: str | None = None,
        body: Any = None,
        headline: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.operation = operation
        self.status = status
        self.code = code
        self.body = body
        self.headline = headline
        self.hint = hint
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        text = self.headline or self.summary
        if self.headline is None and self.status is not None:
            text += f" ({_status_text(self.status)})"
        if self.operation:
            text += f" while trying to {self.operation}"
        if self.message:
            text += f": {self.message.rstrip('. ')}"
        if self.hint:
            text += f". {self.hint}"
        return text


class BadRequest(PipedreamError):
    summary = "Pipedream rejected the request"


class Unauthorized(PipedreamError):
    summary = "Pipedream refused the credentials"


class NotFound(PipedreamError):
    summary = "Pipedream found nothing there"


class RateLimited(PipedreamError):
    summary = "Pipedream is rate limiting this project"

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kwargs) -> None:
        self.retry_after = retry_after
        if retry_after is not None and "hint" not in kwargs:
            kwargs["hint"] = f"Try again in {retry_after:g} s"
        super().__init__(message, **kwargs)


class Unavailable(PipedreamError):
    summary = "Pipedream is unavailable"


class InvalidResponse(PipedreamError):
    summary = "Pipedream's answer is not the JSON expected"


class NotConfigured(PipedreamError):
    summary = "The Pipedream client is not configured"

    def _sentence(self) -> str:
        return f"{self.message}: set it in the environment or in .env"


_ERROR_FOR_STATUS: dict[int, type[PipedreamError]] = {
    400: BadRequest,
    422: BadRequest,
    401: Unauthorized,
    403: Unauthorized,
    404: NotFound,
    408: Unavailable,
    429: RateLimited,
}


# --- Values --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectToken:
    """A short-lived token that lets one external user connect one account."""

    token: str
    expires_at: datetime
    connect_link_url: str

    def as_json(self) -> dict[str, str]:
        return {
            "token": self.token,
            "expires_at": self.expires_at.isoformat(),
            "connect_link_url": self.connect_link_url,
        }


@dataclass(frozen=True)
class ProxyResponse:
    """What the upstream API answered through Pipedream's Connect proxy.

    `body` is the parsed JSON when the answer says it is JSON, else the text (None
    when empty). It belongs to the member whose account made the call: never log it.
    """

    status: int
    headers: dict[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return self.status < 400


# --- Client --------------------------------------------------------------------------


class PipedreamClient:
    def __init__(
        self,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        project_id: str,
        environment: str,
        timeout: float = 10.0,
        max_retries: int = 3,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.project_id = project_id
        self.environment = environment
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self._session = session or _shared_session()
        self._sleep = sleep
        # A hash, not the secret: a changed secret never reuses a token, and the cache
        # (Redis, possibly shared) never holds the secret.
        digest = hashlib.sha256(
            "\0".join((self.api_url, client_id, client_secret, environment)).encode()
        ).hexdigest()
        self._token_key = f"pipedream:oauth-token:{digest}"

    def __repr__(self) -> str:
        return f"<PipedreamClient {self.api_url} {self.project_id} {self.environment}>"

    @classmethod
    def from_settings(cls) -> PipedreamClient:
        """Build a client from the PIPEDREAM_* settings, read now (not at import)."""
        required = (
            "PIPEDREAM_API_URL",
            "PIPEDREAM_CLIENT_ID",
            "PIPEDREAM_CLIENT_SECRET",
            "PIPEDREAM_PROJECT_ID",
            "PIPEDREAM_PROJECT_ENVIRONMENT",
        )
        missing = [name for name in required if not getattr(settings, name, "")]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise NotConfigured(f"{', '.join(missing)} {verb} not set", operation="configure")
        return cls(
            api_url=settings.PIPEDREAM_API_URL,
            client_id=settings.PIPEDREAM_CLIENT_ID,
            client_secret=settings.PIPEDREAM_CLIENT_SECRET,
            project_id=settings.PIPEDREAM_PROJECT_ID,
            environment=settings.PIPEDREAM_PROJECT_ENVIRONMENT,
            timeout=getattr(settings, "PIPEDREAM_TIMEOUT", 10.0),
            max_retries=getattr(settings, "PIPEDREAM_MAX_RETRIES", 3),
        )

    # --- OAuth token ---------------------------------------------------------------

    def access_token(self, *, force_refresh: bool = False) -> str:
        """The OAuth access token, from the shared cache or freshly fetched."""
        if not force_refresh and (token := self._cached_token()):
            return token
        with _TOKEN_FETCH_LOCK:
            if force_refresh:
                cache.delete(self._token_key)
            elif token := self._cached_token():
                return token  # another thread fetched it while we waited
            return self._fetch_token_once()

    def _cached_token(self) -> str | None:
        entry = cache.get(self._token_key)
        if isinstance(entry, dict) and entry.get("refresh_at", 0) > time.time():
            return entry.get("access_token")
        return None

    def _forget_token(self, stale: str) -> None:
        # Only drop the token that was refused: a concurrent caller may already have
        # stored a fresh one, which must not be thrown away.
        entry = cache.get(self._token_key)
        if isinstance(entry, dict) and entry.get("access_token") == stale:
            cache.delete(self._token_key)

    def _fetch_token_once(self) -> str:
        """Fetch a token, letting one process in N do it while the others wait."""
        lock_key = f"{self._token_key}:lock"
        lock_ttl = int(self.timeout * 2) + 5  # long enough for one fetch, short if we crash
        for _ in range(int(lock_ttl / TOKEN_LOCK_POLL) + 1):
            if cache.add(lock_key, "1", timeout=lock_ttl):
                try:
                    return self._fetch_token()
                finally:
                    cache.delete(lock_key)
            self._sleep(TOKEN_LOCK_POLL)
            if token := self._cached_token():
                return token
            # No token and the lock is gone: the holder failed, the next add takes over.
        # The lock outlived its timeout (a cache that lost the expiry): fetch anyway.
        return self._fetch_token()

    def _fetch_token(self) -> str:
        body = self._request_json(
            "POST",
            "/v1/oauth/token",
            operation=OP_OAUTH_TOKEN,
            idempotent=True,
            auth=False,
            json_body={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
            },
            hint="Check PIPEDREAM_CLIENT_ID and PIPEDREAM_CLIENT_SECRET",
            quote_body=False,
        )
        token = body.get("access_token") if isinstance(body, dict) else None
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise _invalid(body, OP_OAUTH_TOKEN, "the field access_token is missing or empty")
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
            raise _invalid(body, OP_OAUTH_TOKEN, "the field expires_in is missing or not a number")
        # Short-lived tokens (tests, emulators) are refreshed at half their life instead.
        if expires_in > 2 * TOKEN_REFRESH_MARGIN:
            lifetime = expires_in - TOKEN_REFRESH_MARGIN
        else:
            lifetime = expires_in / 2
        entry = {"access_token": token, "refresh_at": time.time() + lifetime}
        cache.set(self._token_key, entry, timeout=max(1, int(lifetime)))
        return token

    # --- Connect tokens ------------------------------------------------------------

    def create_connect_token(
        self,
        *,
        external_user_id: str,
        allowed_origins: list[str] | None = None,
        success_redirect_uri: str | None = None,
        error_redirect_uri: str | None = None,
        webhook_uri: str | None = None,
        expires_in: int | None = None,
        scope: str | None = None,
        allow_progressive_scopes: bool | None = None,
    ) -> ConnectToken:
        operation = "create a Connect token"
        payload = _compact(
            {
                "external_user_id": external_user_id,
                # The published description marks project_id required in the body too.
                "project_id": self.project_id,
                "allowed_origins": allowed_origins,
                "success_redirect_uri": success_redirect_uri,
                "error_redirect_uri": error_redirect_uri,
                "webhook_uri": webhook_uri,
                "expires_in": expires_in,
                "scope": scope,
                "allow_progressive_scopes": allow_progressive_scopes,
            }
        )
        body = self._request_json(
            "POST", self._project_path("tokens"), operation=operation, json_body=payload
        )
        fields = ("token", "expires_at", "connect_link_url")
        _require(body, fields, operation)
        if not all(isinstance(body[name], str) and body[name] for name in fields):
            raise _invalid(body, operation, "token, expires_at and connect_link_url must be text")
        return ConnectToken(
            token=body["token"],
            expires_at=_parse_datetime(body["expires_at"], body, operation),
            connect_link_url=body["connect_link_url"],
        )

    def validate_connect_token(
        self,
        token: str,
        *,
        app: str,
        account_id: str | None = None,
        oauth_app_id: str | None = None,
    ) -> dict:
        """Ask Pipedream whether a Connect token is usable for `app`.

        Returns the ValidateTokenResponse (`success`, `error`, `app`, ...); a token that
        is invalid or expired is `success: false`, not an exception. Whether Pipedream
        reports that with 200 or a 4xx is unconfirmed, so both are accepted.
        """
        operation = f"validate a Connect token for {app}"
        response = self._call(
            "GET",
            self.api_url + f"/v1/connect/tokens/{_segment(token)}/validate",
            operation=operation,
            idempotent=True,
            auth=False,
            params=_compact(
                {"app_id": app, "account_id": account_id, "oauth_app_id": oauth_app_id}
            ),
            raise_for_status=False,
        )
        status = response.status_code
        if status < 400:
            body = _parse_json(response, operation)
            _require(body, ("success",), operation)
            return body
        if 400 <= status < 500 and status != 429:
            body = http_support.body_or_text(response)
            if isinstance(body, dict) and body.get("success") is False:
                return body
        raise _error_from_response(response, operation)

    # --- Accounts and users --------------------------------------------------------

    def iter_accounts(
        self,
        *,
        external_user_id: str | None = None,
        app: str | None = None,
        oauth_app_id: str | None = None,
        include_credentials: bool = False,
        limit: int | None = None,
    ) -> Iterator[dict]:
        """Every account matching the filters, across all pages.

        `app` is a slug or `app_...` id (Pipedream's query parameter is `app`, not
        `app_id`); `limit` is the page size asked of Pipedream, not a cap on the total.
        """
        params = _compact(
            {
                "external_user_id": external_user_id,
                "app": app,
                "oauth_app_id": oauth_app_id,
                "include_credentials": "true" if include_credentials else None,
                "limit": limit,
            }
        )
        return self._paginate(self._project_path("accounts"), params, "list accounts")

    def list_accounts(self, **filters: Any) -> list[dict]:
        return list(self.iter_accounts(**filters))

    def get_account(self, account_id: str, *, include_credentials: bool = False) -> dict:
        operation = f"get account {account_id}"
        body = self._request_json(
            "GET",
            self._project_path("accounts", account_id),
            operation=operation,
            idempotent=True,
            params={"include_credentials": "true"} if include_credentials else None,
        )
        # Older API versions wrapped the account in {"data": {...}}; today it is bare.
        if isinstance(body, dict) and "id" not in body and isinstance(body.get("data"), dict):
            body = body["data"]
        _require(body, ("id",), operation)
        return body

    def delete_account(self, account_id: str) -> None:
        """Delete one connected account. A 404 raises NotFound: the caller decides."""
        self._call(
            "DELETE",
            self.api_url + self._project_path("accounts", account_id),
            operation=f"delete account {account_id}",
            idempotent=True,
        )

    def delete_external_user(self, external_user_id: str) -> None:
        """Delete an external user and every account and resource Pipedream holds for them."""
        self._call(
            "DELETE",
            self.api_url + self._project_path("users", external_user_id),
            operation=f"delete external user {external_user_id}",
            idempotent=True,
        )

    # --- Apps ----------------------------------------------------------------------

    def iter_apps(
        self,
        *,
        q: str | None = None,
        limit: int | None = None,
        sort_key: str | None = None,
        sort_direction: str | None = None,
        has_actions: bool | None = None,
        has_triggers: bool | None = None,
    ) -> Iterator[dict]:
        """Every app matching the filters, across all pages (`limit` is the page size)."""
        params = _compact(
            {
                "q": q,
                "limit": limit,
                "sort_key": sort_key,
                "sort_direction": sort_direction,
                "has_actions": _flag(has_actions),
                "has_triggers": _flag(has_triggers),
            }
        )
        return self._paginate("/v1/connect/apps", params, "list apps")

    def list_apps(self, **filters: Any) -> list[dict]:
        return list(self.iter_apps(**filters))

    def get_app(self, app_id: str) -> dict:
        operation = f"get app {app_id}"
        body = self._request_json(
            "GET", f"/v1/connect/apps/{_segment(app_id)}", operation=operation, idempotent=True
        )
        # The app comes wrapped in {"data": App}, unlike an account.
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            body = body["data"]
        _require(body, ("name_slug",), operation)
        return body

    # --- Actions and workflows -----------------------------------------------------

    def run_action(
        self,
        *,
        action_id: str,
        external_user_id: str,
        configured_props: dict | None = None,
        version: str | None = None,
        dynamic_props_id: str | None = None,
        stash_id: str | bool | None = None,
    ) -> dict:
        """Run an action for a user; returns {"exports", "os", "ret", "stash_id"}."""
        operation = f"run action {action_id}"
        payload = _compact(
            {
                "id": action_id,
                "external_user_id": external_user_id,
                "configured_props": configured_props,
                "version": version,
                "dynamic_props_id": dynamic_props_id,
                "stash_id": stash_id,
            }
        )
        body = self._request_json(
            "POST", self._project_path("actions", "run"), operation=operation, json_body=payload
        )
        if not isinstance(body, dict):
            raise _invalid(body, operation, "expected a JSON object")
        for key, default in (("exports", {}), ("os", []), ("ret", None), ("stash_id", None)):
            body.setdefault(key, default)
        return body

    def invoke_workflow(
        self, url: str, *, external_user_id: str, body: Any = None, method: str = "POST"
    ) -> Any:
        """Call a workflow's HTTP trigger as `external_user_id`; returns JSON or text.

        `url` is the trigger's absolute URL (or a bare endpoint id such as `en123abc`).
        A POST is never retried after it may have reached the workflow.
        """
        if _ENDPOINT_ID.match(url):
            url = f"https://{url}.m.pipedream.net"
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"A workflow URL must be absolute http(s), not {url!r}")
        method = method.upper()
        response = self._call(
            method,
            url,
            operation="invoke a workflow",
            idempotent=method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS"),
            json_body=body,
            extra_headers={"X-PD-External-User-ID": external_user_id},
        )
        if not response.content:
            return None
        if "json" in response.headers.get("Content-Type", ""):
            return _parse_json(response, "invoke a workflow")
        return response.text

    # --- Deployed triggers ---------------------------------------------------------

    def deploy_trigger(
        self,
        *,
        trigger_id: str,
        external_user_id: str,
        configured_props: dict | None = None,
        webhook_url: str | None = None,
        workflow_id: str | None = None,
        dynamic_props_id: str | None = None,
        emit_on_deploy: bool | None = None,
    ) -> dict:
        """Deploy trigger component `trigger_id` for a user; returns the deployed trigger.

        The answer (DeployedComponent) may hold `webhook_signing_key` (when
        `webhook_url` is given): it is kept in the returned dict for the caller to store,
        and is a secret: it is never logged and is redacted from exceptions. Never
        retried once it may have reached Pipedream: a second deploy is a second trigger.
        """
        operation = f"deploy trigger {trigger_id}"
        payload = _compact(
            {
                "id": trigger_id,
                "external_user_id": external_user_id,
                "configured_props": configured_props,
                "webhook_url": webhook_url,
                "workflow_id": workflow_id,
                "dynamic_props_id": dynamic_props_id,
                "emit_on_deploy": emit_on_deploy,
            }
        )
        body = self._request_json(
            "POST",
            self._project_path("triggers", "deploy"),
            operation=operation,
            idempotent=False,
            json_body=payload,
            quote_body=False,  # a truncated answer could still hold the signing key
        )
        return _emitter(body, operation)

    def iter_deployed_triggers(
        self, *, external_user_id: str, limit: int | None = None
    ) -> Iterator[dict]:
        """Every trigger deployed for a user, across all pages (`limit` is the page size)."""
        params = _compact({"external_user_id": external_user_id, "limit": limit})
        return self._paginate(
            self._project_path("deployed-triggers"), params, "list deployed triggers"
        )

    def list_deployed_triggers(
        self, *, external_user_id: str, limit: int | None = None
    ) -> list[dict]:
        return list(self.iter_deployed_triggers(external_user_id=external_user_id, limit=limit))

    def get_deployed_trigger(self, trigger_id: str, *, external_user_id: str) -> dict:
        operation = f"get deployed trigger {trigger_id}"
        body = self._request_json(
            "GET",
            self._project_path("deployed-triggers", trigger_id),
            operation=operation,
            idempotent=True,
            params={"external_user_id": external_user_id},
            quote_body=False,
        )
        return _emitter(body, operation)

    def update_deployed_trigger(
        self,
        trigger_id: str,
        *,
        external_user_id: str,
        active: bool | None = None,
        configured_props: dict | None = None,
        name: str | None = None,
        emit_on_deploy: bool | None = None,
    ) -> dict:
        """Change a deployed trigger (only the fields given); returns it as it now is.

        A PUT of absolute values, so sending it twice is harmless: retried like a read.
        """
        operation = f"update deployed trigger {trigger_id}"
        payload = _compact(
            {
                "active": active,
                "configured_props": configured_props,
                "name": name,
                "emit_on_deploy": emit_on_deploy,
            }
        )
        body = self._request_json(
            "PUT",
            self._project_path("deployed-triggers", trigger_id),
            operation=operation,
            idempotent=True,
            params={"external_user_id": external_user_id},
            json_body=payload,
            quote_body=False,
        )
        return _emitter(body, operation)

    def pause_deployed_trigger(self, trigger_id: str, *, external_user_id: str) -> dict:
        return self.update_deployed_trigger(
            trigger_id, external_user_id=external_user_id, active=False
        )

    def resume_deployed_trigger(self, trigger_id: str, *, external_user_id: str) -> dict:
        return self.update_deployed_trigger(
            trigger_id, external_user_id=external_user_id, active=True
        )

    def delete_deployed_trigger(
        self, trigger_id: str, *, external_user_id: str, ignore_hook_errors: bool | None = None
    ) -> None:
        """Delete a deployed trigger. A 404 raises NotFound: the caller decides.

        Retried like any DELETE, so a retry after a lost answer may meet that 404.
        """
        self._call(
            "DELETE",
            self.api_url + self._project_path("deployed-triggers", trigger_id),
            operation=f"delete deployed trigger {trigger_id}",
            idempotent=True,
            params=_compact(
                {
                    "external_user_id": external_user_id,
                    "ignore_hook_errors": _flag(ignore_hook_errors),
                }
            ),
        )

    def list_trigger_events(
        self, trigger_id: str, *, external_user_id: str, n: int | None = None
    ) -> list[dict]:
        """The trigger's most recent events (Pipedream's default is 20)."""
        operation = f"list the events of deployed trigger {trigger_id}"
        body = self._request_json(
            "GET",
            self._project_path("deployed-triggers", trigger_id, "events"),
            operation=operation,
            idempotent=True,
            params=_compact({"external_user_id": external_user_id, "n": n}),
            quote_body=False,  # events are the member's data
        )
        events = body.get("data") if isinstance(body, dict) else None
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise _invalid(body, operation, "expected an object with a list of objects `data`")
        return events

    def list_trigger_webhooks(self, trigger_id: str, *, external_user_id: str) -> list[str]:
        operation = f"list the webhooks of deployed trigger {trigger_id}"
        body = self._request_json(
            "GET",
            self._project_path("deployed-triggers", trigger_id, "webhooks"),
            operation=operation,
            idempotent=True,
            params={"external_user_id": external_user_id},
            quote_body=False,  # the `webhooks` objects may hold signing keys
        )
        return _webhook_urls(body, operation)

    def update_trigger_webhooks(
        self, trigger_id: str, *, external_user_id: str, webhook_urls: list[str]
    ) -> list[str]:
        """Replace the URLs the trigger sends its events to; returns the URLs now set."""
        if isinstance(webhook_urls, str) or not all(isinstance(u, str) for u in webhook_urls):
            raise ValueError("webhook_urls must be a list of URLs")
        operation = f"update the webhooks of deployed trigger {trigger_id}"
        body = self._request_json(
            "PUT",
            self._project_path("deployed-triggers", trigger_id, "webhooks"),
            operation=operation,
            idempotent=True,
            params={"external_user_id": external_user_id},
            json_body={"webhook_urls": list(webhook_urls)},
            quote_body=False,
        )
        return _webhook_urls(body, operation)

    # --- Connect proxy -------------------------------------------------------------

    def proxy(
        self,
        method: str,
        url: str,
        *,
        external_user_id: str,
        account_id: str,
        params: dict | None = None,
        headers: dict | None = None,
        json_body: Any = None,
    ) -> ProxyResponse:
        """Call an upstream API through Pipedream with the member's connected account.

        `url` is the absolute https URL of the upstream endpoint (http only for
        127.0.0.1 and localhost, the sandbox); `params` are added to its query string,
        which travels inside the base64 path segment. `headers` go upstream (sent to
        Pipedream as `x-pd-proxy-<name>`). GET, PUT and DELETE are retried where safe;
        POST and PATCH never once they may have been sent.

        How errors are reported. Pipedream relays the upstream's status and body ("the
        proxy returns the response from the upstream API back to you", Pipedream's proxy
        docs), and its own refusals come through the same route: 400
        `{"error": {"account": ["account and user mismatch"]}}` (pipedream#18638), 400
        `{"error": "App record not found"}` (pipedream#20400), 401 for our OAuth token,
        429 `{"error": "Throttled"}`. The SDK (pipedream-sdk-python proxy/raw_client.py)
        does not tell them apart: every non-2xx is one ApiError. We do, by the body:
        - an answer >= 400 whose body is Pipedream's ErrorResponse (a JSON object whose
          keys are `error`, with `code` and `details` optional, and nothing else) is
          Pipedream refusing the call: it raises the usual PipedreamError subclass
          (BadRequest, Unauthorized, NotFound, RateLimited, Unavailable...);
        - any other answer, whatever its status, is the upstream's: it is returned as a
          ProxyResponse (see `.ok`), for the caller to act on.
        No header or status marks the difference, so an upstream API that answers in the
        very same `{"error": ...}` shape is reported as a refusal: the safe side, since
        the call failed either way. An upstream 401 also makes the client fetch a new
        OAuth token and send the call once more, as for Pipedream's own 401 (a 401 means
        nothing was done). Transport failures raise Unavailable as everywhere else.

        Logs keep the method, upstream host and path: never the query string, headers
        or bodies, which belong to the member.
        """
        method = method.upper() if isinstance(method, str) else method
        if method not in _PROXY_METHODS:
            raise ValueError(f"The proxy sends {', '.join(_PROXY_METHODS)}, not {method!r}")
        target = _proxy_target(url, params)
        upstream = urlsplit(target)
        shown = _redact(f"{upstream.netloc}{upstream.path or '/'}")
        operation = f"proxy {method} {shown}"
        url_64 = base64.urlsafe_b64encode(target.encode()).decode("ascii")  # keeps `=`
        path = f"{self._project_path('proxy')}/{url_64}"
        log_as = f"{_loggable(self.api_url + self._project_path('proxy'))} [{shown}]"
        response = self._call(
            method,
            self.api_url + path,
            operation=operation,
            idempotent=method in ("GET", "PUT", "DELETE"),
            params={"external_user_id": external_user_id, "account_id": account_id},
            json_body=json_body,
            extra_headers=_proxy_headers(headers),
            raise_for_status=False,
            log_as=log_as,
        )
        if response.status_code >= 400 and _is_pipedream_error(response):
            raise _error_from_response(response, operation, secrets=(self._client_secret,))
        return ProxyResponse(
            status=response.status_code,
            headers=dict(response.headers),
            body=_proxy_body(response, operation),
        )

    # --- HTTP ----------------------------------------------------------------------

    def _project_path(self, *segments: str) -> str:
        return "/v1/connect/" + "/".join(_segment(s) for s in (self.project_id, *segments))

    def _paginate(self, path: str, params: dict, operation: str) -> Iterator[dict]:
        seen: set[str] = set()
        after: str | None = None
        while True:
            page_params = {**params, "after": after} if after else params
            body = self._request_json(
                "GET", path, operation=operation, idempotent=True, params=page_params
            )
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise _invalid(body, operation, "expected an object with a list `data`")
            yield from body["data"]
            page_info = body.get("page_info")
            after = page_info.get("end_cursor") if isinstance(page_info, dict) else None
            if not after or not body["data"]:
                return
            if after in seen:
                raise _invalid(None, operation, f"the page cursor {after!r} came back twice")
            seen.add(after)

    def _request_json(
        self, method: str, path: str, *, operation: str, quote_body: bool = True, **kwargs: Any
    ) -> Any:
        response = self._call(method, self.api_url + path, operation=operation, **kwargs)
        return _parse_json(response, operation, quote_body=quote_body)

    def _call(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        idempotent: bool = False,
        auth: bool = True,
        params: dict | None = None,
        json_body: Any = None,
        extra_headers: dict[str, str] | None = None,
        raise_for_status: bool = True,
        hint: str | None = None,
        log_as: str | None = None,
    ) -> requests.Response:
        headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "x-pd-environment": self.environment,
            **(extra_headers or {}),
        }
        send = dict(
            operation=operation,
            idempotent=idempotent,
            params=params,
            json_body=json_body,
            log_as=log_as,
        )
        token = ""
        if not auth:
            response = self._send(method, url, headers=headers, **send)
        else:
            token = self.access_token()
            response = self._send(method, url, headers=_bearer(headers, token), **send)
            if response.status_code == 401:
                # The cached token may have been revoked or outlived its stated life:
                # fetch a new one once. A 401 means nothing was processed, so even a
                # POST can be sent again.
                logger.info("Pipedream refused the OAuth token; fetching a new one")
                self._forget_token(token)
                token = self.access_token()
                response = self._send(method, url, headers=_bearer(headers, token), **send)
        if raise_for_status and response.status_code >= 400:
            # Secrets Pipedream might echo back must not reach a message or a log.
            secrets = (self._client_secret, token)
            raise _logged(_error_from_response(response, operation, hint=hint, secrets=secrets))
        return response

    def _send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        idempotent: bool,
        headers: dict[str, str],
        params: dict | None,
        json_body: Any,
        log_as: str | None = None,
    ) -> requests.Response:
        """Send one request, retrying where it is safe; return the last response.

        `log_as` replaces the URL in log lines where the URL itself must not be logged
        (the proxy's path carries the whole upstream URL, query string included).
        """
        try:
            return http_support.send_with_retries(
                self._session,
                method,
                url,
                service="Pipedream",
                where=log_as or _loggable(url),
                logger=logger,
                timeout=self.timeout,
                max_retries=self.max_retries,
                idempotent=idempotent,
                sleep=self._sleep,
                max_retry_after=MAX_RETRY_AFTER,
                backoff_base=BACKOFF_BASE,
                backoff_cap=BACKOFF_CAP,
                params=params,
                json=json_body,
                headers=headers,
            )
        except http_support.TransportFailure as failure:
            raise _logged(
                self._transport_error(failure.exc, url, operation, failure.attempts)
            ) from failure.exc

    @staticmethod
    def _backoff(attempt: int) -> float:
        return http_support.backoff(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP)

    def _transport_error(
        self, exc: requests.RequestException, url: str, operation: str, attempts: int
    ) -> Unavailable:
        host = urlsplit(url).netloc
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        if isinstance(exc, requests.ConnectTimeout):
            headline = f"Could not connect to Pipedream at {host} within {self.timeout:g} s"
        elif isinstance(exc, requests.Timeout):
            headline = f"Pipedream at {host} did not answer within {self.timeout:g} s"
        elif isinstance(exc, requests.ConnectionError):
            headline = f"Could not reach Pipedream at {host}"
        else:
            headline = f"The request to Pipedream at {host} failed ({type(exc).__name__})"
        return Unavailable(
            _redact(f"{type(exc).__name__}{tries}"), operation=operation, headline=headline
        )


# --- Module-level helpers --------------------------------------------------------------


# One pooled session per process: connections to Pipedream are kept alive.
_pool = http_support.SessionPool()
_shared_session = _pool.get
close_shared_session = _pool.close


def get_client() -> PipedreamClient:
    """The client for the current settings; cheap enough to call once per request."""
    return PipedreamClient.from_settings()


def connect_link_url(
    connect_link_url: str,
    *,
    app: str,
    oauth_app_id: str | None = None,
    account_id: str | None = None,
) -> str:
    """The Connect Link URL for `app` (Pipedream's page fails without `app`).

    `account_id` reconnects that account in place; `oauth_app_id` picks your own
    OAuth client for the app.
    """
    parts = urlsplit(connect_link_url)
    extra = _compact({"app": app, "oauthAppId": oauth_app_id, "accountId": account_id})
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    query += list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _bearer(headers: dict[str, str], token: str) -> dict[str, str]:
    return {**headers, "Authorization": f"Bearer {token}"}


def _redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    return _CTOK.sub("ctok_[redacted]", http_support.redact(text, secrets))


def _loggable(url: str) -> str:
    parts = urlsplit(url)
    return _redact(f"{parts.netloc}{parts.path}")


def _scrub(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """A copy of a body fit to keep on an exception: secrets replaced."""
    return http_support.scrub(
        value, secret_keys=_SECRET_KEYS, redact_text=lambda text: _redact(text, secrets)
    )


def _status_text(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _parse_json(response: requests.Response, operation: str, *, quote_body: bool = True) -> Any:
    """The JSON body; InvalidResponse if there is none.

    `quote_body=False` where the body may hold a secret we cannot recognise (the
    OAuth token in a body that is not JSON).
    """
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("Content-Type") or "no Content-Type"
        text = response.text
        if not text:
            shown, body = "an empty body", None
        elif quote_body:
            shown, body = repr(_redact(text[:80])), _redact(text[:2000])
        else:
            shown, body = f"{len(text)} characters (not shown)", None
        raise _logged(
            InvalidResponse(
                f"expected JSON, got {kind} with {shown}",
                operation=operation,
                status=response.status_code,
                body=body,
            )
        ) from None


def _require(body: Any, fields: tuple[str, ...], operation: str) -> None:
    if not isinstance(body, dict):
        raise _invalid(body, operation, "expected a JSON object")
    missing = [name for name in fields if body.get(name) is None]
    if missing:
        raise _invalid(body, operation, f"the field(s) {', '.join(missing)} are missing")


def _invalid(body: Any, operation: str, message: str) -> InvalidResponse:
    return _logged(InvalidResponse(message, operation=operation, body=_scrub(body)))


def _logged(exc: PipedreamError) -> PipedreamError:
    return http_support.log_upstream_error(logger, "Pipedream", exc)


def _parse_datetime(value: Any, body: Any, operation: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise _invalid(body, operation, f"{value!r} is not an ISO-8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _error_message(body: Any) -> tuple[str, str | None]:
    """Pipedream's own message and code from an error body, whatever its shape."""
    if isinstance(body, dict):
        error, description = body.get("error"), body.get("error_description")
        code = body.get("code")
        if isinstance(description, str) and description:
            # OAuth style: {"error": "invalid_client", "error_description": "..."}.
            return description, code or (error if isinstance(error, str) else None)
        if error is None:
            error = body.get("message")
        return _flatten(error) if error is not None else "", code
    if isinstance(body, str):
        text = " ".join(body.split())
        if text.lower().startswith(("<!doctype", "<html")):
            return "(an HTML page)", None
        return text[:300], None
    return "", None


def _flatten(value: Any) -> str:
    # {"account": ["account and user mismatch"]} -> "account: account and user mismatch"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_flatten(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "; ".join(_flatten(item) for item in value)
    return str(value)


def _error_from_response(
    response: requests.Response,
    operation: str,
    *,
    hint: str | None = None,
    secrets: tuple[str, ...] = (),
) -> PipedreamError:
    status = response.status_code
    body = http_support.body_or_text(response)
    message, code = _error_message(body)
    cls = _ERROR_FOR_STATUS.get(status) or (Unavailable if status >= 500 else PipedreamError)
    kwargs: dict[str, Any] = dict(
        operation=operation,
        status=status,
        code=code if isinstance(code, str) else None,
        body=_scrub(body, secrets),
    )
    if cls is RateLimited:
        kwargs["retry_after"] = http_support.retry_after(response)
    elif cls is Unauthorized:
        kwargs["hint"] = hint
    return cls(_redact(message, secrets), **kwargs)


# --- Deployed triggers and the proxy: helpers --------------------------------------------

_PROXY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PROXY_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
_PROXY_PREFIX = "x-pd-proxy-"
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_ERROR_RESPONSE_KEYS = frozenset({"error", "code", "details"})


def _emitter(body: Any, operation: str) -> dict:
    """The deployed trigger in a `{"data": Emitter}` answer."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise _invalid(body, operation, "expected an object with an object `data`")
    if not isinstance(data.get("id"), str) or not data["id"]:
        raise _invalid(body, operation, "the field data.id is missing or not text")
    return data


def _webhook_urls(body: Any, operation: str) -> list[str]:
    """`webhook_urls` of a GetTriggerWebhooksResponse (bare, not wrapped in `data`)."""
    urls = body.get("webhook_urls") if isinstance(body, dict) else None
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise _invalid(body, operation, "expected an object with a list of URLs `webhook_urls`")
    return urls


def _proxy_target(url: Any, params: dict | None) -> str:
    """The upstream URL, checked, with `params` added to its query string."""
    if not isinstance(url, str) or not url or any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("The proxy needs an absolute https URL without spaces")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        pass
    elif parts.scheme == "http" and host in _PROXY_LOCAL_HOSTS:
        pass  # the sandbox
    else:
        raise ValueError(
            f"The proxy calls absolute https URLs only (http for {', '.join(sorted(_PROXY_LOCAL_HOSTS))}),"
            f" not {parts.scheme or 'a relative'} URL"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError("The proxy refuses a URL with credentials in it")
    parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    query = parts.query
    if params:
        extra = urlencode(
            [
                (key, _flag(value) if isinstance(value, bool) else value)
                for key, value in params.items()
                if value is not None
            ],
            doseq=True,
            quote_via=quote,
        )
        query = f"{query}&{extra}" if query and extra else (query or extra)
    # The fragment never leaves a client: drop it.
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _proxy_headers(headers: dict | None) -> dict[str, str]:
    """Headers for the upstream, named as Pipedream forwards them (`x-pd-proxy-<name>`)."""
    prefixed: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a header name")
        if name.lower().startswith(_PROXY_PREFIX):
            raise ValueError(f"Give the upstream header name; {_PROXY_PREFIX} is added here")
        text = str(value)
        if "\r" in text or "\n" in text:
            raise ValueError(f"The value of header {name!r} has a line break")
        prefixed[f"{_PROXY_PREFIX}{name}"] = text
    return prefixed


def _is_pipedream_error(response: requests.Response) -> bool:
    """True when an error answer is Pipedream's own ErrorResponse, not the upstream's."""
    try:
        body = response.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and "error" in body
        and isinstance(body["error"], str | dict | list)
        and set(body) <= _ERROR_RESPONSE_KEYS
    )


def _proxy_body(response: requests.Response, operation: str) -> Any:
    """The upstream's body: JSON when it says so, else text. Never quoted in errors."""
    if not response.content:
        return None
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return response.json()
        except ValueError:
            raise _logged(
                InvalidResponse(
                    f"the upstream said {kind} but sent {len(response.content)} bytes that"
                    " are not JSON (not shown)",
                    operation=operation,
                    status=response.status_code,
                )
            ) from None
    return response.text

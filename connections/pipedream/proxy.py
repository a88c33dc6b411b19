"""Pipedream's Connect proxy: a call to an upstream API with a member's connected account."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

import requests

from connections.pipedream.client import PipedreamBase, flag
from connections.pipedream.errors import InvalidResponse, Unavailable

# Pipedream's own limit on a proxied call (docs: pipedream.com/docs/connect/api-proxy,
# "Limits"): past it Pipedream stops the call and answers 504.
PIPEDREAM_PROXY_LIMIT_SECONDS = 30
# The longest upstream URL (query string included) the client sends: far above any
# real API path, well below what servers accept once base64 has made it a third longer.
MAX_PROXY_URL = 4096


class ProxyTimeout(Unavailable):
    """The upstream API took longer than the proxy allows: Pipedream's 504, or no
    answer within our own wait. Never retried by the client: each try counts against
    the project's proxy rate limit."""

    summary = "The upstream API did not answer through Pipedream's proxy in time"


def base_url_depends_on_account(app_connect: Mapping[str, Any] | None) -> bool:
    """Whether an app's `connect` object (Pipedream's app API) says its base URL comes
    from the connected account: `base_proxy_target_url` holds a `{{...}}` placeholder,
    as GitLab's `https://{{custom_fields.base_api_url}}` does. Such an app is called
    with a relative path."""
    base = (app_connect or {}).get("base_proxy_target_url")
    return isinstance(base, str) and "{{" in base and "}}" in base


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


class Proxy(PipedreamBase):
    def proxy(
        self,
        method: str,
        url: str,
        *,
        external_user_id: str,
        account_id: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        json_body: Any = None,
        app_connect: Mapping[str, Any] | None = None,
    ) -> ProxyResponse:
        """Call an upstream API through Pipedream with the member's connected account.

        `url` is the absolute https URL of the upstream endpoint (http only for
        127.0.0.1 and localhost, the sandbox), or a path starting with `/` for an app
        whose base URL depends on the account (see `base_url_depends_on_account`);
        `app_connect` is the app's `connect` object from Pipedream's app API
        (`allowed_domains`, `base_proxy_target_url`): with it, an absolute URL must be
        on one of the allowed domains, and a relative one is accepted only when the base
        URL has a placeholder. `params` are added to the query string, which travels
        inside the base64 path segment. `headers` go upstream (sent to Pipedream as
        `x-pd-proxy-<name>`).

        Pipedream lets the upstream take up to 30 s, then answers 504; the client waits
        `proxy_timeout` (PIPEDREAM_PROXY_TIMEOUT, 35 s). A call that timed out or got a
        504 raises ProxyTimeout and is never sent again, whatever its method: each try
        counts against the project's proxy rate limit (Pipedream's docs: 429 past it).
        Only a call that never left (no connection) and a 429 are tried again.

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
        target = _proxy_target(url, params, app_connect)
        upstream = urlsplit(target)
        shown = self.redact(f"{upstream.netloc}{upstream.path or '/'}")
        operation = f"proxy {method} {shown}"
        changes = method not in ("GET", "PUT", "DELETE")
        url_64 = base64.urlsafe_b64encode(target.encode()).decode("ascii")  # keeps `=`
        path = f"{self._project_path('proxy')}/{url_64}"
        log_as = f"{self.loggable(self.api_url + self._project_path('proxy'))} [{shown}]"
        try:
            response = self._call(
                method,
                self.api_url + path,
                operation=operation,
                # Never retried once it may have been sent: see above.
                idempotent=False,
                mutating=changes,
                params={"external_user_id": external_user_id, "account_id": account_id},
                json_body=json_body,
                extra_headers=_proxy_headers(headers),
                raise_for_status=False,
                log_as=log_as,
                read_timeout=self.proxy_timeout,
            )
        except Unavailable as exc:
            if isinstance(exc.__cause__, requests.ReadTimeout):
                raise self.logged(
                    ProxyTimeout(
                        f"no answer within {self.proxy_timeout:g} s (Pipedream allows"
                        f" {PIPEDREAM_PROXY_LIMIT_SECONDS} s); not sent again",
                        operation=operation,
                        outcome_unknown=changes,
                    )
                ) from exc
            raise
        if response.status_code == 504:
            # Pipedream's answer when the upstream took longer than its limit; its body
            # is not documented, so the status alone decides.
            raise self.logged(
                ProxyTimeout(
                    f"Pipedream stopped the call after its {PIPEDREAM_PROXY_LIMIT_SECONDS} s"
                    " limit (504); not sent again",
                    operation=operation,
                    status=504,
                    outcome_unknown=changes,
                )
            )
        if response.status_code >= 400 and _is_pipedream_error(response):
            raise self.error_from_response(response, operation, mutating=changes)
        return ProxyResponse(
            status=response.status_code,
            headers=dict(response.headers),
            body=self._proxy_body(response, operation),
        )

    def proxy_get(
        self,
        url: str,
        *,
        external_user_id: str,
        account_id: str,
        app_connect: Mapping[str, Any] | None = None,
    ) -> ProxyResponse:
        """A read through the proxy: GET, no body, no headers of the caller's. What a
        claim's criterion uses, so no claim can make the proxy write with a member's
        account, whatever its settings say."""
        return self.proxy(
            "GET",
            url,
            external_user_id=external_user_id,
            account_id=account_id,
            app_connect=app_connect,
        )

    def _proxy_body(self, response: requests.Response, operation: str) -> Any:
        """The upstream's body: JSON when it says so, else text. Never quoted in errors."""
        if not response.content:
            return None
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind == "application/json" or kind.endswith("+json"):
            try:
                return response.json()
            except ValueError:
                raise self.logged(
                    InvalidResponse(
                        f"the upstream said {kind} but sent {len(response.content)} bytes that"
                        " are not JSON (not shown)",
                        operation=operation,
                        status=response.status_code,
                    )
                ) from None
        return response.text


_PROXY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PROXY_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
_PROXY_PREFIX = "x-pd-proxy-"
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_ERROR_RESPONSE_KEYS = frozenset({"error", "code", "details"})


def _proxy_target(
    url: Any, params: dict[str, Any] | None, app_connect: Mapping[str, Any] | None = None
) -> str:
    """The upstream URL, checked, with `params` added to its query string."""
    if not isinstance(url, str) or not url or any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("The proxy needs an absolute https URL without spaces")
    if len(url) > MAX_PROXY_URL:
        raise ValueError(
            f"The proxy URL is {len(url)} characters long; the limit is {MAX_PROXY_URL}"
        )
    if "\\" in url:
        raise ValueError("The proxy refuses a URL with a backslash in it")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if url.startswith("//"):
        raise ValueError("A proxy URL must not start with //: that names another host")
    relative = not parts.scheme and not parts.netloc and url.startswith("/")
    if relative:
        if not base_url_depends_on_account(app_connect):
            raise ValueError(
                "A relative proxy URL is only for an app whose base URL depends on the"
                " account (its base_proxy_target_url has a {{...}} placeholder); give the"
                " absolute https URL"
            )
    elif parts.scheme == "https" and host:
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
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        raise ValueError("The proxy refuses a path with . or .. segments")
    if not relative and app_connect is not None:
        _check_domain(host, app_connect)
    query = parts.query
    if params:
        extra = urlencode(
            [
                (key, flag(value) if isinstance(value, bool) else value)
                for key, value in params.items()
                if value is not None
            ],
            doseq=True,
            quote_via=quote,
        )
        query = f"{query}&{extra}" if query and extra else (query or extra)
    # The fragment never leaves a client: drop it.
    target = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    if len(target) > MAX_PROXY_URL:
        raise ValueError(
            f"The proxy URL with its parameters is {len(target)} characters long;"
            f" the limit is {MAX_PROXY_URL}"
        )
    return target


def allowed_domains(app_connect: Mapping[str, Any] | None) -> list[str] | None:
    """The app's `connect.allowed_domains`, lowercased; None when Pipedream did not say."""
    allowed = (app_connect or {}).get("allowed_domains")
    if not isinstance(allowed, list):
        return None
    return [d.lower() for d in allowed if isinstance(d, str) and d]


def on_allowed_domain(host: str, domains: list[str]) -> bool:
    """Whether `host` is one of `domains` or a subdomain of one."""
    host = host.lower()
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def _check_domain(host: str, app_connect: Mapping[str, Any]) -> None:
    """An absolute URL must be on one of the app's allowed domains (or a subdomain)."""
    domains = allowed_domains(app_connect)
    if domains is None:
        return  # Pipedream did not say: it decides
    if host in _PROXY_LOCAL_HOSTS or on_allowed_domain(host, domains):
        return
    if base_url_depends_on_account(app_connect):
        hint = "; this app's base URL depends on the account: give a path starting with /"
    else:
        hint = ""
    raise ValueError(
        f"The proxy does not call {host} for this app: its allowed domains are"
        f" {', '.join(domains) or 'none'}{hint}"
    )


def _proxy_headers(headers: dict[str, Any] | None) -> dict[str, str]:
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

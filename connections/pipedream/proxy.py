"""Pipedream's Connect proxy: a call to an upstream API with a member's connected account."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import requests

from connections.pipedream.client import PipedreamBase, flag
from connections.pipedream.errors import InvalidResponse


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
        shown = self.redact(f"{upstream.netloc}{upstream.path or '/'}")
        operation = f"proxy {method} {shown}"
        idempotent = method in ("GET", "PUT", "DELETE")
        url_64 = base64.urlsafe_b64encode(target.encode()).decode("ascii")  # keeps `=`
        path = f"{self._project_path('proxy')}/{url_64}"
        log_as = f"{self.loggable(self.api_url + self._project_path('proxy'))} [{shown}]"
        response = self._call(
            method,
            self.api_url + path,
            operation=operation,
            idempotent=idempotent,
            params={"external_user_id": external_user_id, "account_id": account_id},
            json_body=json_body,
            extra_headers=_proxy_headers(headers),
            raise_for_status=False,
            log_as=log_as,
        )
        if response.status_code >= 400 and _is_pipedream_error(response):
            raise self.error_from_response(response, operation, mutating=not idempotent)
        return ProxyResponse(
            status=response.status_code,
            headers=dict(response.headers),
            body=self._proxy_body(response, operation),
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


def _proxy_target(url: Any, params: dict[str, Any] | None) -> str:
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
                (key, flag(value) if isinstance(value, bool) else value)
                for key, value in params.items()
                if value is not None
            ],
            doseq=True,
            quote_via=quote,
        )
        query = f"{query}&{extra}" if query and extra else (query or extra)
    # The fragment never leaves a client: drop it.
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


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

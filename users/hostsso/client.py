"""Talking to the host site's OpenID Connect provider: its discovery document, its token
endpoint, its keys and its userinfo endpoint, each within HOST_OIDC_TIMEOUT, one try,
at most MAX_ANSWER_BYTES read.

Whatever goes wrong is a HostFailure with a `kind` (the member's sentence, wording.py)
and a detail for one log line. No code, secret or token is ever in a detail or a log
line: the host's own error text is cut to its RFC 6749 error code.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from urllib.parse import quote, urlsplit

import requests
from allauth.socialaccount.providers.oauth2.client import OAuth2Client, OAuth2Error
from django.http import HttpRequest
from django.utils.http import urlencode

from users.hostsso import config

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024
# A code is opaque, but never more than this nor other characters (RFC 6749 A.11: VSCHAR).
CODE_PATTERN = re.compile(r"[\x20-\x7e]{1,2048}")

# The kinds of failure, each with its sentence in wording.py.
UNAVAILABLE = "unavailable"  # no answer in time, a connection error, 429, 5xx
CONFIG = "config"  # the provider refused this site's client, or its settings do not match
CODE = "code"  # the provider said the code is invalid, used or expired (invalid_grant)
REJECTED = "rejected"  # any other refusal of the token request
ANSWER = "answer"  # an answer we cannot read (not JSON, too large, fields missing)
TOKEN = "token"  # the id_token (or userinfo) failed a check: signature, issuer, audience...

# RFC 6749 section 5.2's error codes; only these are ever logged.
_ERROR_CODES = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}


class HostFailure(OAuth2Error):
    """A call to the host's provider failed; `kind` says how. No secret in its text."""

    def __init__(self, kind: str, detail: str = "", status: int | None = None) -> None:
        self.kind = kind
        self.detail = detail[:200]
        self.status = status
        super().__init__(f"Host sign-on failed ({kind}, status {status}): {self.detail}")


def log_failure(failure: HostFailure) -> None:
    # This site's own settings refused: an operator must act, so it is an error.
    level = logging.ERROR if failure.kind == CONFIG else logging.WARNING
    log.log(
        level,
        "Host sign-on: %s (status %s): %s",
        failure.kind,
        failure.status,
        failure.detail,
    )


def _read(response: requests.Response, what: str) -> bytes:
    body = b""
    for chunk in response.iter_content(8192):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise HostFailure(ANSWER, f"{what}: the answer is too large", response.status_code)
    return body


def call(method: str, url: str, *, what: str, **kwargs) -> tuple[int, object, str]:
    """One request: (status, the JSON body or None, the content type). Raises HostFailure
    (UNAVAILABLE) when no answer came in time."""
    timeout = config.timeout()
    try:
        with requests.request(
            method, url, timeout=(timeout, timeout), stream=True, allow_redirects=False, **kwargs
        ) as response:
            status = response.status_code
            body = _read(response, what)
            content_type = response.headers.get("Content-Type", "")
    except requests.RequestException as exc:
        raise HostFailure(UNAVAILABLE, f"{what}: {type(exc).__name__}") from None
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    return status, data, content_type


def get_json(url: str, *, what: str, headers: dict | None = None) -> dict:
    """A GET that must answer 200 with a JSON object."""
    status, data, _type = call(
        "GET", url, what=what, headers={"Accept": "application/json", **(headers or {})}
    )
    if status == 429 or status >= 500:
        raise HostFailure(UNAVAILABLE, f"{what}: status {status}", status)
    if status != 200:
        raise HostFailure(ANSWER if status < 400 else REJECTED, f"{what}: status {status}", status)
    if not isinstance(data, dict):
        raise HostFailure(ANSWER, f"{what}: not a JSON object", status)
    return data


def _basic(client_id: str, secret: str) -> str:
    # RFC 6749 section 2.3.1: each part form-encoded before the Basic encoding.
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _token_error_kind(status: int, error: str) -> str:
    if status == 429 or status >= 500:
        return UNAVAILABLE
    if error == "invalid_grant":
        return CODE
    if error in ("invalid_client", "unauthorized_client"):
        return CONFIG
    return REJECTED


class HostClient(OAuth2Client):
    """allauth's OAuth2Client for the host's provider. The token endpoint and how the
    client authenticates come from the discovery document, read only when the code is
    exchanged (`endpoints` is a callable), so starting a sign-in needs no extra call."""

    def __init__(self, request: HttpRequest, client_id: str, secret: str, endpoints) -> None:
        super().__init__(request, client_id, secret, "POST", "", config.callback_url())
        self._endpoints = endpoints

    def get_redirect_url(self, authorization_url, scope, extra_params) -> str:
        # allauth's joins a set (the order changes from run to run): ours keeps it.
        params = {
            "response_type": "code",
            "client_id": self.consumer_key,
            "redirect_uri": self.callback_url,
            "scope": " ".join(scope),
        }
        if self.state:
            params["state"] = self.state
        params.update(extra_params)
        return f"{authorization_url}?{urlencode(params)}"

    def get_access_token(self, code, pkce_code_verifier=None, extra_data=None) -> dict:
        if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
            raise HostFailure(CODE, "the code is missing or malformed; not sent")
        token_url, basic = self._endpoints()
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.callback_url,
        }
        if pkce_code_verifier:
            data["code_verifier"] = pkce_code_verifier
        headers = {"Accept": "application/json"}
        if basic:
            headers["Authorization"] = _basic(self.consumer_key, self.consumer_secret)
        else:
            data.update(client_id=self.consumer_key, client_secret=self.consumer_secret)
        status, answer, _type = call("POST", token_url, what="token", data=data, headers=headers)
        if status != 200:
            error = answer.get("error") if isinstance(answer, dict) else None
            error = error if error in _ERROR_CODES else ""
            raise HostFailure(
                _token_error_kind(status, error), f"token: {error or 'refused'}", status
            )
        return read_token_answer(answer)


def read_token_answer(answer: object) -> dict:
    """What we keep of the token endpoint's 200: the access token (for userinfo, never
    stored) and the id_token (checked by tokens.py)."""
    if not isinstance(answer, dict):
        raise HostFailure(ANSWER, "token: not a JSON object", 200)
    access_token = answer.get("access_token")
    id_token = answer.get("id_token")
    token_type = answer.get("token_type")
    if not isinstance(access_token, str) or not 0 < len(access_token) <= 8192:
        raise HostFailure(ANSWER, "token: no access_token", 200)
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise HostFailure(ANSWER, "token: token_type is not Bearer", 200)
    if not isinstance(id_token, str) or not 0 < len(id_token) <= 16384:
        raise HostFailure(ANSWER, "token: no id_token (is the openid scope allowed?)", 200)
    return {"access_token": access_token, "id_token": id_token, "token_type": "Bearer"}


def endpoint(document: dict, key: str, *, issuer: str, required: bool = True) -> str:
    """An endpoint of the discovery document: an absolute https URL (http only when the
    issuer itself is http: the sandbox, a development host site)."""
    value = document.get(key)
    if value is None and not required:
        return ""
    allowed = {"https"} if urlsplit(issuer).scheme == "https" else {"https", "http"}
    if not isinstance(value, str) or len(value) > 2000:
        raise HostFailure(CONFIG, f"discovery: {key} is missing")
    parts = urlsplit(value)
    if parts.scheme not in allowed or not parts.netloc:
        raise HostFailure(
            CONFIG, f"discovery: {key} is not an absolute {'/'.join(sorted(allowed))} URL"
        )
    return value

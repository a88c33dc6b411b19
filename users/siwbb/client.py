"""The code exchange: one POST to BitBadges' token endpoint, within BITBADGES_TIMEOUT.

BitBadges answers 200 with `bitbadgesAddress` (the bb1 spelling), `address` (the chain's
spelling), `chain`, an `access_token` (we ask no scopes, so we keep none) and, when it
checked something, `verificationResponse` {success, errorMessage}. Its errors come as 4xx
or 500 with `errorMessage` (docs/fidelity.md and /work COMMON facts: "Invalid code.",
"Expired.", "Invalid client secret.", ...). Any non-200, a 200 without a valid bb1
address, or a verification that failed is a failure; `SiwbbFailure.kind` says which,
for the member's sentence (wording.py) and one log line.

Never sent again (a code is good once), never logged with the code, the secret or the
token in it: the log line has the kind, the status and BitBadges' own message with both
secrets cut out.
"""

from __future__ import annotations

import json
import logging
import re

import requests
from allauth.socialaccount.providers.oauth2.client import OAuth2Client, OAuth2Error
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.http import urlencode

from core.addresses import normalize_address, to_bitbadges_address
from users.siwbb.config import token_url

log = logging.getLogger(__name__)

# What BitBadges sends back as `code` is 32 bytes of hex; anything else is never sent on.
CODE_PATTERN = re.compile(r"[0-9A-Za-z._~-]{1,256}")
# A token answer is a few hundred bytes; more is not read.
MAX_ANSWER_BYTES = 64 * 1024
REDACTED = "[redacted]"

# The kinds of failure, each with its sentence in wording.py.
CODE = "code"  # BitBadges said the code is invalid, expired or too old (its own words)
CONFIG = "config"  # BitBadges refused the site's client id, secret, redirect URI or API key
UNAVAILABLE = "unavailable"  # no answer: a connection error, a timeout, 429, a bare 502-504
ANSWER = "answer"  # a 200 we cannot read, or without a valid bb1 address
REFUSED = "refused"  # BitBadges' verification failed (verificationResponse)
REJECTED = "rejected"  # any other refusal: BitBadges answered no, for a reason not sourced

# BitBadges' own messages, lower case, by kind (bitbadges-indexer src/routes/authCodes.ts:
# "Invalid client secret.", "Invalid client ID or redirect URI.", "Invalid redirect URI.",
# "Invalid code.", "Expired.", "Not recent enough. ..."; src/db/db.ts mustGetFromDB:
# "Could not find doc w/ id ... in auth-apps" for a client id it does not know, "... in
# auth-codes" for a code it does not have; the API key checked in front of every route).
# Only these choose a kind; any other text is a plain refusal.
_CONFIG_WORDS = ("client secret", "client id", "redirect uri", "api key", "in auth-apps")
_CODE_WORDS = ("invalid code", "expired", "not recent", "in auth-codes")
# No answer from BitBadges itself: a proxy's or balancer's status without BitBadges' body.
_NO_ANSWER = (502, 503, 504)


class SiwbbFailure(OAuth2Error):
    """The exchange failed; `kind` is one of the kinds above. No secret in its text."""

    def __init__(self, kind: str, detail: str = "", status: int | None = None) -> None:
        self.kind = kind
        self.detail = detail
        self.status = status
        super().__init__(f"Sign in with BitBadges failed ({kind}, status {status}): {detail}")


def _cut(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text[:200]


def _read(response: requests.Response) -> bytes:
    body = b""
    for chunk in response.iter_content(8192):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise SiwbbFailure(ANSWER, "the answer is too large", response.status_code)
    return body


def _error_kind(status: int, message: str, data: object) -> str:
    if isinstance(data, dict) and isinstance(data.get("verificationResponse"), dict):
        return REFUSED  # a failed verification (the indexer answers it with a 401)
    if status == 429 or (status in _NO_ANSWER and not message):
        return UNAVAILABLE
    text = message.lower()
    if any(words in text for words in _CONFIG_WORDS):
        return CONFIG
    if any(words in text for words in _CODE_WORDS):
        return CODE
    return REJECTED


def proven_address(answer: dict) -> str:
    """The address to store for an answer read by `exchange`: BitBadges' `address` in
    its canonical spelling when it is one we know (0x or bb1) and the same account as
    `bitbadgesAddress`, else that bb1 address."""
    bb1 = answer["bitbadgesAddress"]
    address = answer.get("address")
    if isinstance(address, str):
        try:
            if to_bitbadges_address(address) == bb1:
                return normalize_address(address)
        except ValidationError:
            pass
    return bb1


def read_answer(data: object) -> dict:
    """What we keep of a 200: the bb1 address (lower case), `address` and `chain` as
    given (short strings only). Raises SiwbbFailure."""
    if not isinstance(data, dict):
        raise SiwbbFailure(ANSWER, "the answer is not a JSON object", 200)
    # When BitBadges says what its verification found, only a plain `true` is a success
    # ("false" as a string, null, a missing `success` are not).
    verification = data.get("verificationResponse")
    if verification is not None and not (
        isinstance(verification, dict) and verification.get("success") is True
    ):
        message = verification.get("errorMessage") if isinstance(verification, dict) else None
        raise SiwbbFailure(REFUSED, message[:200] if isinstance(message, str) else "", 200)
    bb1 = data.get("bitbadgesAddress")
    if not isinstance(bb1, str) or not bb1.lower().startswith("bb1"):
        raise SiwbbFailure(ANSWER, "no bitbadgesAddress (bb1...) in the answer", 200)
    try:
        canonical = to_bitbadges_address(bb1)
    except ValidationError:
        raise SiwbbFailure(ANSWER, "bitbadgesAddress is not a valid bb1 address", 200) from None
    if canonical != bb1.lower():
        raise SiwbbFailure(ANSWER, "bitbadgesAddress is not a valid bb1 address", 200)
    answer = {"bitbadgesAddress": canonical}
    for key in ("address", "chain"):
        value = data.get(key)
        if isinstance(value, str) and 0 < len(value) <= 128:
            answer[key] = value
    if _names_another_account(answer):
        log.warning(
            "Sign in with BitBadges: the answer's address and bitbadgesAddress are different "
            "accounts; bitbadgesAddress is used"
        )
    return answer


def _names_another_account(answer: dict) -> bool:
    """`address` is a spelling we read (0x, bb1) of another account than bitbadgesAddress.
    (Another chain's spelling, e.g. Solana or Bitcoin, is not compared: bb1 is used.)"""
    address = answer.get("address")
    if not isinstance(address, str):
        return False
    try:
        return to_bitbadges_address(address) != answer["bitbadgesAddress"]
    except ValidationError:
        return False


class SiwbbClient(OAuth2Client):
    """allauth's OAuth2Client for BitBadges: the authorize URL without scope, and the
    exchange done here (JSON, timeout, one try, failures sorted by kind)."""

    def __init__(self, request: HttpRequest, client_id: str, secret: str, callback_url: str):
        super().__init__(request, client_id, secret, "POST", token_url(), callback_url)

    def get_redirect_url(self, authorization_url, scope, extra_params) -> str:
        # BitBadges' parameters (bitbadgesjs-sdk CodeGenQueryParams): no scope (the
        # address comes without one), no response_type.
        params = {"client_id": self.consumer_key, "redirect_uri": self.callback_url}
        if self.state:
            params["state"] = self.state
        params.update(extra_params)
        return f"{authorization_url}?{urlencode(params)}"

    def get_access_token(self, code, pkce_code_verifier=None, extra_data=None) -> dict:
        return self.exchange(code)

    def exchange(self, code: object) -> dict:
        if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
            raise SiwbbFailure(CODE, "the code is missing or malformed; not sent")
        secret = self.consumer_secret
        payload = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.consumer_key,
            "client_secret": secret,
            "redirect_uri": self.callback_url,
        }
        headers = {"Accept": "application/json"}
        if settings.BITBADGES_API_KEY:
            headers["x-api-key"] = settings.BITBADGES_API_KEY
        timeout = settings.BITBADGES_TIMEOUT
        url = self.access_token_url
        try:
            with requests.post(
                url, json=payload, headers=headers, timeout=(timeout, timeout), stream=True
            ) as response:
                status = response.status_code
                body = _read(response)
        except SiwbbFailure as too_large:
            _log(too_large)
            raise
        except requests.RequestException as exc:
            unavailable = SiwbbFailure(UNAVAILABLE, type(exc).__name__)
            _log(unavailable)
            raise unavailable from None
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        if status != 200:
            message = data.get("errorMessage") if isinstance(data, dict) else None
            message = _cut(message if isinstance(message, str) else "", code, secret)
            refused = SiwbbFailure(_error_kind(status, message, data), message, status)
            _log(refused)
            raise refused
        try:
            return read_answer(data)
        except SiwbbFailure as unreadable:
            unreadable.detail = _cut(unreadable.detail, code, secret)
            _log(unreadable)
            raise


def _log(failure: SiwbbFailure) -> None:
    # The site's own settings refused: an operator must act, so it is an error.
    level = logging.ERROR if failure.kind == CONFIG else logging.WARNING
    log.log(
        level,
        "Sign in with BitBadges: the code exchange failed (%s, status %s): %s",
        failure.kind,
        failure.status,
        failure.detail,
    )

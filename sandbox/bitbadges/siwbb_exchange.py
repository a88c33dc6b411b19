"""Sign In with BitBadges, emulated: the token exchange (POST api/v0/siwbb/token, grant
types authorization_code and refresh_token) and revoke (POST api/v0/siwbb/token/revoke).

The checks run in the order of the 2024 indexer's handler (IDX-2024
src/routes/authCodes.ts exchangeSIWBBAuthorizationCode, revokeSiwbbHandler), and fail
with its texts: a payload of the wrong shape is 400 "Invalid request payload. [typia
errors]" (the fields and types of bitbadgesjs-sdk 0.27.2's typia check, every one
optional), everything else it throws is 500 {"errorMessage"}. Where the sandbox reads
the docs over the indexer (each named in docs/fidelity.md):
- a code is exchanged once (the 2026 docs: "Each code can be exchanged once. BitBadges
  enforces this."; the 2024 handler deletes it from another collection, so a second
  exchange would have passed there): a used code is not found, as a deleted one would be;
- the client ID must be the one the code (or refresh token) was issued to, answered with
  the indexer's own "Invalid client ID or redirect URI." (its comparison compares the
  payload's ID with itself);
- a code made with a redirect URI needs the same one in the exchange ("Required only if
  the code was created with a redirect URI"); the indexer only checks that a given one is
  registered, which the sandbox checks too.
Texts that differ between the 2026 docs and the 2024 indexer follow
SANDBOX_BITBADGES_WORDING: the refresh token's first lifetime (60 days in the docs, 30 in
the indexer), how expiry times are written (strings in the docs' example, numbers in the
indexer) and revoke's answer ({} in the OpenAPI description, {"message": "Token revoked"}
in the indexer).
"""

import base64
import binascii
import json
import re
import secrets
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from core.addresses import to_bitbadges_address
from sandbox.bitbadges.base import INVALID_PAYLOAD, BitBadgesError, _js_json, _typia, wording
from sandbox.bitbadges.models import SiwbbApp, SiwbbCode, SiwbbToken
from sandbox.bitbadges.siwbb import chain_of, sha256_hex

NOT_OWNER = "You are not the owner of this SIWBB request."
INVALID_CLIENT_SECRET = "Invalid client secret."
INVALID_CLIENT = "Invalid client ID or redirect URI."
INVALID_REDIRECT_URI = "Invalid redirect URI."
INVALID_CODE = "Invalid code."
EXPIRED = "Expired."
NOT_RECENT = "Not recent enough. Issued at time is too old: "
INVALID_GRANT = "Invalid grant type."
NO_REFRESH_TOKEN = "Invalid refresh token"  # the indexer's, without the full stop
INVALID_REFRESH_TOKEN = "Invalid refresh token."
REFRESH_EXPIRED = "Refresh token expired."
REVOKE_NOT_A_STRING = "Error on typia.assert(): invalid type on $input, expect to be string"
REVOKED_2024 = {"message": "Token revoked"}

ISSUED_AT_WINDOW_MS = 10 * 60 * 1000  # options.issuedAtTimeWindowMs' default; 0 turns it off
ACCESS_LIFETIME = timedelta(days=1)
REFRESH_LIFETIME = {"docs": timedelta(days=60), "idx-2024": timedelta(days=30)}
ROTATED_REFRESH_LIFETIME = timedelta(days=60)
# validator.isHexadecimal (IDX-2024 refresh_token check): an optional 0x or 0h, then hex.
_HEXADECIMAL = re.compile(r"\A(0x|0h)?[0-9a-f]+\Z", re.IGNORECASE)

# bitbadgesjs-sdk 0.27.2 iExchangeSIWBBAuthorizationCodePayload: every field optional.
_STRING_FIELDS = ("code", "client_secret", "client_id", "redirect_uri")
_GRANT_TYPES = ("authorization_code", "refresh_token")
_GRANT_EXPECTED = '("authorization_code" | "refresh_token" | undefined)'
# Wrong-typed values of these are left out of the error (the sandbox's choice: the answer
# may end up in a log, and these are secrets).
_SECRET_FIELDS = {"code", "client_secret", "refresh_token", "code_verifier"}
_ABSENT = object()


def _not_found(doc_id: str, collection: str) -> str:
    """The indexer's mustGetFromDB error (IDX-2024 src/db/db.ts)."""
    return f"Error in mustGetFromDB(): Could not find doc w/ id {doc_id} in {collection}"


def _report(errors: list, path: str, expected: str, value) -> None:
    field = path.rsplit(".", 1)[-1]
    if field in _SECRET_FIELDS:
        errors.append(_typia(path, expected))
    else:
        errors.append(_typia(path, expected, value))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _options_errors(errors: list, options) -> None:
    """typia's check of `options` as 0.27.2 compiled it: a non-object is reported twice,
    a wrong field once and then the object again."""
    expected = "(VerifySIWBBOptions | undefined)"
    if not isinstance(options, dict):
        _report(errors, "$input.options", expected, options)
        _report(errors, "$input.options", expected, options)
        return
    before = len(errors)
    window = options.get("issuedAtTimeWindowMs", _ABSENT)
    if window is not _ABSENT and not _is_number(window):
        _report(errors, "$input.options.issuedAtTimeWindowMs", "(number | undefined)", window)
    skip = options.get("skipAssetVerification", _ABSENT)
    if skip is not _ABSENT and not isinstance(skip, bool):
        _report(errors, "$input.options.skipAssetVerification", "(boolean | undefined)", skip)
    if len(errors) > before:
        _report(errors, "$input.options", expected, options)


def validate_exchange_payload(body) -> dict:
    """The body as 0.27.2's typia checks iExchangeSIWBBAuthorizationCodePayload, or
    BitBadgesError 400 "Invalid request payload. [errors]" (IDX-2024 typiaError)."""
    errors: list = []
    if not isinstance(body, dict):
        errors.append(_typia("$input", "iExchangeSIWBBAuthorizationCodePayload", body))
        raise BitBadgesError(400, INVALID_PAYLOAD + _js_json(errors))
    for name in ("code", "options", *_STRING_FIELDS[1:], "grant_type", "refresh_token"):
        value = body.get(name, _ABSENT)
        if value is _ABSENT:
            continue
        path = f"$input.{name}"
        if name == "options":
            _options_errors(errors, value)
        elif name == "grant_type":
            if value not in _GRANT_TYPES:
                _report(errors, path, _GRANT_EXPECTED, value)
        elif not isinstance(value, str):
            _report(errors, path, "(string | undefined)", value)
    verifier = body.get("code_verifier", _ABSENT)
    if verifier is not _ABSENT and not isinstance(verifier, str):
        _report(errors, "$input.code_verifier", "(string | undefined)", verifier)
    if errors:
        raise BitBadgesError(400, INVALID_PAYLOAD + _js_json(errors))
    return body


def basic_credentials(header: str) -> tuple[str, str]:
    """(client_id, client_secret) of an `Authorization: Basic` header, split at the first
    two colons as the indexer does ("next auth compatibility"); ("", "") otherwise."""
    parts = (header or "").split(" ")
    if parts[0] != "Basic":
        return "", ""
    token = parts[1] if len(parts) > 1 else ""
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4)).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return "", ""
    pieces = decoded.split(":")
    return pieces[0], pieces[1] if len(pieces) > 1 else ""


def _query_options(raw: str | None) -> dict:
    """`?options=` as JSON, used when the body has none; anything unreadable is ignored."""
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _written(ms: int):
    """An expiry as the wording writes it: a string (the docs) or a number (the indexer)."""
    return str(ms) if wording() == "docs" else ms


def _iso(moment: datetime) -> str:
    """JavaScript's Date.prototype.toISOString."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _check_client(
    app: SiwbbApp, client_id: str, secret: str, redirect_uri: str, issued_to: SiwbbApp, bound: str
) -> None:
    """The indexer's verifyDevAppDetails: `secret` against `app`'s, then the client and
    redirect URI bound to what the code (or token) was issued for."""
    if not client_id:
        raise BitBadgesError(500, NOT_OWNER)
    if not secret or not secrets.compare_digest(sha256_hex(secret), app.client_secret_hash):
        raise BitBadgesError(500, INVALID_CLIENT_SECRET)
    if client_id != issued_to.client_id:
        raise BitBadgesError(500, INVALID_CLIENT)
    if bound and redirect_uri != bound:
        raise BitBadgesError(500, INVALID_REDIRECT_URI)
    if redirect_uri and redirect_uri not in app.redirect_uris:
        raise BitBadgesError(500, INVALID_REDIRECT_URI)


def exchange(body, *, authorization: str = "", query_options: str | None = None) -> dict:
    """POST api/v0/siwbb/token: the answer (iExchangeSIWBBAuthorizationCodeSuccessResponse),
    or BitBadgesError."""
    payload = validate_exchange_payload(body)
    header_id, header_secret = basic_credentials(authorization)
    client_id = payload.get("client_id") or header_id
    secret = payload.get("client_secret") or header_secret
    redirect_uri = payload.get("redirect_uri") or ""
    # The body's options win, even {} (a JavaScript object is truthy); typia let through
    # only an object or nothing.
    options = payload["options"] if "options" in payload else _query_options(query_options)
    grant = payload.get("grant_type")
    if grant == "authorization_code":
        return _exchange_code(payload.get("code"), client_id, secret, redirect_uri, options)
    if grant == "refresh_token":
        return _refresh(payload.get("refresh_token"), client_id, secret, redirect_uri)
    raise BitBadgesError(500, INVALID_GRANT)


def _window_ms(options: dict) -> float:
    window = options.get("issuedAtTimeWindowMs")
    return window if _is_number(window) else ISSUED_AT_WINDOW_MS


def _exchange_code(code, client_id: str, secret: str, redirect_uri: str, options: dict) -> dict:
    if not code:
        raise BitBadgesError(500, INVALID_CODE)
    code_hash = sha256_hex(code)
    row = (
        SiwbbCode.objects.select_related("app")
        .filter(code_hash=code_hash, exchanged_at__isnull=True)
        .first()
    )
    if row is None:
        raise BitBadgesError(500, _not_found(code_hash, "auth-codes"))
    app = SiwbbApp.objects.filter(client_id=client_id).first() if client_id else None
    if app is None:
        raise BitBadgesError(500, _not_found(client_id, "auth-apps"))
    _check_client(app, client_id, secret, redirect_uri, row.app, row.redirect_uri)
    now = timezone.now()
    window = _window_ms(options)
    if window and _ms(row.created_at) < _ms(now) - window:
        raise BitBadgesError(500, NOT_RECENT + _iso(row.created_at))
    if row.expires_at and row.expires_at < now:
        raise BitBadgesError(500, EXPIRED)
    # Once: of two exchanges at the same moment, one wins; the other finds no code.
    if not SiwbbCode.objects.filter(pk=row.pk, exchanged_at__isnull=True).update(exchanged_at=now):
        raise BitBadgesError(500, _not_found(code_hash, "auth-codes"))
    answer = {
        "address": row.address,
        "chain": chain_of(row.address),
        "bitbadgesAddress": to_bitbadges_address(row.address),
        "verificationResponse": {"success": True},
    }
    if not row.scopes:  # "For non-scope based SIWBB, we simply return the address"
        return {
            **answer,
            "access_token": row.address,
            "token_type": "Bearer",
            "access_token_expires_at": _written(_ms(now + ACCESS_LIFETIME)),
        }
    access, refresh = secrets.token_hex(32), secrets.token_hex(32)
    token = SiwbbToken.objects.create(
        app=row.app,
        access_token_hash=sha256_hex(access),
        refresh_token_hash=sha256_hex(refresh),
        address=row.address,
        scopes=row.scopes,
        access_expires_at=now + ACCESS_LIFETIME,
        refresh_expires_at=now + REFRESH_LIFETIME[wording()],
        created_at=now,
    )
    return {**answer, **_tokens(access, refresh, token)}


def _tokens(access: str, refresh: str, token: SiwbbToken) -> dict:
    return {
        "access_token": access,
        "token_type": "Bearer",
        "access_token_expires_at": _written(_ms(token.access_expires_at)),
        "refresh_token": refresh,
        "refresh_token_expires_at": _written(_ms(token.refresh_expires_at)),
    }


def _refresh(refresh, client_id: str, secret: str, redirect_uri: str) -> dict:
    if not refresh:
        raise BitBadgesError(500, NO_REFRESH_TOKEN)
    if not _HEXADECIMAL.match(refresh):
        raise BitBadgesError(500, INVALID_REFRESH_TOKEN)
    old_hash = sha256_hex(refresh)
    token = SiwbbToken.objects.select_related("app").filter(refresh_token_hash=old_hash).first()
    if token is None:
        raise BitBadgesError(500, INVALID_REFRESH_TOKEN)
    now = timezone.now()
    if token.refresh_expires_at < now:
        raise BitBadgesError(500, REFRESH_EXPIRED)
    # The secret is the token's app's, whichever client ID is sent (as the indexer does).
    _check_client(token.app, client_id, secret, redirect_uri, token.app, "")
    access, new_refresh = secrets.token_hex(32), secrets.token_hex(32)
    rotated = {
        "access_token_hash": sha256_hex(access),
        "refresh_token_hash": sha256_hex(new_refresh),
        "access_expires_at": now + ACCESS_LIFETIME,
        "refresh_expires_at": now + ROTATED_REFRESH_LIFETIME,
    }
    # Rotate in place: the old access and refresh tokens stop working (the indexer
    # deletes the old document). Two refreshes with one token: one wins.
    if not SiwbbToken.objects.filter(pk=token.pk, refresh_token_hash=old_hash).update(**rotated):
        raise BitBadgesError(500, INVALID_REFRESH_TOKEN)
    token.refresh_from_db()
    return {
        "address": token.address,
        "chain": chain_of(token.address),
        "bitbadgesAddress": to_bitbadges_address(token.address),
        **_tokens(access, new_refresh, token),
    }


def revoke(body) -> dict:
    """POST api/v0/siwbb/token/revoke {token}: the whole authorization (its access and
    refresh tokens) is revoked, by either token; an unknown one is the indexer's 500."""
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise BitBadgesError(500, REVOKE_NOT_A_STRING)
    token_hash = sha256_hex(token)
    deleted, _ = SiwbbToken.objects.filter(
        Q(access_token_hash=token_hash) | Q(refresh_token_hash=token_hash)
    ).delete()
    if not deleted:
        raise BitBadgesError(500, _not_found(token_hash, "access-tokens"))
    return dict(REVOKED_2024) if wording() == "idx-2024" else {}

"""Who the host says signed on: the id_token checked (OpenID Connect Core 1.0, 3.1.3.7),
the userinfo answer read, and the identity this site keeps of them.

The id_token's signature is always checked against the provider's published keys,
even though it came straight from the token endpoint (Core allows skipping that over
TLS; a site whose provider runs behind proxies and redirects should not rely on it).
"""

from __future__ import annotations

import hmac

import jwt
from allauth.account.internal.emailkit import valid_email_or_none

from users.hostsso import client

# Seconds of clock difference allowed between the host's clock and ours.
LEEWAY = 60
# OpenID Connect Core 1.0, 2: `sub` is at most 255 ASCII characters. allauth keeps uids
# of up to 191 (SOCIALACCOUNT_UID_MAX_LENGTH); a longer one is refused, never cut.
MAX_SUB_LENGTH = 191
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 150


def _bad(detail: str) -> client.HostFailure:
    return client.HostFailure(client.TOKEN, f"id_token: {detail}")


def _key(keys: object, kid: object, alg: str):
    """The public key the header names (its `kid`); without a `kid`, the one signing key."""
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise client.HostFailure(client.ANSWER, "jwks: no keys")
    usable = [
        key
        for key in keys["keys"]
        if isinstance(key, dict) and key.get("use", "sig") == "sig" and key.get("alg", alg) == alg
    ]
    if kid is not None:
        usable = [key for key in usable if key.get("kid") == kid]
    if len(usable) != 1:
        raise _bad("no single published key matches its kid and alg")
    try:
        return jwt.PyJWK(usable[0], algorithm=alg).key
    except jwt.PyJWTError:
        raise _bad("the published key cannot be read") from None


def verify_id_token(raw: str, *, document: dict, client_id: str, nonce: str) -> dict:
    """The id_token's claims, once its signature, issuer, audience, times and nonce are
    right. Raises client.HostFailure (TOKEN; UNAVAILABLE when the keys do not come)."""
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        raise _bad("not a signed JWT") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in document["algorithms"]:
        raise _bad(f"signed with {str(alg)[:10]!r}, not an algorithm the provider lists")
    keys = client.get_json(document["jwks_uri"], what="jwks")
    key = _key(keys, header.get("kid"), alg)
    try:
        claims = jwt.decode(
            raw,
            key=key,
            algorithms=[alg],
            audience=client_id,
            issuer=document["issuer"],
            leeway=LEEWAY,
            options={"require": ["iss", "sub", "aud", "exp", "iat"], "verify_signature": True},
        )
    except jwt.InvalidIssuerError:
        raise _bad("another issuer") from None
    except jwt.InvalidAudienceError:
        raise _bad("another audience") from None
    except jwt.ExpiredSignatureError:
        raise _bad("expired") from None
    except jwt.PyJWTError as error:
        raise _bad(type(error).__name__) from None
    # Core 3.1.3.7 (errata set 2), item 3: an audience this site does not trust (any
    # other than itself) is refused; items 4 and 5: an azp must be this site.
    audience = claims["aud"]
    if any(item != client_id for item in (audience if isinstance(audience, list) else [audience])):
        raise _bad("another audience too")
    if "azp" in claims and claims["azp"] != client_id:
        raise _bad("azp is not this site")
    sent = claims.get("nonce")
    if not nonce or not isinstance(sent, str) or not hmac.compare_digest(sent, nonce):
        raise _bad("the nonce is not the one this sign-in sent")
    _sub(claims.get("sub"))
    return claims


def _sub(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_SUB_LENGTH:
        raise _bad("sub is missing or longer than 191 characters")
    if not all(" " < char <= "~" for char in value):
        raise _bad("sub is not printable ASCII")
    return value


def userinfo(document: dict, access_token: str, sub: str) -> dict:
    """The userinfo endpoint's answer (a JSON object; {} when the provider has none).
    Core 5.3.2: its `sub` must be the id_token's, or none of it is used."""
    url = document["userinfo_endpoint"]
    if not url:
        return {}
    answer = client.get_json(
        url, what="userinfo", headers={"Authorization": f"Bearer {access_token}"}
    )
    if answer.get("sub") != sub:
        raise client.HostFailure(client.TOKEN, "userinfo: its sub is not the id_token's")
    return answer


def _text(value: object, limit: int) -> str:
    return value.strip() if isinstance(value, str) and 0 < len(value.strip()) <= limit else ""


def identity(claims: dict, info: dict) -> dict:
    """What this site keeps of the member at the host (SocialAccount.extra_data): their
    id, and the email with whether the host verified it, read from one answer (userinfo
    when it gives an email, else the id_token), never mixed. `email_verified` is True only
    for a JSON true (not "true", not 1)."""
    source = info if "email" in info else claims
    email = valid_email_or_none(_text(source.get("email"), MAX_EMAIL_LENGTH)) or ""
    return {
        "sub": claims["sub"],
        "email": email.lower(),
        "email_verified": bool(email) and source.get("email_verified") is True,
        "name": _text(info.get("name") or claims.get("name"), MAX_NAME_LENGTH),
        "preferred_username": _text(
            info.get("preferred_username") or claims.get("preferred_username"), MAX_NAME_LENGTH
        ),
    }

"""The host provider's OAuth 2.0 / OpenID Connect server, built on Authlib's Django
integration: its AuthorizationServer, the authorization code grant with PKCE (RFC 7636,
S256 only) and OpenID Connect's code flow extension (OpenIDCode: nonce, the id_token),
and a Bearer token validator for userinfo.

What is the sandbox's own here, around the library:
- the models it stores (sandbox/host/models.py: codes and tokens hashed, a code used once
  and its tokens revoked if it comes back, RFC 6749 4.1.2);
- requests are read from where the RFC puts them: the authorize request from the query
  only (a form posted to the page cannot change it), the token request from the body only
  (RFC 6749 3.2, 4.1.3);
- the id_token is built here (`HostOpenIDCode.encode_id_token`) so the id_token faults
  (sandbox/host/faults.py) can make it wrong in one chosen way.

The issuer is PUBLIC_URL + "/sandbox/host", read per request.
"""

import logging
import time
from datetime import timedelta

from authlib.common.urls import add_params_to_uri
from authlib.integrations.django_oauth2 import (
    AuthorizationServer,
    BearerTokenValidator,
    ResourceProtector,
)
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from django.conf import settings
from django.utils import timezone
from joserfc import jwt

from sandbox.host import keys
from sandbox.host.faults import id_token_faults
from sandbox.host.models import (
    SCOPES,
    TOKEN_AUTH_METHODS,
    HostAuthorizationCode,
    HostClient,
    HostToken,
    sha256_hex,
)


class _NoTokens(logging.Filter):
    """Authlib's grant logs each token it issues at DEBUG ("Issue token {...}"), access
    token in clear: dropped, whatever level an operator gives its loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Issue token", "Grant token"))


logging.getLogger("authlib.oauth2.rfc6749.grants.authorization_code").addFilter(_NoTokens())

ISSUER_PATH = "/sandbox/host"
CODE_LIFETIME = timedelta(minutes=10)  # RFC 6749 4.1.2: "a maximum ... of 10 minutes"
ACCESS_TOKEN_SECONDS = 3600
ID_TOKEN_SECONDS = 3600
MAX_CLIENT_ID = 200
MAX_TOKEN = 512  # longer than any code or token this server makes
CLAIMS = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "name",
    "preferred_username",
    "email",
    "email_verified",
)


def issuer() -> str:
    return settings.PUBLIC_URL.rstrip("/") + ISSUER_PATH


def discovery() -> dict:
    """OpenID Connect Discovery 1.0 section 3: the provider's metadata."""
    base = issuer()
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/jwks",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys.ALGORITHM],
        "token_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        # RFC 9207 section 3: every authorization response (errors too) carries `iss`.
        "authorization_response_iss_parameter_supported": True,
        "claims_supported": list(CLAIMS),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }


def user_info(member, scope: str) -> UserInfo:
    """The member's claims that `scope` allows (OpenID Connect Core 5.4); with the
    email_verified_string fault, `email_verified` as text."""
    verified: bool | str = member.email_verified
    if "host.id_token.email_verified_string" in id_token_faults():
        verified = "true" if verified else "false"
    return UserInfo(
        sub=member.sub,
        name=member.name,
        preferred_username=member.username,
        email=member.email,
        email_verified=verified,
    ).filter(scope)


# --- Requests --------------------------------------------------------------------------


class _Params(OAuth2Payload):
    """The parameters of one part of the request (the query, or the body)."""

    def __init__(self, params):
        self._params = params

    @property
    def data(self):
        return self._params.dict()

    @property
    def datalist(self):
        return {name: self._params.getlist(name) for name in self._params}


class SandboxRequest(OAuth2Request):
    """A Django request as Authlib reads it, its parameters from `params` only.

    Authlib refuses to serve plain http outside loopback (InsecureTransportError: OAuth
    2.0 is meant for TLS, RFC 6749 1.6). The sandbox is served at whatever PUBLIC_URL is on
    a developer's machine, and is never mounted in production, so it hands Authlib the
    https spelling of its own URL; Authlib reads the URL for nothing else here (only
    dynamic client registration, which this server does not offer, uses it)."""

    def __init__(self, request, params):
        uri = request.build_absolute_uri()
        if uri.startswith("http://"):
            uri = "https://" + uri.removeprefix("http://")
        super().__init__(request.method, uri, headers=request.headers)
        self.payload = _Params(params)
        self._params = params

    @property
    def args(self):
        return self._params

    @property
    def form(self):
        return self._params


# --- The server ------------------------------------------------------------------------


def with_issuer(response):
    """RFC 9207 section 2: an authorization response that goes back to the client, an
    error as well, names the provider in `iss` (Authlib's IssuerParameter reads a
    `location` attribute, which Django's responses do not have: the header here)."""
    location = response.get("Location")
    if location:
        response["Location"] = add_params_to_uri(location, [("iss", issuer())])
    return response


class HostIssuerParameter(IssuerParameter):
    def get_issuer(self) -> str:
        return issuer()

    def add_issuer_parameter(self, authorization_server, response):
        with_issuer(response)


class HostAuthorizationServer(AuthorizationServer):
    def __init__(self):
        super().__init__(HostClient, HostToken)

    def load_config(self, config):
        # The sandbox's own configuration, never the AUTHLIB_OAUTH2_PROVIDER setting.
        super().load_config(
            {
                "scopes_supported": list(SCOPES),
                "token_expires_in": {"authorization_code": ACCESS_TOKEN_SECONDS},
            }
        )

    def query_client(self, client_id):
        if not isinstance(client_id, str) or not client_id or len(client_id) > MAX_CLIENT_ID:
            return None
        if "\x00" in client_id:  # PostgreSQL refuses NUL in a string
            return None
        return HostClient.objects.filter(client_id=client_id).first()

    def save_token(self, token, request):
        now = timezone.now()
        return HostToken.objects.create(
            access_token_hash=sha256_hex(token["access_token"]),
            client=request.client,
            member=request.user,
            code=request.authorization_code,
            scope=token.get("scope") or "",
            issued_at=now,
            expires_at=now + timedelta(seconds=int(token["expires_in"])),
        )

    def create_oauth2_request(self, request):
        if isinstance(request, OAuth2Request):
            return request
        return SandboxRequest(request, request.POST)  # the token endpoint: the body only


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(TOKEN_AUTH_METHODS)

    def save_authorization_code(self, code, request):
        data = request.payload.data
        challenge = data.get("code_challenge") or ""
        now = timezone.now()
        HostAuthorizationCode.objects.create(
            code_hash=sha256_hex(code),
            client=request.client,
            member=request.user,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            nonce=data.get("nonce") or "",
            code_challenge=challenge,
            code_challenge_method=(data.get("code_challenge_method") or "") if challenge else "",
            auth_time=now,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )

    def query_authorization_code(self, code, client):
        """The code, locked until the exchange ends (the token view runs in a transaction),
        if it was issued to `client`, is unused and unexpired. A used code that comes back
        revokes the tokens it gave (RFC 6749 4.1.2: "SHOULD revoke")."""
        if not isinstance(code, str) or not code or len(code) > MAX_TOKEN:
            return None
        row = (
            HostAuthorizationCode.objects.select_for_update()
            .select_related("member")
            .filter(code_hash=sha256_hex(code), client=client)
            .first()
        )
        if row is None:
            return None
        now = timezone.now()
        if row.used_at is not None:
            HostToken.objects.filter(code=row, revoked_at__isnull=True).update(revoked_at=now)
            return None
        if row.expires_at <= now:
            return None
        return row

    def delete_authorization_code(self, authorization_code):
        # Kept, marked used: a second exchange is refused and revokes (above).
        HostAuthorizationCode.objects.filter(pk=authorization_code.pk).update(
            used_at=timezone.now()
        )

    def authenticate_user(self, authorization_code):
        return authorization_code.member


class S256Challenge(CodeChallenge):
    """PKCE with S256 only: a challenge without a method is "plain" (RFC 7636 4.3), which
    this server does not support, so it is invalid_request (4.4.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")


class HostOpenIDCode(OpenIDCode):
    def exists_nonce(self, nonce, request):
        return HostAuthorizationCode.objects.filter(
            client__client_id=request.payload.client_id, nonce=nonce
        ).exists()

    def generate_user_info(self, user, scope):
        return user_info(user, scope)

    def resolve_client_private_key(self, client):
        return keys.signing_key()

    def get_client_algorithm(self, client):
        return keys.ALGORITHM

    def encode_id_token(self, token, request):
        """The id_token (OpenID Connect Core 2, 3.1.3.6), signed RS256 with the key's kid;
        made wrong in the ways the id_token faults ask."""
        faults = id_token_faults()
        now = int(time.time())
        claims = {
            "iss": issuer(),
            "aud": request.client.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_SECONDS,
        }
        claims.update(self.get_authorization_code_claims(request.authorization_code))
        claims["at_hash"] = create_half_hash(token["access_token"], keys.ALGORITHM).decode()
        claims.update(self.generate_user_info(request.user, token["scope"]))
        key = keys.signing_key()
        header = {"alg": keys.ALGORITHM, "kid": key.kid}
        if "host.id_token.wrong_issuer" in faults:
            claims["iss"] = settings.PUBLIC_URL.rstrip("/") + "/sandbox/not-the-host"
        if "host.id_token.wrong_audience" in faults:
            claims["aud"] = "another-client"
        if "host.id_token.expired" in faults:
            claims["iat"], claims["exp"] = now - 2 * ID_TOKEN_SECONDS, now - ID_TOKEN_SECONDS
        if "host.id_token.bad_signature" in faults:
            key = keys.throwaway_key(key.kid)
        if "host.id_token.unknown_kid" in faults:
            header["kid"] = "unknown-" + key.kid[:16]
        if "host.id_token.wrong_nonce" in faults:
            claims["nonce"] = "not-the-nonce-of-this-sign-in"
        if "host.id_token.another_azp" in faults:
            claims["aud"] = [request.client.client_id]  # an array (OIDC-CORE 2 allows it)
            claims["azp"] = "another-client"
        if "host.id_token.another_audience_too" in faults:
            claims["aud"] = [request.client.client_id, "another-client"]
            claims["azp"] = request.client.client_id
        if "host.id_token.other_sub" in faults:
            claims["sub"] = "host-someone-else-9999"
        return jwt.encode(header, claims, key, [keys.ALGORITHM])


class HostBearerValidator(BearerTokenValidator):
    def __init__(self):
        super().__init__(HostToken, realm="Sandbox Community")

    def authenticate_token(self, token_string):
        if not token_string or len(token_string) > MAX_TOKEN:
            return None
        return (
            HostToken.objects.select_related("member", "client")
            .filter(access_token_hash=sha256_hex(token_string))
            .first()
        )


def _server() -> HostAuthorizationServer:
    made = HostAuthorizationServer()
    made.register_extension(HostIssuerParameter())
    made.register_grant(
        CodeGrant, [S256Challenge(required=True), HostOpenIDCode(require_nonce=False)]
    )
    return made


server = _server()
protector = ResourceProtector()
protector.register_token_validator(HostBearerValidator())

"""The host provider's discovery document (OpenID Connect Discovery 1.0), read once per
request of ours, checked before anything in it is used."""

from __future__ import annotations

from django.http import HttpRequest

from users.hostsso import client, config

# Asymmetric signatures only: an HMAC "signature" made with our own client secret, or
# "none", proves nothing about who issued an id_token.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_MEMO = "_hostsso_discovery"


def read(request: HttpRequest | None) -> dict:
    """The checked document: issuer, the endpoints, the signing algorithms allowed, the
    token endpoint's authentication. Raises client.HostFailure."""
    issuer = config.issuer()
    memo = getattr(request, _MEMO, None) if request is not None else None
    if memo and memo[0] == issuer:
        return memo[1]
    document = client.get_json(config.discovery_url(), what="discovery")
    # Discovery 1.0 section 4.3: the issuer in the document is exactly the one we expect;
    # any other, and nothing in it can be trusted.
    if document.get("issuer") != issuer:
        raise client.HostFailure(client.CONFIG, "discovery: its issuer is not HOST_OIDC_ISSUER")
    checked = {
        "issuer": issuer,
        "authorization_endpoint": client.endpoint(
            document, "authorization_endpoint", issuer=issuer
        ),
        "token_endpoint": client.endpoint(document, "token_endpoint", issuer=issuer),
        "jwks_uri": client.endpoint(document, "jwks_uri", issuer=issuer),
        "userinfo_endpoint": client.endpoint(
            document, "userinfo_endpoint", issuer=issuer, required=False
        ),
        "algorithms": _algorithms(document),
        "basic_auth": _basic_auth(document),
        # RFC 9207 section 3: the provider puts `iss` in every authorization response.
        "iss_parameter": document.get("authorization_response_iss_parameter_supported") is True,
    }
    if request is not None:
        setattr(request, _MEMO, (issuer, checked))
    return checked


def _algorithms(document: dict) -> list[str]:
    # Discovery 1.0: RS256 when the document does not say.
    listed = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    if not isinstance(listed, list):
        listed = ["RS256"]
    allowed = [alg for alg in ALGORITHMS if alg in listed]
    if not allowed:
        raise client.HostFailure(
            client.CONFIG, "discovery: no id_token signing algorithm we accept"
        )
    return allowed


def _basic_auth(document: dict) -> bool:
    """client_secret_basic, unless the document lists the methods without it and with
    client_secret_post (Discovery 1.0: client_secret_basic when it lists none)."""
    methods = document.get("token_endpoint_auth_methods_supported")
    if not isinstance(methods, list) or not methods or "client_secret_basic" in methods:
        return True
    if "client_secret_post" in methods:
        return False
    raise client.HostFailure(
        client.CONFIG, "discovery: the token endpoint takes neither client_secret_basic nor _post"
    )

"""Faults on the host provider: its endpoints answer an injected status in OAuth's error
shape, slowly, or with broken JSON; its id_tokens come out wrong in one chosen way, which
a client checking them (joserfc here, as the product would) refuses."""

# ruff: noqa: F401, F811 (the fixtures imported from the support module are arguments here)

import time

import pytest
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
)
from joserfc.jwk import KeySet

from sandbox.common import faults
from sandbox.common.models import Fault
from sandbox.host.faults import ID_TOKEN_FAULTS
from tests.sandbox.test_host_idp_support import (
    BASE,
    CLIENT_ID,
    approve,
    basic,
    browser_client,
    exchange,
    site_client,
    verified_claims,
)

pytestmark = pytest.mark.django_db

NAMES = {"host.discovery", "host.jwks", "host.token", "host.userinfo"}


def test_the_endpoint_names():
    assert {name for name in faults.ENDPOINTS if name.startswith("host.")} == NAMES


@pytest.mark.parametrize(
    ("name", "path", "status", "error"),
    [
        ("host.discovery", "/.well-known/openid-configuration", 500, "server_error"),
        ("host.jwks", "/jwks", 502, "server_error"),
        ("host.userinfo", "/userinfo", 503, "temporarily_unavailable"),
        ("host.token", "/token", 429, "temporarily_unavailable"),
        ("host.token", "/token", 400, "invalid_request"),
    ],
)
def test_an_injected_status_is_an_oauth_error(client, settings, name, path, status, error):
    settings.SANDBOX_FAULTS = {name: {"status": status, "retry_after": 7}}
    method = client.post if name == "host.token" else client.get
    response = method(f"{BASE}{path}", headers={"Authorization": basic()})

    assert response.status_code == status
    assert response.json() == {
        "error": error,
        "error_description": response.json()["error_description"],
    }
    assert "(injected by the sandbox)" in response.json()["error_description"]
    if status in (429, 503):
        assert response["Retry-After"] == "7"
    other = "/jwks" if name != "host.jwks" else "/.well-known/openid-configuration"
    assert client.get(f"{BASE}{other}").status_code == 200  # only the named endpoint


def test_broken_json_and_latency(client, settings):
    settings.SANDBOX_FAULTS = {
        "host.discovery": {"malformed": True},
        "host.jwks": {"latency_ms": 120},
    }
    broken = client.get(f"{BASE}/.well-known/openid-configuration")
    assert broken.status_code == 200 and broken.content == b'{"issuer": "'

    started = time.monotonic()
    slow = client.get(f"{BASE}/jwks")
    assert slow.status_code == 200 and time.monotonic() - started >= 0.12


def keys(client) -> KeySet:
    return KeySet.import_key_set(client.get(f"{BASE}/jwks").json())


def id_token(client, browser_client) -> str:
    response = exchange(client, approve(browser_client))
    assert response.status_code == 200, response.content
    return response.json()["id_token"]


def test_without_faults_the_id_token_checks_out(client, browser_client, site_client):
    assert verified_claims(client, id_token(client, browser_client))["aud"] == CLIENT_ID


def test_bad_signature_and_unknown_kid_fail_the_signature_check(
    client, browser_client, site_client, settings
):
    settings.SANDBOX_FAULTS = {"host.id_token.bad_signature": {}}
    with pytest.raises(BadSignatureError):
        verified_claims(client, id_token(client, browser_client))

    settings.SANDBOX_FAULTS = {"host.id_token.unknown_kid": {}}
    token = id_token(client, browser_client)
    with pytest.raises(InvalidKeyIdError):  # no published key has that kid
        jwt.decode(token, keys(client), algorithms=["RS256"])


@pytest.mark.parametrize(
    ("name", "claim"),
    [
        ("host.id_token.wrong_issuer", "iss"),
        ("host.id_token.wrong_audience", "aud"),
        ("host.id_token.expired", "exp"),
    ],
)
def test_a_wrong_claim_fails_a_clients_claim_check(
    client, browser_client, site_client, settings, name, claim
):
    settings.SANDBOX_FAULTS = {name: {}}
    claims = verified_claims(client, id_token(client, browser_client))  # well signed
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": f"{settings.PUBLIC_URL}/sandbox/host"},
        aud={"essential": True, "value": CLIENT_ID},
    )
    expected = ExpiredTokenError if claim == "exp" else InvalidClaimError
    with pytest.raises(expected) as caught:
        registry.validate(claims)
    assert claim in str(caught.value) or claim == "exp"


def test_faults_in_what_the_id_token_and_userinfo_say(
    client, browser_client, site_client, settings
):
    """Well signed, wrong in one way each: the nonce, the audience with azp, the sub
    against userinfo's, email_verified as text in both."""
    settings.SANDBOX_FAULTS = {"host.id_token.wrong_nonce": {}, "host.id_token.another_azp": {}}
    claims = verified_claims(client, id_token(client, browser_client))
    assert claims["nonce"] == "not-the-nonce-of-this-sign-in"
    assert claims["aud"] == [CLIENT_ID] and claims["azp"] == "another-client"
    settings.SANDBOX_FAULTS = {"host.id_token.another_audience_too": {}}
    claims = verified_claims(client, id_token(client, browser_client))
    assert claims["aud"] == [CLIENT_ID, "another-client"] and claims["azp"] == CLIENT_ID

    settings.SANDBOX_FAULTS = {"host.id_token.other_sub": {}}
    answer = exchange(client, approve(browser_client)).json()
    bearer = {"Authorization": f"Bearer {answer['access_token']}"}
    info = client.get(f"{BASE}/userinfo", headers=bearer).json()
    assert verified_claims(client, answer["id_token"])["sub"] != info["sub"] == "host-alice-0001"

    settings.SANDBOX_FAULTS = {"host.id_token.email_verified_string": {}}
    answer = exchange(client, approve(browser_client, member="bob")).json()
    bearer = {"Authorization": f"Bearer {answer['access_token']}"}
    assert verified_claims(client, answer["id_token"])["email_verified"] == "false"
    assert client.get(f"{BASE}/userinfo", headers=bearer).json()["email_verified"] == "false"


def test_an_id_token_fault_row_turns_on_and_off_and_host_star_never_does(
    client, browser_client, site_client, settings
):
    settings.SANDBOX_FAULTS = {"host.*": {"latency_ms": 1}}  # slows, never tampers
    verified_claims(client, id_token(client, browser_client))

    row = Fault.objects.create(endpoint="host.id_token.bad_signature", malformed=True)
    with pytest.raises(BadSignatureError):
        verified_claims(client, id_token(client, browser_client))
    row.enabled = False
    row.save()
    verified_claims(client, id_token(client, browser_client))


def test_a_fault_with_rate_zero_never_fires(client, browser_client, site_client, settings):
    settings.SANDBOX_FAULTS = {"host.id_token.*": {"rate": 0}}
    verified_claims(client, id_token(client, browser_client))


def test_every_id_token_fault_is_named_and_described():
    assert set(ID_TOKEN_FAULTS) == {
        "host.id_token.wrong_issuer",
        "host.id_token.wrong_audience",
        "host.id_token.expired",
        "host.id_token.bad_signature",
        "host.id_token.unknown_kid",
        "host.id_token.wrong_nonce",
        "host.id_token.another_azp",
        "host.id_token.another_audience_too",
        "host.id_token.other_sub",
        "host.id_token.email_verified_string",
    }

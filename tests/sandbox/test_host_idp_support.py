"""Helpers of the host provider's tests (tests/sandbox/test_host_idp*.py): a client
registered with a known secret, and the authorize, approve and exchange steps through
Django's test client. No tests here."""

import base64
import functools
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from sandbox.host import registry
from sandbox.host.models import HostSigningKey

CLIENT_ID = "test-site"
SECRET = "test-site-secret-0123456789"
CALLBACK = "https://site.example/auth/oidc/host/login/callback/?keep=1"
BASE = "/sandbox/host"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
VERIFIER = "v" * 43 + "-verifier._~0123456789"


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def basic(client_id: str = CLIENT_ID, secret: str = SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@functools.cache
def _signing_jwk() -> dict:
    """One RSA key for the run (each test rolls the database back: the sandbox would make
    one per test, 50 ms or more each). test_jwks_publishes_one_public_rs256_key_made_once
    does without it and sees the sandbox make its own."""
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True)
    return {"kid": key.thumbprint(), "private_jwk": key.as_dict(private=True)}


@pytest.fixture
def site_client(db):
    jwk = _signing_jwk()
    HostSigningKey.objects.create(kid=jwk["kid"], private_jwk={**jwk["private_jwk"]})
    return registry.register_client(
        client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=[CALLBACK], name="Test Site"
    )


@pytest.fixture
def browser_client(db):
    """A browser: CSRF enforced, Origin sent as a browser sends it with a form."""
    return Client(enforce_csrf_checks=True, headers={"Origin": "http://testserver"})


def authorize_url(**params) -> str:
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "openid email profile",
        "state": "st4te",
        "nonce": "n0nce-" + secrets.token_hex(4),
        "code_challenge": challenge_of(VERIFIER),
        "code_challenge_method": "S256",
    }
    query.update(params)
    return f"{BASE}/authorize?{urlencode({k: v for k, v in query.items() if v is not None})}"


def answer(web: Client, url: str, **fields):
    """Open the page, then send its form as a person would (its CSRF token included)."""
    page = web.get(url)
    assert page.status_code == 200, page.content[:600]
    token = CSRF.search(page.content.decode()).group(1)
    return web.post(url, {"csrfmiddlewaretoken": token, **fields})


def query_of(response) -> dict[str, str]:
    assert response.status_code == 302, response.content[:600]
    return {
        key: values[0] for key, values in parse_qs(urlsplit(response["Location"]).query).items()
    }


def approve(web: Client, member: str = "alice", **params) -> str:
    """The code an approval sends back."""
    back = query_of(answer(web, authorize_url(**params), decision="approve", member=member))
    assert back["state"] == params.get("state", "st4te")
    return back["code"]


def exchange(api: Client, code: str, /, *, auth: str | None = "basic", **fields):
    """POST token as the client's server does (form body); `fields` add to it or replace
    its parameters (None leaves one out)."""
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    body["code_verifier"] = VERIFIER
    headers = {}
    if auth == "basic":
        headers["Authorization"] = basic()
    elif auth == "post":
        body.update(client_id=CLIENT_ID, client_secret=SECRET)
    body.update(fields)
    body = {key: value for key, value in body.items() if value is not None}
    return api.post(f"{BASE}/token", body, headers=headers)


def refused(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.content[:600]
    body = response.json()
    assert body["error"] == error, body
    assert response["Content-Type"].startswith("application/json")
    return body


def verified_claims(api: Client, id_token: str) -> dict:
    """The id_token's claims, its RS256 signature checked against the provider's JWKS."""
    keys = KeySet.import_key_set(api.get(f"{BASE}/jwks").json())
    return jwt.decode(id_token, keys, algorithms=["RS256"]).claims

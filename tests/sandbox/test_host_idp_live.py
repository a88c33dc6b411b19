"""The host provider over real HTTP (live_server), with a real OpenID Connect client
standing in for the product: Authlib's own OAuth2Session runs the whole code flow with
PKCE (S256), and joserfc checks the id_token's signature against the JWKS the provider
publishes. Then the page's Approve in Chromium, which is where a wrong Referrer-Policy
once made CSRF refuse the Sign in with BitBadges page (Origin: null)."""

import os
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from sandbox.host import registry

# Playwright's sync API runs an event loop in this thread; the test's ORM calls are still
# plain synchronous code (as tests/e2e/conftest.py says for the same reason).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_ID = "live-site"
SECRET = "live-site-secret-0123456789"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def provider(live_server, settings) -> dict:
    """The provider's discovery document, read over HTTP, as a client starts."""
    settings.PUBLIC_URL = live_server.url
    settings.SANDBOX_FAULTS = {}
    response = requests.get(
        f"{live_server.url}/sandbox/host/.well-known/openid-configuration", timeout=10
    )
    assert response.status_code == 200
    return response.json()


def test_a_real_oidc_client_runs_the_code_flow_with_pkce(live_server, provider):
    callback = f"{live_server.url}/auth/oidc/host/login/callback/"
    registry.register_client(client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=[callback])
    session = OAuth2Session(
        CLIENT_ID,
        SECRET,
        scope="openid email profile",
        redirect_uri=callback,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        default_timeout=10,
    )
    verifier, nonce = generate_token(64), generate_token(20)
    url, state = session.create_authorization_url(
        provider["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    assert "code_challenge=" in url and "code_challenge_method=S256" in url

    with requests.Session() as browser:  # the member at the host's page: bob approves
        page = browser.get(url, timeout=10)
        assert page.status_code == 200
        answer = browser.post(
            url,
            data={
                "csrfmiddlewaretoken": CSRF.search(page.text).group(1),
                "decision": "approve",
                "member": "bob",
            },
            headers={"Origin": live_server.url},
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 302
    back = answer.headers["Location"]
    assert back.startswith(callback) and parse_qs(urlsplit(back).query)["state"] == [state]

    token = session.fetch_token(
        provider["token_endpoint"], authorization_response=back, code_verifier=verifier
    )

    keys = KeySet.import_key_set(requests.get(provider["jwks_uri"], timeout=10).json())
    decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    assert decoded.header["kid"] == keys.keys[0].kid
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": provider["issuer"]},
        aud={"essential": True, "value": CLIENT_ID},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True, "value": "host-bob-0002"},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(decoded.claims)
    assert decoded.claims["email_verified"] is False  # bob's is not
    assert provider["issuer"] == f"{live_server.url}/sandbox/host"

    info = session.get(provider["userinfo_endpoint"])
    assert info.status_code == 200 and info.json()["sub"] == "host-bob-0002"

    # The same code again, now with the body's client authentication: refused.
    again = requests.post(
        provider["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": parse_qs(urlsplit(back).query)["code"][0],
            "redirect_uri": callback,
            "code_verifier": verifier,
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
        },
        timeout=10,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert session.get(provider["userinfo_endpoint"]).status_code == 401  # revoked


def test_two_exchanges_of_one_code_at_once_one_wins(live_server, provider):
    """The code is locked for the length of an exchange: of two at the same moment, one
    gets tokens and the other invalid_grant (RFC 6749 4.1.2: used once)."""
    callback = f"{live_server.url}/cb"
    registry.register_client(client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=[callback])
    session = OAuth2Session(CLIENT_ID, SECRET, scope="openid", redirect_uri=callback)
    url, _ = session.create_authorization_url(provider["authorization_endpoint"])
    with requests.Session() as browser:
        page = browser.get(url, timeout=10)
        answer = browser.post(
            url,
            data={
                "csrfmiddlewaretoken": CSRF.search(page.text).group(1),
                "decision": "approve",
                "member": "alice",
            },
            headers={"Origin": live_server.url},
            allow_redirects=False,
            timeout=10,
        )
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": callback}
    start, answers = threading.Barrier(2), []

    def exchange():
        start.wait(timeout=10)
        response = requests.post(
            provider["token_endpoint"], data=body, auth=(CLIENT_ID, SECRET), timeout=10
        )
        answers.append((response.status_code, response.json().get("error")))

    threads = [threading.Thread(target=exchange) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(answers) == [(200, None), (400, "invalid_grant")]


@pytest.mark.e2e
def test_approve_in_chromium_passes_csrf_and_goes_back_with_a_code(live_server, provider, page):
    landing = f"{live_server.url}/healthz"  # any page of this site will do as the client's
    registry.register_client(
        client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=[landing], name="Live Site"
    )
    session = OAuth2Session(
        CLIENT_ID, SECRET, scope="openid email profile", redirect_uri=landing,
        code_challenge_method="S256", default_timeout=10,
    )  # fmt: skip
    verifier = generate_token(64)
    url, state = session.create_authorization_url(
        provider["authorization_endpoint"], code_verifier=verifier, nonce=generate_token(20)
    )

    page.goto(url)
    assert page.locator("h1").inner_text() == "Sandbox Community"
    page.fill("#host-username", "dana")
    with page.expect_navigation(url=re.compile(re.escape(landing) + r"\?code=")):
        page.click("button[value=approve]")

    back = page.url
    assert parse_qs(urlsplit(back).query)["state"] == [state]
    token = session.fetch_token(
        provider["token_endpoint"], authorization_response=back, code_verifier=verifier
    )
    assert jwt.decode(token["id_token"], KeySet.import_key_set(
        requests.get(provider["jwks_uri"], timeout=10).json()
    )).claims["preferred_username"] == "dana"  # fmt: skip

    # Deny, in the same browser: back with access_denied and the state.
    url, state = session.create_authorization_url(
        provider["authorization_endpoint"], code_verifier=verifier, nonce=generate_token(20)
    )
    page.goto(url)
    with page.expect_navigation(url=re.compile(re.escape(landing) + r"\?error=access_denied")):
        page.click("button[value=deny]")
    assert parse_qs(urlsplit(page.url).query)["state"] == [state]

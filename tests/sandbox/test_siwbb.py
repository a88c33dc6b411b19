"""Sign In with BitBadges in the sandbox, over real HTTP (live_server): the authorize page
(approve, deny, refusals that never redirect), the token exchange (JSON, form, HTTP Basic;
reused, expired, wrong secret, client or redirect URI; bad bodies), refresh and revoke."""

import hashlib
import json
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.utils import timezone

from sandbox.bitbadges import siwbb
from sandbox.bitbadges.models import SiwbbApp, SiwbbCode, SiwbbToken
from sandbox.credentials import SANDBOX_CREDENTIALS
from tests.live_support import wait_until_served

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_ID = "test-app"
SECRET = "test-secret"
CALLBACK = "https://site.example/auth/bitbadges/login/callback/?keep=1"
ALICE = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
ALICE_BB = "bb1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tca7"
BOB_BB = "bb1z3t55m0l9h0eupuz3dp5t5cypyv674jjl8mh5h"
KEY = SANDBOX_CREDENTIALS["bitbadges_api_key"]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def app():
    return siwbb.register_app(
        client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=[CALLBACK], name="Test App"
    )


@pytest.fixture
def web(live_server):
    """A browser-like session on the sandbox (cookies kept, redirects not followed)."""
    with requests.Session() as session:
        session.base = f"{live_server.url}/sandbox/bitbadges"
        yield session


def authorize_url(web, **params) -> str:
    params = {"client_id": CLIENT_ID, "redirect_uri": CALLBACK, "state": "st4te", **params}
    return f"{web.base}/siwbb/authorize?{urlencode(params)}"


def answer(web, url: str, **fields) -> requests.Response:
    """Open the page, then send the form as a person would (its CSRF token included)."""
    page = web.get(url, timeout=10)
    assert page.status_code == 200, page.text
    token = CSRF.search(page.text).group(1)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))  # as a browser sends it
    return web.post(
        url,
        data={"csrfmiddlewaretoken": token, **fields},
        headers={"Origin": origin},
        allow_redirects=False,
        timeout=10,
    )


def approve(web, address: str = ALICE, **params) -> str:
    """The code an approval sends back to the app."""
    response = answer(web, authorize_url(web, **params), decision="approve", account=address)
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def exchange(web, body=None, *, form=False, **kwargs) -> requests.Response:
    url = f"{web.base}/api/v0/siwbb/token"
    if form:
        return web.post(url, data=body, timeout=10, **kwargs)
    return web.post(url, json=body, timeout=10, **kwargs)


def payload(code: str, **extra) -> dict:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "redirect_uri": CALLBACK,
        **extra,
    }


def refused(response: requests.Response, status: int = 500) -> str:
    assert response.status_code == status, response.text
    return response.json()["errorMessage"]


# --- The authorize page ----------------------------------------------------------------


def test_the_page_shows_the_app_what_it_asks_and_whom_to_sign_in_as(web, app):
    page = web.get(authorize_url(web, scope="completeClaims"), timeout=10)
    assert page.status_code == 200
    text = page.text
    assert "<h1>Sign in with BitBadges</h1>" in text
    assert "<strong>Test App</strong> asks for your address" in text
    assert "<li>Complete Claims</li>" in text
    assert "<legend>Sign in as</legend>" in text and ALICE in text and BOB_BB in text
    assert '<label for="siwbb-address">Or enter an address</label>' in text
    # The choice stands in for signing in with a wallet, and the page says so (row 109).
    assert "stands in for signing in to BitBadges with your wallet" in text
    assert "bb1…." not in text  # the hint's one full stop
    assert CSRF.search(text) and 'name="decision" value="approve"' in text
    assert (
        "no-store" in page.headers["Cache-Control"] or "no-cache" in page.headers["Cache-Control"]
    )
    # The form may send the browser on to the app's origin, and no further.
    assert "form-action 'self' https://site.example" in page.headers["Content-Security-Policy"]
    plain = web.get(authorize_url(web), timeout=10).text
    assert "It asks for nothing else." in plain


def test_approve_sends_a_one_time_code_and_the_state_back_and_keeps_only_its_hash(web, app):
    response = answer(web, authorize_url(web), decision="approve", account=ALICE)
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == CALLBACK.split("?")[0]
    query = parse_qs(target.query)
    assert query["keep"] == ["1"] and query["state"] == ["st4te"]
    [code] = query["code"]
    assert re.fullmatch(r"[0-9a-f]{64}", code)
    row = SiwbbCode.objects.get()
    assert row.code_hash == sha(code) and code not in str(SiwbbCode.objects.values())
    assert (row.app, row.redirect_uri, row.address, row.scopes) == (
        app,
        CALLBACK,
        ALICE.lower(),
        [],
    )


def test_a_typed_address_wins_over_the_choice(web, app):
    answer(web, authorize_url(web), decision="approve", account=ALICE, address=f"  {BOB_BB} ")
    assert SiwbbCode.objects.get().address == BOB_BB


def test_deny_sends_access_denied_and_the_state_and_makes_no_code(web, app):
    response = answer(web, authorize_url(web), decision="deny", account=ALICE)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query == {"keep": ["1"], "error": ["access_denied"], "state": ["st4te"]}
    assert not SiwbbCode.objects.exists()


BAD_LINKS = [
    ({"client_id": ""}, "No client ID", "client_id parameter is missing"),
    ({"client_id": "nobody"}, "Unknown app", siwbb.UNKNOWN_CLIENT),
    (
        {"redirect_uri": "https://evil.example/steal"},
        "Redirect URI not registered",
        "does not send you there",
    ),
    ({"redirect_uri": CALLBACK + "&x=1"}, "Redirect URI not registered", "Invalid"),
    ({"scope": "fullAccess"}, "Scope not allowed", siwbb.FULL_ACCESS_REFUSED),
    ({"scope": "launchRockets"}, "Unknown scope", "no scope named"),
    ({"response_type": "token"}, "Unsupported response type", "Only"),
    ({"state": "s" * 2001}, "This sign-in link is too long", "state parameter"),
    ({"pad": "x" * 9000}, "This sign-in link is too long", "over 8 KB"),
]


def test_a_bad_link_is_a_page_at_the_sandbox_never_a_redirect(web, app):
    for params, title, sentence in BAD_LINKS:
        url = authorize_url(web, **params)
        page = web.get(url, timeout=10)
        assert page.status_code == 400, params
        assert f"<h1>{title}</h1>" in page.text and sentence.replace('"', "&quot;") in page.text
        token = CSRF.search(web.get(authorize_url(web), timeout=10).text).group(1)
        sent = web.post(
            url,
            data={"csrfmiddlewaretoken": token, "decision": "approve", "account": ALICE},
            allow_redirects=False,
        )
        assert sent.status_code == 400 and "Location" not in sent.headers, params
    assert not SiwbbCode.objects.exists()


def test_a_bad_address_gets_a_sentence_and_the_form_again(web, app):
    for typed, sentence in [
        ("0x1234", "exactly 40 hex digits"),
        ("cosmos1abc", "starts with 0x"),
        ("<script>alert(1)</script>", "starts with 0x"),
        ("0x" + "a" * 500, "far too long"),
    ]:
        response = answer(web, authorize_url(web), decision="approve", address=typed)
        assert response.status_code == 400
        assert sentence in response.text and 'role="alert"' in response.text
        assert "<script>alert" not in response.text
        assert "<legend>Sign in as</legend>" in response.text
    forged = answer(web, authorize_url(web), decision="approve", account="not-an-address")
    assert forged.status_code == 400 and "starts with 0x" in forged.text
    assert not SiwbbCode.objects.exists()


def test_the_form_is_csrf_protected(web, app):
    url = authorize_url(web)
    web.get(url, timeout=10)  # the cookie, but no token in the form
    response = web.post(url, data={"decision": "approve", "account": ALICE}, allow_redirects=False)
    assert response.status_code == 403
    assert not SiwbbCode.objects.exists()


def test_without_a_redirect_uri_the_code_is_shown_and_exchanges_without_one(web, app):
    response = answer(web, authorize_url(web, redirect_uri=""), decision="approve", account=ALICE)
    assert response.status_code == 200
    [code] = re.findall(r"\b[0-9a-f]{64}\b", response.text)
    assert SiwbbCode.objects.get().expires_at is None  # the QR code flow's codes
    body = payload(code)
    del body["redirect_uri"]
    assert exchange(web, body).json()["bitbadgesAddress"] == ALICE_BB


# --- The exchange --------------------------------------------------------------------


def test_the_exchange_answers_the_address_as_the_sdk_types_it(web, app):
    code = approve(web)
    response = exchange(web, payload(code))
    assert response.status_code == 200
    body = response.json()
    expires = body.pop("access_token_expires_at")
    assert body == {
        "address": ALICE.lower(),
        "chain": "ETH",
        "bitbadgesAddress": ALICE_BB,
        "verificationResponse": {"success": True},
        "access_token": ALICE.lower(),  # no scopes: the address, no refresh token
        "token_type": "Bearer",
    }
    day = int(expires) - timezone.now().timestamp() * 1000
    assert 86_000_000 < day <= 86_400_000 and isinstance(expires, str)  # the docs' strings


def test_a_form_body_and_http_basic_credentials_are_accepted(web, app):
    form = exchange(web, payload(approve(web, BOB_BB)), form=True)
    assert form.status_code == 200, form.text
    assert (form.json()["address"], form.json()["chain"]) == (BOB_BB, "Cosmos")

    body = payload(approve(web))
    del body["client_id"], body["client_secret"]
    basic = exchange(web, body, auth=(CLIENT_ID, SECRET))
    assert basic.status_code == 200 and basic.json()["bitbadgesAddress"] == ALICE_BB
    wrong = exchange(web, payload(approve(web), client_secret=""), auth=(CLIENT_ID, "nope"))
    assert refused(wrong) == "Invalid client secret."


def test_only_json_and_urlencoded_bodies_are_read_as_the_indexer_does(web, app):
    """express.json and express.urlencoded, each with its default type, are the only
    parsers on the token and revoke routes (multer serves another route): a multipart
    or "+json" body is an empty one there, so the exchange fails for its grant type and
    the code stays usable."""
    code = approve(web)
    url = f"{web.base}/api/v0/siwbb/token"
    fields = {key: (None, value) for key, value in payload(code).items()}
    multipart = web.post(url, files=fields, timeout=10)
    assert multipart.request.headers["Content-Type"].startswith("multipart/form-data")
    assert refused(multipart) == "Invalid grant type."
    vendor_json = web.post(
        url,
        data=json.dumps(payload(code)),
        headers={"Content-Type": "application/vnd.api+json"},
        timeout=10,
    )
    assert refused(vendor_json) == "Invalid grant type."
    charset = web.post(
        url,
        data=json.dumps(payload(code)),
        headers={"Content-Type": "application/json; charset=utf-8"},
        timeout=10,
    )
    assert charset.status_code == 200, charset.text  # the parameter does not matter


def test_a_code_is_exchanged_once(web, app):
    code = approve(web)
    assert exchange(web, payload(code)).status_code == 200
    again = refused(exchange(web, payload(code)))
    assert again == f"Error in mustGetFromDB(): Could not find doc w/ id {sha(code)} in auth-codes"
    assert code not in again


def test_an_old_code_is_not_recent_enough_and_then_expired(web, app):
    code = approve(web)
    made = timezone.now() - timedelta(minutes=11)
    SiwbbCode.objects.update(created_at=made, expires_at=made + timedelta(minutes=10))
    assert refused(exchange(web, payload(code))).startswith(
        "Not recent enough. Issued at time is too old: " + made.strftime("%Y-%m-%dT%H:%M")
    )
    no_window = payload(code, options={"issuedAtTimeWindowMs": 0})
    assert refused(exchange(web, no_window)) == "Expired."  # its own 10 minutes still apply
    query = urlencode({"options": '{"issuedAtTimeWindowMs": 0}'})
    by_query = web.post(f"{web.base}/api/v0/siwbb/token?{query}", json=payload(code))
    assert refused(by_query) == "Expired."  # the options of the query, when the body has none
    SiwbbCode.objects.update(expires_at=None)
    assert exchange(web, no_window).status_code == 200
    wide = payload(approve(web), options={"issuedAtTimeWindowMs": 60 * 60 * 1000})
    SiwbbCode.objects.filter(exchanged_at=None).update(
        created_at=made, expires_at=made + timedelta(minutes=10)
    )
    assert refused(exchange(web, wide)) == "Expired."  # 11 minutes: within the hour


REFUSED_EXCHANGES = [
    ({"client_secret": "wrong"}, "Invalid client secret."),
    ({"client_secret": ""}, "Invalid client secret."),
    ({"client_id": "other-app", "client_secret": "other"}, "Invalid client ID or redirect URI."),
    (
        {"client_id": "ghost"},
        "Error in mustGetFromDB(): Could not find doc w/ id ghost in auth-apps",
    ),
    ({"redirect_uri": "https://site.example/other"}, "Invalid redirect URI."),
    ({"redirect_uri": ""}, "Invalid redirect URI."),
    ({"code": ""}, "Invalid code."),
    ({"grant_type": None}, "Invalid grant type."),
]


def test_a_refused_exchange_names_why_and_leaves_the_code_usable(web, app):
    siwbb.register_app(client_id="other-app", client_secret="other", redirect_uris=[CALLBACK])
    code = approve(web)
    for change, message in REFUSED_EXCHANGES:
        body = {
            key: value for key, value in {**payload(code), **change}.items() if value is not None
        }
        assert refused(exchange(web, body)) == message, change
    assert exchange(web, payload(code)).status_code == 200


def test_bodies_of_the_wrong_shape_are_400_with_typia_errors_and_no_secrets(web, app):
    wrong = {"code": 12, "client_secret": ["s3cr3t-value"], "grant_type": "password"}
    message = refused(exchange(web, wrong), 400)
    assert message.startswith("Invalid request payload. [")
    assert '{"path":"$input.code","expected":"(string | undefined)"}' in message
    assert '"path":"$input.grant_type"' in message and '"value":"password"' in message
    assert "s3cr3t-value" not in message
    options = refused(exchange(web, payload("ab", options={"issuedAtTimeWindowMs": "0"})), 400)
    assert '"path":"$input.options.issuedAtTimeWindowMs"' in options
    assert refused(exchange(web, ["a", "list"]), 400).startswith("Invalid request payload.")
    broken = web.post(
        f"{web.base}/api/v0/siwbb/token",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert refused(broken, 400).startswith("Invalid request payload.")
    huge = exchange(web, payload("a" * (2 * 1024 * 1024)))
    assert refused(huge, 413) == "request entity too large"
    assert refused(exchange(web, {})) == "Invalid grant type."
    nothing = web.post(
        f"{web.base}/api/v0/siwbb/token", data="x", headers={"Content-Type": "text/plain"}
    )
    assert refused(nothing) == "Invalid grant type."  # no parser for it: an empty body
    assert web.get(f"{web.base}/api/v0/siwbb/token").status_code == 404


# --- Scopes: tokens, refresh, revoke -------------------------------------------------


def test_scopes_give_tokens_that_refresh_and_revoke_as_one_authorization(web, app):
    code = approve(web, scope="completeClaims,readPrivateClaimData")
    first = exchange(web, payload(code)).json()
    assert re.fullmatch(r"[0-9a-f]{64}", first["access_token"])
    assert re.fullmatch(r"[0-9a-f]{64}", first["refresh_token"])
    assert int(first["refresh_token_expires_at"]) - int(first["access_token_expires_at"]) > (
        58 * 86_400_000
    )
    row = SiwbbToken.objects.get()
    assert row.scopes == ["Complete Claims", "Read Private Claim Data"]
    assert first["access_token"] not in str(SiwbbToken.objects.values())

    refresh = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": SECRET}
    assert refused(exchange(web, refresh)) == "Invalid refresh token"
    assert refused(exchange(web, {**refresh, "refresh_token": "zz"})) == "Invalid refresh token."
    wrong = {**refresh, "refresh_token": first["refresh_token"], "client_secret": "no"}
    assert refused(exchange(web, wrong)) == "Invalid client secret."
    second = exchange(web, {**refresh, "refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    renewed = second.json()
    assert renewed["bitbadgesAddress"] == ALICE_BB and renewed["token_type"] == "Bearer"
    assert renewed["refresh_token"] != first["refresh_token"]
    old = exchange(web, {**refresh, "refresh_token": first["refresh_token"]})
    assert refused(old) == "Invalid refresh token."  # rotated

    revoke_url = f"{web.base}/api/v0/siwbb/token/revoke"
    revoked = web.post(revoke_url, json={"token": renewed["access_token"]})
    assert (revoked.status_code, revoked.json()) == (200, {})
    after = exchange(web, {**refresh, "refresh_token": renewed["refresh_token"]})
    assert refused(after) == "Invalid refresh token."  # the whole authorization is gone
    again = web.post(revoke_url, json={"token": renewed["access_token"]})
    assert refused(again) == (
        "Error in mustGetFromDB(): Could not find doc w/ id "
        f"{sha(renewed['access_token'])} in access-tokens"
    )
    assert refused(web.post(revoke_url, json={"token": 5})).startswith("Error on typia.assert()")
    assert refused(web.post(revoke_url, json={})).startswith("Error on typia.assert()")


def test_revoke_by_the_refresh_token_and_the_indexers_answer(web, app, settings):
    settings.SANDBOX_BITBADGES_WORDING = "idx-2024"
    tokens = exchange(web, payload(approve(web, scope="completeClaims"))).json()
    assert isinstance(tokens["access_token_expires_at"], int)  # the indexer's numbers
    month = tokens["refresh_token_expires_at"] - tokens["access_token_expires_at"]
    assert 28 * 86_400_000 < month < 30 * 86_400_000
    revoked = web.post(
        f"{web.base}/api/v0/siwbb/token/revoke", json={"token": tokens["refresh_token"]}
    )
    assert revoked.json() == {"message": "Token revoked"}
    assert not SiwbbToken.objects.exists()


# --- Keys and faults -----------------------------------------------------------------


def test_the_key_is_optional_but_a_wrong_one_is_refused(web, app, settings):
    code = approve(web)
    wrong = exchange(web, payload(code), headers={"x-api-key": "not-the-key"})
    assert refused(wrong, 401) == "Unauthorized request. Error validating API key."
    assert exchange(web, payload(code), headers={"x-api-key": KEY}).status_code == 200
    settings.SANDBOX_BITBADGES_SIWBB_KEY = "required"
    missing = exchange(web, payload(approve(web)))
    assert refused(missing, 401).startswith("Unauthorized request. This route is only")


def test_faults_can_be_injected_into_the_token_route(web, app, settings):
    code = approve(web)
    settings.SANDBOX_FAULTS = {"bitbadges.siwbb.token": {"status": 503}}
    assert refused(exchange(web, payload(code)), 503).endswith("(injected by the sandbox)")
    settings.SANDBOX_FAULTS = {"bitbadges.siwbb.*": {"hang_seconds": 0.5, "status": 504}}
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        web.post(f"{web.base}/api/v0/siwbb/token", json=payload(code), timeout=0.2)
    wait_until_served(max(0.0, started + 0.8 - time.monotonic()))  # the server thread ends
    settings.SANDBOX_FAULTS = {}
    assert exchange(web, payload(code)).status_code == 200  # nothing was used up


# --- Apps ----------------------------------------------------------------------------


def test_register_app_is_idempotent_updates_and_refuses_nonsense(app):
    before = SiwbbApp.objects.get().updated_at
    assert (
        siwbb.register_app(
            client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=[CALLBACK], name="Test App"
        ).updated_at
        == before
    )
    changed = siwbb.register_app(
        client_id=CLIENT_ID, client_secret="new", redirect_uris=["http://127.0.0.1:8000/cb/"]
    )
    assert (changed.client_secret_hash, changed.redirect_uris) == (
        sha("new"),
        ["http://127.0.0.1:8000/cb/"],
    )
    assert SiwbbApp.objects.count() == 1
    for bad in (
        {"redirect_uris": ["javascript:alert(1)"]},
        {"redirect_uris": ["https://x.example/#frag"]},
        {"redirect_uris": "https://x.example/"},
        {"client_secret": ""},
        {"client_id": " "},
    ):
        with pytest.raises(ValueError):
            siwbb.register_app(
                **{"client_id": "x", "client_secret": "y", "redirect_uris": [], **bad}
            )
    assert SiwbbApp.objects.count() == 1

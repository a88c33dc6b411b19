"""The host provider's token and userinfo endpoints against wrong, missing, oversized and
replayed input: each refusal carries RFC 6749 / RFC 6750's error code, never a 500, and
a refused exchange issues nothing."""

# ruff: noqa: F401, F811 (the fixtures imported from the support module are arguments here)

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.host import registry
from sandbox.host.models import HostAuthorizationCode, HostToken
from tests.sandbox.test_host_idp_support import (
    BASE,
    CALLBACK,
    CLIENT_ID,
    SECRET,
    VERIFIER,
    answer,
    approve,
    authorize_url,
    basic,
    browser_client,
    exchange,
    query_of,
    refused,
    site_client,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def code(browser_client, site_client) -> str:
    return approve(browser_client)


def issued_nothing() -> bool:
    return not HostToken.objects.exists()


def test_a_code_is_exchanged_once_and_a_replay_revokes_its_token(client, code):
    first = exchange(client, code)
    assert first.status_code == 200
    bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
    assert client.get(f"{BASE}/userinfo", headers=bearer).status_code == 200

    refused(exchange(client, code), 400, "invalid_grant")

    # RFC 6749 4.1.2: a code used twice revokes the tokens it gave.
    after = client.get(f"{BASE}/userinfo", headers=bearer)
    assert after.status_code == 401 and after.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in after["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"code_verifier": "w" * 43}, 400, "invalid_grant"),  # RFC 7636 4.6
        ({"code_verifier": None}, 400, "invalid_request"),  # the challenge needs one
        ({"code_verifier": "short"}, 400, "invalid_request"),
        ({"code_verifier": "v" * 129}, 400, "invalid_request"),
        ({"redirect_uri": "https://site.example/other"}, 400, "invalid_grant"),
        ({"redirect_uri": None}, 400, "invalid_grant"),
        ({"code": None}, 400, "invalid_request"),
        ({"code": "not-a-code"}, 400, "invalid_grant"),
        ({"code": "x" * 5000}, 400, "invalid_grant"),
        ({"code": "a\x00b"}, 400, "invalid_grant"),
        ({"grant_type": None}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, 400, "unsupported_grant_type"),
        ({"grant_type": 'x"\\\u00e9'}, 400, "unsupported_grant_type"),
    ],
    ids=[
        "wrong-verifier",
        "no-verifier",
        "short-verifier",
        "long-verifier",
        "other-redirect",
        "no-redirect",
        "no-code",
        "unknown-code",
        "huge-code",
        "nul-code",
        "no-grant-type",
        "password-grant",
        "refresh-grant",
        "odd-grant",
    ],
)
def test_a_wrong_exchange_gets_the_rfcs_error_and_leaves_the_code_usable(
    client, code, fields, status, error
):
    refused(exchange(client, code, **fields), status, error)

    assert issued_nothing()
    assert exchange(client, code).status_code == 200  # the right exchange still works


@pytest.mark.parametrize(
    ("fields", "headers", "status"),
    [
        ({}, {"Authorization": basic(secret="wrong")}, 401),
        ({}, {"Authorization": basic(client_id="nobody")}, 401),
        ({"client_id": CLIENT_ID, "client_secret": "wrong"}, {}, 401),
        ({"client_id": "nobody", "client_secret": SECRET}, {}, 400),
        ({}, {}, 401),
        ({"client_id": CLIENT_ID}, {}, 401),  # a public client: there are none here
        ({}, {"Authorization": "Basic %%%not-base64"}, 401),
        ({}, {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()}, 401),
        ({}, {"Authorization": "Basic " + base64.b64encode(b"x").decode()}, 401),
    ],
    ids=[
        "basic-wrong",
        "basic-unknown",
        "post-wrong",
        "post-unknown",
        "none",
        "id-only",
        "basic-garbage",
        "basic-not-utf8",
        "basic-no-colon",
    ],
)
def test_a_client_that_does_not_authenticate_is_invalid_client(
    client, code, fields, headers, status
):
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    body.update(code_verifier=VERIFIER, **fields)
    response = client.post(f"{BASE}/token", body, headers=headers)

    refused(response, status, "invalid_client")
    if status == 401:  # RFC 6749 5.2 (Authlib answers 401 whenever Basic is accepted)
        assert response["WWW-Authenticate"].startswith("Basic ")
    assert SECRET not in response.content.decode()
    raw = client.post(
        f"{BASE}/token",
        f"grant_type=authorization_code&code={code}&redirect_uri=%ff%fe&code_verifier=%c0",
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": basic()},
    )
    assert raw.status_code == 400 and raw.json()["error"] in {"invalid_grant", "invalid_request"}
    assert issued_nothing()
    assert exchange(client, code).status_code == 200


def test_a_code_of_another_client_is_invalid_grant(client, browser_client, code):
    registry.register_client(
        client_id="other", client_secret="other-secret", redirect_uris=[CALLBACK]
    )
    response = client.post(
        f"{BASE}/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER,
        },
        headers={"Authorization": basic("other", "other-secret")},
    )
    refused(response, 400, "invalid_grant")
    assert issued_nothing()


def test_an_expired_code_is_invalid_grant(client, code):
    HostAuthorizationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    refused(exchange(client, code), 400, "invalid_grant")
    assert issued_nothing()


def test_a_client_may_use_only_the_auth_methods_it_registered(client, browser_client, db):
    registry.register_client(
        client_id=CLIENT_ID,
        client_secret=SECRET,
        redirect_uris=[CALLBACK],
        token_endpoint_auth_methods=("client_secret_post",),
    )
    code = approve(browser_client)
    refused(exchange(client, code, auth="basic"), 401, "invalid_client")
    assert exchange(client, code, auth="post").status_code == 200


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda c, code: c.get(f"{BASE}/token"), "invalid_request"),  # POST only (3.2)
        (lambda c, code: c.put(f"{BASE}/token"), "invalid_request"),
        (
            lambda c, code: c.post(
                f"{BASE}/token",
                {"grant_type": "authorization_code", "code": code},
                content_type="application/json",
                headers={"Authorization": basic()},
            ),
            "invalid_request",
        ),
        (
            lambda c, code: c.post(
                f"{BASE}/token",
                {
                    "grant_type": "authorization_code",
                    "code": [code, code],
                    "redirect_uri": CALLBACK,
                },
                headers={"Authorization": basic()},
            ),
            "invalid_request",  # a parameter twice (3.2)
        ),
        (
            lambda c, code: c.post(
                f"{BASE}/token",
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": CALLBACK,
                    "client_id": CLIENT_ID,
                    "client_secret": SECRET,
                },
                headers={"Authorization": basic()},
            ),
            "invalid_request",  # two ways of authenticating (2.3)
        ),
        (
            lambda c, code: c.post(
                f"{BASE}/token?grant_type=authorization_code&code={code}",
                {"redirect_uri": CALLBACK},
                headers={"Authorization": basic()},
            ),
            "invalid_request",  # parameters in the query are not read (4.1.3)
        ),
    ],
    ids=["get", "put", "json", "twice", "two-auths", "in-query"],
)
def test_a_malformed_token_request_is_invalid_request(client, code, make, error):
    response = make(client, code)
    assert response.status_code in (400, 405)
    assert response.json()["error"] == error
    assert issued_nothing()


def test_an_oversized_or_overfull_body_is_invalid_request(client, code, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    big = exchange(client, code, padding="p" * 5000)
    refused(big, 400, "invalid_request")

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    many = exchange(client, code, **{f"f{n}": "x" for n in range(20)})
    refused(many, 400, "invalid_request")
    assert issued_nothing()


def test_a_nonce_is_used_once_per_client(browser_client, site_client):
    approve(browser_client, nonce="same")
    back = query_of(browser_client.get(authorize_url(nonce="same")))
    assert back["error"] == "invalid_request" and back["state"] == "st4te"


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, None),  # RFC 6750 3.1: no credentials, no error code
        ({"Authorization": "Bearer unknown-token"}, 401, "invalid_token"),
        ({"Authorization": "Bearer " + "x" * 5000}, 401, "invalid_token"),
        ({"Authorization": "Bearer"}, 400, "invalid_request"),
        ({"Authorization": basic()}, 400, "invalid_request"),
        ({"Authorization": "Bearer a\x00b"}, 401, "invalid_token"),
    ],
    ids=["none", "unknown", "huge", "empty", "basic", "nul"],
)
def test_userinfo_without_a_good_token(client, db, headers, status, error):
    response = client.get(f"{BASE}/userinfo", headers=headers)

    assert response.status_code == status
    assert response["WWW-Authenticate"].startswith('Bearer realm="Sandbox Community"')
    assert response.json().get("error") == error


def test_userinfo_refuses_an_expired_token_and_one_without_openid(client, browser_client, code):
    token = exchange(client, code).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    HostToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    refused(client.get(f"{BASE}/userinfo", headers=bearer), 401, "invalid_token")

    plain = exchange(client, approve(browser_client, scope="email", nonce=None)).json()
    assert "id_token" not in plain  # no openid scope: plain OAuth, no id_token
    response = client.get(
        f"{BASE}/userinfo", headers={"Authorization": f"Bearer {plain['access_token']}"}
    )
    refused(response, 403, "insufficient_scope")


def test_discovery_and_jwks_are_get_only(client, db):
    for path in ("/.well-known/openid-configuration", "/jwks"):
        response = client.delete(f"{BASE}{path}")
        assert response.status_code == 405 and response["Allow"] == "GET"


def test_an_authorize_post_without_a_decision_for_a_deleted_client_is_a_page(
    browser_client, site_client
):
    """The client goes away between the page and the answer: the answer is a page."""
    url = authorize_url()
    page = browser_client.get(url)
    site_client.delete()
    token = page.content.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = browser_client.post(url, {"csrfmiddlewaretoken": token, "decision": "approve"})
    assert response.status_code == 400 and "Location" not in response
    assert "<h1>Unknown site</h1>" in response.content.decode()


ODD_VALUES = ["", " ", "x" * 3000, 'é"\\<script>\u202e', "a\x00b", "%00", "../..", "\ufffd\u0301"]
AUTHORIZE_PARAMS = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "request",
]


def test_odd_values_in_any_authorize_parameter_never_cause_a_500(browser_client, site_client):
    for name in AUTHORIZE_PARAMS:
        for value in ODD_VALUES:
            for url in (authorize_url(**{name: value}), authorize_url() + f"&{name}=%ff%fe%c0"):
                page = browser_client.get(url)
                assert page.status_code in (200, 302, 400), (name, value, page.status_code)
                if page.status_code == 302:
                    assert page["Location"].startswith(CALLBACK), (name, value)
                if page.status_code == 200:  # the page, and its answer
                    answer_ = answer(browser_client, url, decision="approve", member="alice")
                    assert answer_.status_code in (302, 400), (name, value)


def test_odd_values_in_any_token_parameter_never_cause_a_500(client, code):
    for name in ("grant_type", "code", "redirect_uri", "code_verifier", "client_id"):
        for value in ODD_VALUES:
            auth = "post" if name == "client_id" else "basic"
            response = exchange(client, code, auth=auth, **{name: value})
            assert response.status_code in (400, 401), (name, value, response.status_code)
            assert response.json()["error"] in {
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unsupported_grant_type",
            }
    raw = client.post(
        f"{BASE}/token",
        f"grant_type=authorization_code&code={code}&redirect_uri=%ff%fe&code_verifier=%c0",
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": basic()},
    )
    assert raw.status_code == 400 and raw.json()["error"] in {"invalid_grant", "invalid_request"}
    assert issued_nothing()
    assert exchange(client, code).status_code == 200

"""The host site's OpenID Connect provider in the sandbox (sandbox/host/), through Django's
test client: discovery, jwks, the authorize page (approve, deny, links it will not act
on), the token exchange and the id_token, userinfo."""

# ruff: noqa: F401, F811 (the fixtures imported from the support module are arguments here)

import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata
from django.conf import settings as django_settings
from joserfc import jws
from joserfc.jwk import KeySet

from sandbox.host import registry
from sandbox.host.models import (
    HostAuthorizationCode,
    HostMember,
    HostSigningKey,
    HostToken,
    sha256_hex,
)
from tests.sandbox.test_host_idp_support import (
    BASE,
    CALLBACK,
    CLIENT_ID,
    CSRF,
    answer,
    approve,
    authorize_url,
    browser_client,
    exchange,
    query_of,
    site_client,
    verified_claims,
)

pytestmark = pytest.mark.django_db


@pytest.mark.one_database  # what the page says: no database engine changes it
def test_discovery_says_where_everything_is(client, settings):
    settings.PUBLIC_URL = "http://127.0.0.1:8123"
    response = client.get(f"{BASE}/.well-known/openid-configuration")

    assert response.status_code == 200
    doc = response.json()
    issuer = "http://127.0.0.1:8123/sandbox/host"
    assert doc["issuer"] == issuer  # exactly, no trailing slash (COMMON.md)
    assert doc["authorization_endpoint"] == f"{issuer}/authorize"
    assert doc["token_endpoint"] == f"{issuer}/token"
    assert doc["userinfo_endpoint"] == f"{issuer}/userinfo"
    assert doc["jwks_uri"] == f"{issuer}/jwks"
    assert doc["response_types_supported"] == ["code"]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["scopes_supported"] == ["openid", "email", "profile"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True  # RFC 9207 3
    assert {"sub", "email", "email_verified", "name", "preferred_username"} <= set(
        doc["claims_supported"]
    )
    OpenIDProviderMetadata(doc).validate()  # Authlib's check of Discovery 1.0 section 3
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        path = doc[name].removeprefix("http://127.0.0.1:8123")
        assert client.options(path).status_code != 404, name


def test_jwks_publishes_one_public_rs256_key_made_once(client):
    first = client.get(f"{BASE}/jwks").json()
    second = client.get(f"{BASE}/jwks").json()

    assert first == second and len(first["keys"]) == 1
    key = first["keys"][0]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert key["kid"] == HostSigningKey.objects.get().kid
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)  # never a private part
    KeySet.import_key_set(first)  # a JWK Set joserfc reads


@pytest.mark.one_database  # what the page says: no database engine changes it
def test_the_page_is_the_host_sites_with_who_and_what(browser_client, site_client):
    page = browser_client.get(authorize_url())

    assert page.status_code == 200
    text = page.content.decode()
    assert "<h1>Sandbox Community</h1>" in text
    assert "Sign on to Test Site with your Sandbox Community account" in text
    assert "your email address, and whether Sandbox Community has verified it" in text
    assert 'value="alice"' in text and 'value="bob"' in text and 'value="new"' in text
    assert "bob@community.example, not verified" in text
    assert '<label for="host-username">Or type a username</label>' in text
    assert "stands in for logging in to Sandbox Community" in text
    assert CSRF.search(text) and 'name="decision" value="approve"' in text
    assert "no-cache" in page["Cache-Control"] or "no-store" in page["Cache-Control"]
    # Its form may send the browser on to the client's origin, and no further.
    assert "form-action 'self' https://site.example" in page["Content-Security-Policy"]
    assert page["Referrer-Policy"] == django_settings.SECURE_REFERRER_POLICY  # not no-referrer
    assert not HostAuthorizationCode.objects.exists()


@pytest.mark.parametrize(
    ("params", "title"),
    [
        ({"client_id": None}, "No client"),
        ({"client_id": "nobody"}, "Unknown site"),
        ({"client_id": "x" * 201}, "This sign-on link is too long"),
        ({"client_id": "te\x00st"}, "Unknown site"),
        ({"redirect_uri": None}, "No redirect URI"),
        ({"redirect_uri": "https://evil.example/cb"}, "Redirect URI not registered"),
        ({"redirect_uri": CALLBACK + "&more=1"}, "Redirect URI not registered"),
        ({"redirect_uri": 'https://evil.example/\u00e9"\\'}, "Redirect URI not registered"),
        ({"state": "s" * 2001}, "This sign-on link is too long"),
        ({"scope": "openid " * 2000}, "This sign-on link is too long"),
    ],
    ids=[
        "no-client",
        "unknown-client",
        "long-client",
        "nul-client",
        "no-redirect",
        "other-redirect",
        "longer-redirect",
        "odd-redirect",
        "long-state",
        "long-query",
    ],
)
def test_a_link_it_cannot_trust_is_a_page_never_a_redirect(client, site_client, params, title):
    page = client.get(authorize_url(**params))

    assert page.status_code == 400
    assert "Location" not in page
    assert f"<h1>{title}</h1>" in page.content.decode()
    assert "Nothing was sent back to the site." in page.content.decode()


def test_client_id_or_redirect_uri_twice_is_a_page(client, site_client):
    page = client.get(authorize_url() + f"&redirect_uri={CALLBACK}")
    assert page.status_code == 400 and "gives redirect_uri more than once" in page.content.decode()


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "unsupported_response_type"),
        ({"response_type": 'co"de\\'}, "unsupported_response_type"),
        ({"scope": None}, "invalid_scope"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),  # a method without a challenge
        ({"nonce": "n" * 1001}, "invalid_request"),
        ({"nonce": "a\x00b"}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),  # no session at the host: it must ask
    ],
    ids=[
        "token",
        "no-response-type",
        "odd-response-type",
        "no-scope",
        "unknown-scope",
        "plain",
        "challenge-without-method",
        "short-challenge",
        "method-without-challenge",
        "long-nonce",
        "nul-nonce",
        "prompt-none",
    ],
)
def test_a_bad_request_from_a_known_client_goes_back_with_error_and_state(
    client, site_client, params, error
):
    back = query_of(client.get(authorize_url(**params)))

    assert back["error"] == error
    assert back["state"] == "st4te"
    assert back["iss"] == f"{django_settings.PUBLIC_URL}/sandbox/host"  # RFC 9207 2
    assert "code" not in back
    assert not HostAuthorizationCode.objects.exists()


def test_approve_sends_a_one_time_code_and_the_state_back_keeping_only_its_hash(
    browser_client, site_client
):
    response = answer(browser_client, authorize_url(nonce="n-1"), decision="approve", member="bob")

    assert response["Location"].startswith(CALLBACK + "&code=")  # its own query kept
    back = query_of(response)
    assert back["state"] == "st4te" and back["keep"] == "1"
    assert back["iss"] == f"{django_settings.PUBLIC_URL}/sandbox/host"  # RFC 9207 2
    row = HostAuthorizationCode.objects.get()
    assert row.code_hash == sha256_hex(back["code"]) and back["code"] not in str(row.__dict__)
    assert row.member.sub == "host-bob-0002" and row.nonce == "n-1"
    assert row.code_challenge_method == "S256" and row.redirect_uri == CALLBACK
    assert (row.expires_at - row.created_at).total_seconds() == 600


def test_deny_sends_access_denied_and_the_state_and_makes_no_code(browser_client, site_client):
    back = query_of(answer(browser_client, authorize_url(), decision="deny"))

    assert back == {
        "keep": "1",
        "error": "access_denied",
        "state": "st4te",
        "iss": f"{django_settings.PUBLIC_URL}/sandbox/host",  # RFC 9207 2: errors too
        **{"error_description": back["error_description"]},
    }
    assert not HostAuthorizationCode.objects.exists()


def test_a_new_member_and_a_typed_username(browser_client, client, site_client):
    new = exchange(client, approve(browser_client, member="new")).json()
    claims = verified_claims(client, new["id_token"])
    assert claims["preferred_username"].startswith("member-") and claims["email_verified"] is True
    assert claims["sub"].startswith("host-") and claims["sub"] not in {"host-alice-0001"}

    typed = answer(
        browser_client, authorize_url(), decision="approve", member="alice", username=" Carol.M "
    )
    token = exchange(client, query_of(typed)["code"]).json()
    claims = verified_claims(client, token["id_token"])
    assert claims["preferred_username"] == "carol.m"  # the typed one wins over the choice
    assert claims["email"] == "carol.m@community.example"
    again_code = query_of(
        answer(browser_client, authorize_url(), decision="approve", member="", username="CAROL.M")
    )["code"]
    again = exchange(client, again_code).json()
    assert verified_claims(client, again["id_token"])["sub"] == claims["sub"]  # the same member


@pytest.mark.one_database  # what the page says: no database engine changes it
@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        ({"decision": "approve", "member": "", "username": "bad name!"}, "A username is 1 to 30"),
        ({"decision": "approve", "member": "mallory"}, "Choose who signs on, or type a username."),
        ({"decision": "maybe", "member": "alice"}, "Choose Approve or Deny."),
    ],
    ids=["bad-username", "unknown-choice", "no-decision"],
)
def test_a_bad_answer_gets_a_sentence_and_the_form_again(
    browser_client, site_client, fields, sentence
):
    members = HostMember.objects.count()
    response = answer(browser_client, authorize_url(), **fields)

    assert response.status_code == 400
    assert sentence in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert not HostAuthorizationCode.objects.exists()
    assert HostMember.objects.count() <= members + 2  # at most alice and bob, made on demand


def test_the_form_is_csrf_protected(browser_client, site_client):
    response = browser_client.post(authorize_url(), {"decision": "approve", "member": "alice"})
    assert response.status_code == 403
    assert not HostAuthorizationCode.objects.exists()


def test_a_posted_form_cannot_change_the_request(browser_client, site_client):
    """The request is the link's query; fields posted beside the answer are not read."""
    response = answer(
        browser_client,
        authorize_url(),
        decision="approve",
        member="alice",
        redirect_uri="https://evil.example/cb",
        scope="openid",
        state="other",
    )
    back = query_of(response)
    assert response["Location"].startswith(CALLBACK) and back["state"] == "st4te"
    assert HostAuthorizationCode.objects.get().scope == "openid email profile"


@pytest.mark.parametrize("auth", ["basic", "post"])
def test_the_exchange_gives_tokens_and_a_signed_id_token(
    browser_client, client, site_client, auth, settings
):
    settings.PUBLIC_URL = "http://127.0.0.1:8123"
    code = approve(browser_client, nonce="n-3")
    response = exchange(client, code, auth=auth)

    assert response.status_code == 200, response.content
    assert response["Cache-Control"].startswith("no-store")
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "openid email profile" and "refresh_token" not in body
    header_kid = KeySet.import_key_set(client.get(f"{BASE}/jwks").json()).keys[0].kid
    claims = verified_claims(client, body["id_token"])
    assert claims["iss"] == "http://127.0.0.1:8123/sandbox/host"
    assert claims["aud"] == CLIENT_ID
    assert claims["sub"] == "host-alice-0001" and claims["nonce"] == "n-3"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["email"] == "alice@community.example" and claims["email_verified"] is True
    assert (claims["name"], claims["preferred_username"]) == ("Alice Adams", "alice")
    assert "at_hash" in claims and "auth_time" in claims
    assert jws.extract_compact(body["id_token"].encode()).protected["kid"] == header_kid
    token = HostToken.objects.get()
    assert token.access_token_hash == sha256_hex(body["access_token"])
    assert HostAuthorizationCode.objects.get().used_at is not None


def test_bob_s_email_is_not_verified_and_scopes_limit_the_claims(
    browser_client, client, site_client
):
    body = exchange(client, approve(browser_client, member="bob")).json()
    assert verified_claims(client, body["id_token"])["email_verified"] is False

    narrow = exchange(client, approve(browser_client, scope="openid", nonce="n-4")).json()
    claims = verified_claims(client, narrow["id_token"])
    assert "email" not in claims and "name" not in claims and claims["sub"] == "host-alice-0001"
    info = client.get(
        f"{BASE}/userinfo", headers={"Authorization": f"Bearer {narrow['access_token']}"}
    )
    assert info.json() == {"sub": "host-alice-0001"}


def test_userinfo_answers_the_bearer_with_the_members_claims(browser_client, client, site_client):
    token = exchange(client, approve(browser_client)).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}

    for response in (
        client.get(f"{BASE}/userinfo", headers=bearer),
        client.post(f"{BASE}/userinfo", headers=bearer),  # GET and POST (Core 5.3.1)
    ):
        assert response.status_code == 200
        assert response.json() == {
            "sub": "host-alice-0001",
            "name": "Alice Adams",
            "preferred_username": "alice",
            "email": "alice@community.example",
            "email_verified": True,
        }


def test_register_client_is_idempotent_updates_and_refuses_nonsense(db):
    first = registry.register_client(client_id="c1", client_secret="s", redirect_uris=[CALLBACK])
    again = registry.register_client(client_id="c1", client_secret="s", redirect_uris=[CALLBACK])
    assert first.pk == again.pk and again.updated_at == first.updated_at
    assert again.token_endpoint_auth_methods == ["client_secret_basic", "client_secret_post"]
    changed = registry.register_client(
        client_id="c1",
        client_secret="new",
        redirect_uris=["http://127.0.0.1:8000/cb"],
        token_endpoint_auth_methods=("client_secret_post",),
    )
    assert changed.pk == first.pk and changed.client_secret_hash == sha256_hex("new")
    assert changed.redirect_uris == ["http://127.0.0.1:8000/cb"]
    for bad in (
        {"client_id": ""},
        {"client_id": "a:b"},
        {"client_secret": ""},
        {"redirect_uris": "https://one.example/cb"},
        {"redirect_uris": ["ftp://x.example/cb"]},
        {"redirect_uris": ["https://x.example/cb#frag"]},
        {"redirect_uris": ["https://x.example/\u00e9"]},
        {"token_endpoint_auth_methods": ("none",)},
    ):
        arguments = {"client_id": "c2", "client_secret": "s", "redirect_uris": [CALLBACK], **bad}
        with pytest.raises(ValueError):
            registry.register_client(**arguments)

"""Hostile, oversized and odd requests to the host sign-on's routes: a sentence and a
4xx, never a 500, nothing written, nothing sent on to the host that should not be."""

from urllib.parse import quote

import pytest

from tests.hostsso.host_support import at_host, back, nothing_written, page_text, query, start

pytestmark = pytest.mark.django_db(transaction=True)

ROUTES = (
    "/auth/oidc/host/login/",
    "/auth/oidc/host/login/callback/",
    "/auth/oidc/host/login/cancelled/",
    "/auth/oidc/host/reauthenticate/",
    "/auth/oidc/host/disconnect/",
)


@pytest.mark.parametrize("method", ["head", "options", "put", "delete"])
def test_only_a_post_starts_other_methods_are_405(client, host, method):
    response = getattr(client, method)("/auth/oidc/host/login/?process=login")
    assert response.status_code == 405
    assert client.post("/auth/oidc/host/login/callback/").status_code == 405


def test_a_get_of_the_start_shows_a_button_and_sends_nobody_away(client, host):
    response = client.get("/auth/oidc/host/login/?process=login&next=/c/github-starter/")
    assert response.status_code == 200
    text = page_text(response)
    assert "Continue to Sandbox Community" in text and '<form method="post">' in text
    assert 'name="next" value="/c/github-starter/"' in text
    assert "Back to the log-in page" in text  # a way back without leaving


def test_the_authorize_link_asks_pkce_a_nonce_and_fixed_scopes(client, host):
    sent = query(start(client, next_url="/c/github-starter/"))
    assert sent["response_type"] == "code" and sent["scope"] == "openid email profile"
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert len(sent["nonce"]) >= 32 and sent["state"]
    assert sent["redirect_uri"] == f"{host.url}/auth/oidc/host/login/callback/"
    assert "client_secret" not in sent
    # Scopes and parameters from the query string are never passed on.
    response = client.post(
        "/auth/oidc/host/login/?scope=admin&auth_params=prompt%3Dnone", {"process": "login"}
    )
    again = query(response["Location"])
    assert again["scope"] == "openid email profile" and "prompt" not in again


@pytest.mark.parametrize(
    "data",
    [{"process": "redirect"}, {"process": "login", "next": "/" + "a" * 3000}],
    ids=["unknown-process", "oversized-next"],
)
def test_a_start_we_do_not_know_is_refused(client, host, data):
    response = client.post("/auth/oidc/host/login/", data)
    assert response.status_code == 400
    assert "This link does not start a sign-in this site knows" in page_text(response)


def test_a_next_to_another_site_is_dropped(client, host):
    sent = query(start(client, next_url="https://evil.example/steal"))
    response = back(client, at_host(f"{host.url}/sandbox/host/authorize?" + _qs(sent)))
    assert response.status_code == 302 and "evil.example" not in response["Location"]


@pytest.mark.parametrize(
    "next_url",
    ["//evil.example/x", "/\\evil.example", "https:evil.example", "javascript:alert(1)"],
)
def test_no_hostile_next_is_kept_on_the_start_page(client, host, next_url):
    # The same reading (allauth's get_next_redirect_url) as the POST that starts.
    for process in ("login", "connect"):
        page = client.get("/auth/oidc/host/login/", {"process": process, "next": next_url})
        text = page.content.decode()
        assert "evil" not in text and "javascript" not in text and 'name="next"' not in text


def _qs(params: dict) -> str:
    return "&".join(f"{key}={quote(value, safe='')}" for key, value in params.items())


@pytest.mark.parametrize(
    "code",
    ["x" * 3000, "bad\ncode", "co\u00efde"],
    ids=["oversized", "control-character", "not-ascii"],
)
def test_a_malformed_code_is_never_sent_to_the_host(client, host, settings, code):
    state = query(start(client))["state"]
    settings.SANDBOX_FAULTS = {"host.token": {"status": 500}}  # if it were sent: 503
    iss = quote(f"{host.url}/sandbox/host", safe="")
    response = client.get(
        f"/auth/oidc/host/login/callback/?state={state}&code={quote(code, safe='')}&iss={iss}"
    )
    assert response.status_code == 400
    assert "did not confirm the sign-in" in page_text(response)
    nothing_written()


@pytest.mark.parametrize(
    "query_string",
    [
        "code=abc&state=" + "s" * 5000,
        "code=abc&state=nope&state=nope2",
        "code=abc",
        "state=%00%ff&code=%00",
        "error=" + "e" * 3000,
    ],
    ids=["oversized", "two-states", "no-state", "nul-bytes", "huge-error"],
)
def test_a_callback_with_odd_parameters_is_a_sentence(client, host, query_string):
    start(client)
    iss = quote(f"{host.url}/sandbox/host", safe="")  # as the host sends it (RFC 9207)
    response = client.get(f"/auth/oidc/host/login/callback/?{query_string}&iss={iss}")
    assert 400 <= response.status_code < 500
    text = page_text(response)
    assert "Nothing was changed" in text or "nothing was changed" in text
    assert "e" * 100 not in text  # the host's error is never echoed
    nothing_written()


def test_off_every_route_is_404_and_no_button(client, settings):
    settings.HOST_OIDC_CLIENT_ID = ""
    settings.HOST_OIDC_CLIENT_SECRET = ""
    for path in ROUTES:
        assert client.get(path).status_code in (404, 405, 302), path
        assert client.post(path).status_code in (404, 405, 302), path
    assert client.get("/auth/oidc/host/login/").status_code == 404
    assert client.get("/auth/oidc/host/login/callback/?code=a&state=b").status_code == 404
    assert "/auth/oidc/host/" not in client.get("/login/").content.decode()

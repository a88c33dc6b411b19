"""Every way a sign-on from the host site can fail ends on a page with a sentence and a
way back (the host button, a password log-in), with no account, login or token written,
and never a 500: "no" at the host, a state we do not have, the host down, slow or
answering 500, an id_token that fails a check, an issuer that is not the configured one,
this site's client refused. The host is the sandbox's provider with its faults on.
"""

import re

import pytest
from django.contrib.auth import get_user_model

from tests.hostsso.host_support import (
    at_host,
    back,
    nothing_written,
    page_text,
    sign_on,
    start,
)

pytestmark = pytest.mark.django_db(transaction=True)


def a_way_back(text: str) -> bool:
    return 'action="/auth/oidc/host/login/"' in text and "Log in with a password" in text


def test_no_at_the_host_is_the_cancelled_page_with_the_button_again(client, host):
    response = sign_on(client, decision="deny", next_url="/c/github-starter/")
    assert response.status_code == 302
    assert response["Location"] == "/auth/oidc/host/login/cancelled/"
    page = client.get(response["Location"])
    text = page_text(page)
    assert page.status_code == 200
    assert "You did not approve the sign-in at Sandbox Community" in text
    assert a_way_back(text) and 'name="next" value="/c/github-starter/"' in text
    nothing_written()


def test_a_state_this_browser_does_not_have_is_refused(client, host):
    authorize_url = start(client)
    location = at_host(authorize_url)
    other_browser = client.__class__()
    response = back(other_browser, location)
    assert response.status_code == 400
    text = page_text(response)
    assert "this sign-in did not start in this browser" in text and a_way_back(text)
    # Nor twice in the browser it started in.
    assert back(client, location).status_code == 302
    again = back(client, location)
    assert again.status_code == 400 and "This sign-in has expired" in page_text(again)
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize(
    ("fault", "status", "words"),
    [
        ({"host.token": {"status": 500}}, 503, "Sandbox Community did not answer in time"),
        ({"host.token": {"status": 503}}, 503, "Sandbox Community did not answer in time"),
        ({"host.token": {"hang_seconds": 1.5}}, 503, "Sandbox Community did not answer in time"),
        ({"host.jwks": {"status": 500}}, 503, "Sandbox Community did not answer in time"),
        ({"host.userinfo": {"status": 502}}, 503, "Sandbox Community did not answer in time"),
        ({"host.token": {"malformed": True}}, 502, "We could not read the answer"),
        ({"host.jwks": {"malformed": True}}, 502, "We could not read the answer"),
    ],
    ids=[
        "token-500",
        "token-503",
        "token-slow",
        "jwks-500",
        "userinfo-502",
        "token-cut",
        "jwks-cut",
    ],
)
def test_the_host_down_slow_or_broken_after_approval(client, host, settings, fault, status, words):
    authorize_url = start(client)
    location = at_host(authorize_url)
    settings.SANDBOX_FAULTS = fault
    if any("hang_seconds" in answer for answer in fault.values()):
        # Shorter than the hang, so the wait is short; the other cases keep the default,
        # so a busy machine's slow answer is not taken for the fault under test.
        settings.HOST_OIDC_TIMEOUT = 0.5
    response = back(client, location)
    assert response.status_code == status
    text = page_text(response)
    assert words in text and "nothing was changed" in text and a_way_back(text)
    nothing_written()


@pytest.mark.parametrize(
    "fault", [{"host.discovery": {"status": 500}}, {"host.discovery": {"hang_seconds": 1.5}}]
)
def test_the_host_down_before_leaving_is_said_at_once(client, host, settings, fault):
    settings.HOST_OIDC_TIMEOUT = 0.5
    settings.SANDBOX_FAULTS = fault
    response = client.post("/auth/oidc/host/login/", {"process": "login"})
    assert response.status_code == 503
    assert "Sandbox Community did not answer in time" in page_text(response)
    nothing_written()


def test_a_host_nobody_answers_at(client, host, settings):
    settings.HOST_OIDC_ISSUER = "http://127.0.0.1:9/host"  # the discard port: refused
    response = client.post("/auth/oidc/host/login/", {"process": "login"})
    assert response.status_code == 503
    assert "did not answer in time" in page_text(response)


@pytest.mark.parametrize(
    "fault",
    [
        "host.id_token.bad_signature",
        "host.id_token.unknown_kid",
        "host.id_token.wrong_issuer",
        "host.id_token.wrong_audience",
        "host.id_token.expired",
        "host.id_token.wrong_nonce",
        "host.id_token.another_azp",  # OpenID Connect Core 3.1.3.7, items 4 and 5
        "host.id_token.another_audience_too",  # item 3: no audience it does not trust
        "host.id_token.other_sub",  # Core 5.3.2: userinfo's sub must be the id_token's
    ],
)
def test_an_id_token_that_fails_a_check_logs_nobody_in(client, host, settings, fault, caplog):
    authorize_url = start(client)
    location = at_host(authorize_url)
    settings.SANDBOX_FAULTS = {fault: {}}  # the token and userinfo answers
    response = back(client, location)
    assert response.status_code == 502
    text = page_text(response)
    assert "did not pass our checks" in text and a_way_back(text)
    assert not client.get("/profile/").wsgi_request.user.is_authenticated
    nothing_written()
    assert "Host sign-on: token" in caplog.text


def test_an_answer_without_the_iss_its_provider_promised_is_refused(client, host, caplog):
    # RFC 9207 2.4: the discovery document says every answer names its issuer.
    location = at_host(start(client))
    assert "&iss=" in location
    response = back(client, re.sub(r"&iss=[^&]*", "", location))
    assert response.status_code == 400
    assert "does not come from Sandbox Community" in page_text(response)
    nothing_written()
    # A stranger's link (no state of this browser) is refused without asking the host.
    caplog.clear()
    stranger = client.get("/auth/oidc/host/login/callback/?code=abc&state=not-ours")
    assert stranger.status_code == 400 and "This sign-in has expired" in page_text(stranger)
    assert "openid-configuration" not in caplog.text


def test_an_issuer_that_is_not_the_configured_one_is_refused(client, host, settings, caplog):
    # The discovery document names PUBLIC_URL/sandbox/host; the site expects another.
    settings.HOST_OIDC_ISSUER = f"{host.url}/sandbox/host/"
    response = client.post("/auth/oidc/host/login/", {"process": "login"})
    assert response.status_code == 502
    assert "The problem is on our side" in page_text(response)
    assert "its issuer is not HOST_OIDC_ISSUER" in caplog.text
    nothing_written()


def test_an_iss_parameter_of_another_provider_is_refused(client, host):
    location = at_host(start(client))
    response = back(client, location + "&iss=https%3A%2F%2Fevil.example")
    assert response.status_code == 400
    assert "does not come from Sandbox Community" in page_text(response)
    nothing_written()


def test_this_sites_client_refused_by_the_host(client, host, settings, caplog):
    location = at_host(start(client))
    settings.HOST_OIDC_CLIENT_SECRET = "not-the-secret-the-host-knows"
    response = back(client, location)
    assert response.status_code == 502
    text = page_text(response)
    assert "The problem is on our side" in text and "not-the-secret" not in text
    assert "not-the-secret" not in caplog.text
    nothing_written()


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        ("server_error", 503, "did not answer in time"),
        ("temporarily_unavailable", 503, "did not answer in time"),
        ("invalid_scope", 400, "sent you back with an error"),
    ],
)
def test_an_error_the_host_sends_back(client, host, error, status, words):
    location = at_host(start(client))
    state = location.split("state=")[1].split("&")[0]
    iss = f"{host.url}/sandbox/host"
    response = client.get(
        "/auth/oidc/host/login/callback/", {"error": error, "state": state, "iss": iss}
    )
    assert response.status_code == status and words in page_text(response)
    nothing_written()

"""Secrets on the error paths. The upstreams fail in the worst way: they echo back what
they were sent (the client secret, the bearer token, the API key, a claim's password and
a store's secret) in their error messages. The member's pages, the admin, the logs
(DEBUG) and every exception are then searched by the watch (conftest.py); these tests
also look for the values explicitly where the failure is shown."""

import json
import re

import pytest
import responses
from django.test import Client

from claims.models import Claim, Completion
from connections.models import ConnectedAccount
from tests.claims.claims_support import require, run_worker

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "claim-password-5be0c1d2-attack"
STORE_SECRET = "store-secret-7d14e9aa-attack"


def echo(request):
    """An upstream that repeats the request in its error: headers and body."""
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
    said = f"Bad request. You sent headers {dict(request.headers)} and body {body}"
    return (
        400,
        {"Content-Type": "application/json"},
        json.dumps({"error": said, "errorMessage": said, "error_description": said}),
    )


def test_a_pipedream_error_echoing_credentials_leaks_nowhere(upstreams, apps, alice, watch):
    member = Client()
    member.force_login(alice)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        # OAuth answers for real (the sandbox issues the access token, the watch keeps it);
        # minting a Connect token then fails with an echo of the bearer token.
        mock.add_passthru(f"{upstreams.url}/sandbox/pipedream/v1/oauth")
        mock.add_callback(responses.POST, re.compile(r".*/v1/connect/[^/]+/tokens$"), echo)
        page = member.get("/connect/github/", follow=True)
        token = member.post(
            "/connect/token/", json.dumps({"app": "github"}), content_type="application/json"
        )
    assert page.status_code == 200
    assert token.status_code in (400, 502)
    assert "Bearer" not in token.content.decode()
    assert any(name.startswith("OAuth access token") for name in watch.issued)
    echoed = [text for _, _, text in watch.logs if "You sent" in text]
    assert echoed and all("Bearer [redacted]" in text for text in echoed)


def test_an_oauth_error_echoing_the_client_secret_leaks_nowhere(
    upstreams, apps, alice, settings, watch
):
    member = Client()
    member.force_login(alice)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, re.compile(r".*/v1/oauth/token$"), echo)
        page = member.get("/connect/github/", follow=True)
    assert settings.PIPEDREAM_CLIENT_SECRET not in page.content.decode()
    assert [text for _, _, text in watch.logs if "You sent" in text]  # the echo was read


@pytest.mark.parametrize("delivery", ["dynamic_store", "bitbadges"])
def test_a_bitbadges_error_echoing_secrets_leaks_nowhere(upstreams, apps, alice, watch, delivery):
    watch.secret("claim password", PASSWORD)
    watch.secret("store secret", STORE_SECRET)
    claim = Claim(
        slug="echo",
        name="Echo",
        enabled=True,
        delivery=delivery,
        store_id="store-echo" if delivery == "dynamic_store" else "",
        bitbadges_claim_id="claim-echo" if delivery == "bitbadges" else "",
        password_instance_id="pwd" if delivery == "bitbadges" else "",
    )
    claim.set_store_secret(STORE_SECRET)
    claim.set_password(PASSWORD)
    claim.full_clean()
    claim.save()
    # Alice meets its one requirement, so the check goes on to BitBadges.
    require(claim, apps["github"])
    ConnectedAccount.objects.create(member=alice, app=apps["github"], pipedream_id="apn_alice")
    member = Client()
    member.force_login(alice)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, re.compile(r".*/sandbox/bitbadges/.*"), echo)
        mock.add_callback(responses.GET, re.compile(r".*/sandbox/bitbadges/.*"), echo)
        assert member.post("/claims/echo/check/").status_code == 302
        run_worker()
        run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state not in ("completed",)
    for path in ("/claims/", "/c/echo/"):
        text = member.get(path).content.decode()
        for value in (PASSWORD, STORE_SECRET, "sandbox-bitbadges-api-key"):
            assert value not in text
    staff = Client()
    from django.contrib.auth import get_user_model

    staff.force_login(
        get_user_model().objects.create_superuser("root2", "root2@example.com", "pw-long-enough")
    )
    for path in (
        f"/admin/claims/claim/{claim.pk}/change/",
        f"/admin/claims/completion/{completion.pk}/change/",
        "/admin/claims/completion/",
        "/admin/claims/completionevent/",
    ):
        response = staff.get(path)
        assert response.status_code == 200
        for value in (PASSWORD, STORE_SECRET):
            assert value not in response.content.decode(), path
    # The echo was read: the failure is logged (with the secrets redacted).
    echoed = [text for _, _, text in watch.logs if "You sent" in text]
    assert echoed and all("[redacted]" in text for text in echoed)

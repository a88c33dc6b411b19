"""Ids a browser sends that end up in an upstream URL: /connect/callback/'s account id
is only a hint, fetched from Pipedream with the server's credentials. Dot segments,
slashes and encoded variants must not reach another Pipedream route, and never record
an account that is not the member's."""

import json

import pytest
from django.test import Client

from connections import services
from connections.models import ConnectedAccount, ConnectSession

pytestmark = pytest.mark.django_db(transaction=True)

IDS = [
    "..",
    ".",
    "%2e%2e",
    "../users",
    "..%2F..%2Fusers",
    "apn_x/../../users",
    "apn_x?include_credentials=true",
    "apn_x#frag",
    " apn_x",
    "apn_\u202ex",
]


def test_odd_account_ids_in_the_callback_record_nothing(upstreams, apps, alice, settings, connect):
    settings.CONNECT_TOKEN_RATE_LIMIT = (100, 60)
    # Each odd id is one return to the site; the return limits are tested elsewhere.
    settings.CONNECT_RETURN_RATE_LIMIT = settings.CONNECT_RETURN_SESSION_RATE_LIMIT = (100, 60)
    from django.contrib.auth import get_user_model

    from tests.members_support import verify_email

    bob = verify_email(
        get_user_model().objects.create_user("bob", "bob@example.com", "connect-demo")
    )
    bob_account = connect(bob, "github", "bobs")
    client = Client()
    client.force_login(alice)
    minted = client.post(
        "/connect/token/", json.dumps({"app": "github"}), content_type="application/json"
    )
    assert minted.status_code == 200
    reference = minted.json()["session"]
    for account_id in [*IDS, bob_account.pipedream_id]:
        response = client.post(
            "/connect/callback/",
            json.dumps({"session": reference, "account": account_id}),
            content_type="application/json",
        )
        assert response.status_code in (400, 403, 404, 502), (account_id, response.status_code)
        assert "error" in response.json()
    assert not ConnectedAccount.objects.filter(member=alice).exists()
    assert ConnectedAccount.objects.get(pipedream_id=bob_account.pipedream_id).member == bob
    session = services.connect_session_for_reference(reference)
    assert session.status == ConnectSession.Status.ISSUED

"""Rate limits hold, per member: minting Connect tokens (POST /connect/token/ and the
Connect Link hand-off, against the sandbox over real HTTP), "Check again" on /claims/
and on the landing page, changing the address, and allauth's login and sign-up limits."""

import json
import re

import pytest
from django.test import Client

from claims.models import CompletionEvent
from connections.models import ConnectSession

TOKEN = "/connect/token/"


def mint(client):
    return client.post(TOKEN, json.dumps({"app": "github"}), content_type="application/json")


@pytest.mark.django_db(transaction=True)
def test_minting_connect_tokens_is_limited_per_member(upstreams, apps, member, bob, settings):
    settings.CONNECT_TOKEN_RATE_LIMIT = (3, 60)
    alice_client, bob_client = Client(), Client()
    alice_client.force_login(member)
    bob_client.force_login(bob)
    for _ in range(3):
        response = mint(alice_client)
        assert response.status_code == 200, response.content
        assert response.json()["token"].startswith("ctok_")
    refused = mint(alice_client)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Try again" in refused.json()["error"] or "try again" in refused.json()["error"]
    # The Connect Link hand-off counts against the same limit: no token, a message.
    link = alice_client.get("/connect/github/", follow=True)
    assert link.redirect_chain[-1][0] == "/accounts/"
    assert re.search(r"[Tt]ry again", link.content.decode())
    assert ConnectSession.objects.filter(member=member).count() == 3
    # bob's limit is his own.
    assert mint(bob_client).status_code == 200
    assert ConnectSession.objects.filter(member=bob).count() == 1


@pytest.fixture
def claim(db):
    from claims.models import Claim

    claim = Claim(slug="demo", name="Demo", enabled=True, delivery="dynamic_store", store_id="s")
    claim.set_store_secret("store-secret-ratelimit-attack")
    claim.save()
    return claim


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "htmx"),
    [
        ("/claims/demo/check/", False),
        ("/claims/demo/check/", True),
        ("/c/demo/check/", False),
        ("/c/demo/check/", True),
    ],
)
def test_check_again_is_limited_per_member(member, bob, claim, settings, path, htmx):
    settings.CLAIMS_CHECK_RATE_LIMIT = (2, 60)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    alice_client, bob_client = Client(), Client()
    alice_client.force_login(member)
    bob_client.force_login(bob)
    for _ in range(2):
        response = alice_client.post(path, **headers)
        assert "Retry-After" not in response
    events = CompletionEvent.objects.count()
    refused = alice_client.post(path, follow=not htmx, **headers)
    first = refused.redirect_chain[0] if not htmx else None
    text = refused.content.decode()
    match = re.search(r"Try again in (\d+) seconds\.", text)
    assert match and 1 <= int(match.group(1)) <= 60, text[:500]
    assert CompletionEvent.objects.count() == events  # the refused press changed nothing
    if htmx:
        assert 1 <= int(refused["Retry-After"]) <= 60
    else:
        assert first[1] == 303
    raw = alice_client.post(path, **headers)
    assert 1 <= int(raw["Retry-After"]) <= 60
    # bob is not held back by alice's presses.
    response = bob_client.post(path, follow=True, **headers)
    assert "Try again in" not in response.content.decode()


@pytest.mark.django_db
def test_changing_the_address_is_limited_per_member(member, bob, settings):
    settings.CLAIMS_CHECK_RATE_LIMIT = (2, 60)
    client = Client()
    client.force_login(member)
    addresses = [
        "0x742d35cC6634c0532925A3b844bc9E7595F0beB1",
        "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
        "0xdAC17F958D2ee523a2206206994597C13D831ec7",
    ]
    for address in addresses[:2]:
        client.post("/profile/address/", {"address": address})
    member.refresh_from_db()
    assert member.address == addresses[1]
    response = client.post("/profile/address/", {"address": addresses[2]}, follow=True)
    assert "Try again in" in response.content.decode()
    member.refresh_from_db()
    assert member.address == addresses[1]
    bob_client = Client()
    bob_client.force_login(bob)
    bob_client.post("/profile/address/", {"address": addresses[2]})
    bob.refresh_from_db()
    assert bob.address == addresses[2]


@pytest.mark.django_db
def test_login_failures_are_limited_per_login_name(member, bob):
    """5 wrong passwords per account in 5 minutes; then even the right password is
    refused for that account (answered as a wrong one: users.adapter), and another
    account is not affected."""
    client = Client()
    for _ in range(5):
        response = client.post("/login/", {"login": "alice", "password": "wrong"})
        assert response.status_code == 200
    blocked = client.post("/login/", {"login": "alice", "password": "connect-demo"})
    assert blocked.status_code in (200, 429)
    assert "_auth_user_id" not in client.session
    assert b"That username and password do not match" in blocked.content
    other = Client().post("/login/", {"login": "bob", "password": "connect-demo"})
    assert other.status_code == 302


@pytest.mark.django_db
def test_signups_are_limited_per_address(db):
    """allauth's signup limit: 20 a minute from one IP address."""
    client = Client()
    statuses = []
    for number in range(21):
        response = client.post(
            "/signup/",
            {
                "username": f"newcomer{number}",
                "email": f"newcomer{number}@example.com",
                "password1": "a-long-password-41",
                "password2": "a-long-password-41",
            },
        )
        statuses.append(response.status_code)
    assert statuses[:20] == [302] * 20
    assert statuses[20] == 429
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="newcomer20").exists()
    # From another address, sign-up still works.
    response = Client(REMOTE_ADDR="10.0.0.9").post(
        "/signup/",
        {
            "username": "elsewhere",
            "email": "elsewhere@example.com",
            "password1": "a-long-password-41",
            "password2": "a-long-password-41",
        },
    )
    assert response.status_code == 302

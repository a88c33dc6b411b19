"""Issue 17: a member cannot make the server call Pipedream without limit by disconnecting
an account or deleting theirs while Pipedream fails (each try calls it, with retries).
ACCOUNT_CHANGE_RATE_LIMIT counts each member's tries per action; past it, the page says
how long to wait and Pipedream is not called.

Pipedream is answered by `responses` (the `pd` fixture), failing on every call.
"""

import html

import pytest
import responses

from connections.models import App, ConnectedAccount
from tests.connections.services_support import ACCOUNTS_URL, API, PROJECT
from tests.members_support import reauthenticate, verify_email

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.ACCOUNT_CHANGE_RATE_LIMIT = (LIMIT, 60)


@pytest.fixture
def account(alice):
    github = App.objects.create(slug="github", name="GitHub", enabled=True)
    return ConnectedAccount.objects.create(
        member=alice, app=github, pipedream_id="apn_alice1", name="octocat"
    )


def upstream_calls(pd, method: str) -> int:
    return sum(1 for c in pd.calls if c.request.method == method)


@pytest.mark.parametrize("htmx", [False, True])
def test_disconnect_stops_calling_a_failing_pipedream_past_the_limit(
    client, alice, account, pd, htmx
):
    pd.add(responses.DELETE, f"{ACCOUNTS_URL}/apn_alice1", status=503, json={"error": "down"})
    client.force_login(alice)
    headers = {"HX-Request": "true"} if htmx else {}
    url = f"/accounts/{account.pk}/disconnect/"

    for _ in range(LIMIT):
        response = client.post(url, headers=headers, follow=not htmx)
        assert "Nothing was changed" in html.unescape(response.text)
    assert upstream_calls(pd, "DELETE") == LIMIT

    response = client.post(url, headers=headers, follow=not htmx)

    assert upstream_calls(pd, "DELETE") == LIMIT  # not called again
    text = html.unescape(response.text)
    assert "You have tried to disconnect accounts too often" in text
    assert "Try again in" in text
    assert response.status_code == 200  # htmx swaps the list; a form lands on the page
    if htmx:
        assert "<html" not in response.text and "octocat" in text
    else:
        assert response.redirect_chain == [("/accounts/", 302)]
    assert ConnectedAccount.objects.filter(pk=account.pk).exists()


def test_the_disconnect_limit_is_the_member_s_own(client, alice, account, pd, django_user_model):
    pd.add(responses.DELETE, f"{ACCOUNTS_URL}/apn_alice1", status=503, json={"error": "down"})
    client.force_login(alice)
    for _ in range(LIMIT + 1):
        client.post(f"/accounts/{account.pk}/disconnect/")
    assert upstream_calls(pd, "DELETE") == LIMIT

    bob = verify_email(django_user_model.objects.create_user(username="bob", password="x"))
    bobs = ConnectedAccount.objects.create(
        member=bob, app=account.app, pipedream_id="apn_bob1", name="bob-gh"
    )
    pd.add(responses.DELETE, f"{ACCOUNTS_URL}/apn_bob1", status=204)
    client.force_login(bob)
    response = client.post(f"/accounts/{bobs.pk}/disconnect/", follow=True)
    assert "is disconnected" in response.text
    assert not ConnectedAccount.objects.filter(pk=bobs.pk).exists()


def test_deleting_the_account_stops_calling_a_failing_pipedream_past_the_limit(
    client, alice, pd, django_user_model
):
    users_url = f"{API}/v1/connect/{PROJECT}/users/{alice.external_id}"
    pd.add(responses.DELETE, users_url, status=429, headers={"Retry-After": "1"})
    client.force_login(alice)
    reauthenticate(client)

    for _ in range(LIMIT):
        response = client.post("/profile/delete/", {"confirm": "alice"})
        assert response.status_code == 503
    assert upstream_calls(pd, "DELETE") == LIMIT

    response = client.post("/profile/delete/", {"confirm": "alice"})

    assert upstream_calls(pd, "DELETE") == LIMIT  # not called again
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    text = html.unescape(response.text)
    assert "Your account was not deleted." in text
    assert "You have tried to delete your account too often" in text
    assert django_user_model.objects.filter(pk=alice.pk).exists()

    # A form that does not confirm is answered as before, without Pipedream.
    assert client.post("/profile/delete/", {"confirm": "nope"}).status_code == 400
    assert upstream_calls(pd, "DELETE") == LIMIT

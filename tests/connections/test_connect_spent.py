"""A session reference is spent once it has recorded its account, and coming back from
Pipedream is rate-limited: against the Pipedream sandbox over HTTP (live_server), the
client's requests counted as they leave."""

import html
import json
from urllib.parse import urlsplit

import pytest
from django.test import Client

from connections.models import ConnectedAccount, ConnectSession
from connections.pipedream import PipedreamClient
from sandbox.pipedream.models import Account
from tests.connections.views_support import local
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)

DONE = "/connect/done/"
CALLBACK = "/connect/callback/"


@pytest.fixture
def upstream_calls(upstreams):
    """Every request the site's Pipedream client sends, as "METHOD /path"."""
    calls = []

    def hook(response, *args, **kwargs):
        calls.append(f"{response.request.method} {urlsplit(response.url).path}")

    session = PipedreamClient.pool.get()
    session.hooks["response"].append(hook)
    yield calls
    session.hooks["response"].remove(hook)


@pytest.fixture
def bob(django_user_model):
    return verify_email(django_user_model.objects.create_user(username="bob", password="pw-1234"))


@pytest.fixture
def alice(client, member, apps):
    client.force_login(member)
    return client


def hosted_allow(client, hand_off_location, name="octocat"):
    """Allow on the sandbox's hosted page; where it sends the member back."""
    answer = client.post(local(hand_off_location), {"action": "allow", "name": name})
    assert answer.status_code == 302, answer.content
    return local(answer["Location"])


def test_200_returns_with_one_reference_ask_pipedream_on_the_first_only(
    alice, upstream_calls, settings
):
    settings.CONNECT_RETURN_RATE_LIMIT = (1000, 60)
    settings.CONNECT_RETURN_SESSION_RATE_LIMIT = (1000, 60)
    done = hosted_allow(alice, alice.get("/connect/github/")["Location"])
    assert done.startswith(f"{DONE}?s=")
    upstream_calls.clear()

    first = alice.get(done, follow=True)
    assert "Your GitHub account is connected." in html.unescape(first.content.decode())
    on_first = list(upstream_calls)
    for _ in range(199):
        again = alice.get(done)
        assert again.status_code == 302 and again["Location"] == "/accounts/"

    # The first visit syncs (one list, which records the account too); none after.
    assert len(on_first) == 1, on_first
    assert upstream_calls == on_first
    session = ConnectSession.objects.get()
    assert session.status == ConnectSession.Status.CONNECTED
    assert ConnectedAccount.objects.count() == 1


def test_callbacks_after_the_account_is_recorded_answer_from_the_record(
    alice, upstream_calls, settings
):
    settings.CONNECT_RETURN_RATE_LIMIT = (1000, 60)
    settings.CONNECT_RETURN_SESSION_RATE_LIMIT = (1000, 60)
    minted = alice.post("/connect/token/", {"app": "github"}).json()
    page = alice.post(local(minted["iframe_url"]), {"action": "allow", "name": "octocat"})
    assert page.status_code == 200
    pipedream_id = Account.objects.get().account_id
    body = {"session": minted["session"], "account": pipedream_id}
    first = alice.post(CALLBACK, json.dumps(body), content_type="application/json")
    assert first.status_code == 200, first.content
    upstream_calls.clear()

    answers = [
        alice.post(CALLBACK, json.dumps(body), content_type="application/json") for _ in range(50)
    ]
    checks = [
        alice.post(
            CALLBACK,
            json.dumps({"session": minted["session"], "check": "1"}),
            content_type="application/json",
        )
        for _ in range(10)
    ]
    done = alice.get(f"{DONE}?s={minted['session']}&result=success")

    assert upstream_calls == []
    assert {a.status_code for a in answers} == {200}
    assert answers[-1].json() == first.json()
    assert {c.json()["connected"] for c in checks} == {True}
    assert done.status_code == 302 and done["Location"] == "/accounts/"


def test_returns_past_the_limits_get_429_with_retry_after_and_ask_nothing(
    alice, member, upstream_calls, settings, bob
):
    settings.CONNECT_RETURN_SESSION_RATE_LIMIT = (3, 60)
    settings.CONNECT_RETURN_RATE_LIMIT = (5, 60)
    minted = alice.post("/connect/token/", {"app": "github"}).json()
    done = f"{DONE}?s={minted['session']}&result=success"  # nothing connected: still issued
    upstream_calls.clear()

    allowed = [alice.get(done) for _ in range(3)]
    calls_allowed = len(upstream_calls)
    page = alice.get(done)
    as_json = alice.post(
        CALLBACK,
        json.dumps({"session": minted["session"], "check": "1"}),
        content_type="application/json",
    )

    assert {r.status_code for r in allowed} == {302}
    assert calls_allowed >= 3  # each visit of an issued session syncs
    assert page.status_code == 429 and 1 <= int(page["Retry-After"]) <= 60
    assert page["Content-Type"].startswith("text/html") and "Try again in" in page.text
    assert as_json.status_code == 429 and 1 <= int(as_json["Retry-After"]) <= 60
    assert "Try again in" in as_json.json()["error"]
    assert len(upstream_calls) == calls_allowed  # nothing asked past the limit

    # Per member: another session of alice's is refused once she has used 5 returns.
    other = alice.post("/connect/token/", {"app": "github"}).json()["session"]
    alice.get(f"{DONE}?s={other}&result=success")
    refused = alice.get(f"{DONE}?s={other}&result=success")
    assert refused.status_code == 429 and refused.has_header("Retry-After")

    # Bad, oversized or someone else's reference: still a 4xx, not a 429 nor a 500.
    bobs = Client()
    bobs.force_login(bob)
    assert bobs.get(done).status_code == 403
    for reference in ("nope", "x" * 5000, minted["session"][:-3] + "abc"):
        assert bobs.get(f"{DONE}?s={reference}").status_code == 400
        answer = bobs.post(
            CALLBACK, json.dumps({"session": reference, "account": "apn_x"}), "application/json"
        )
        assert answer.status_code == 400
    stolen = bobs.post(
        CALLBACK,
        json.dumps({"session": minted["session"], "account": "apn_x"}),
        content_type="application/json",
    )
    assert stolen.status_code == 400

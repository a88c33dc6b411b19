"""Pipedream's development mode through the site, over HTTP with the sandbox: ten members
connect, the eleventh reads a sentence they can act on, and the admin sees Pipedream's
reason. Production has no such limit."""

import html
import json
from urllib.parse import urlsplit

import pytest

from connections import services
from connections.models import ConnectedAccount, ConnectSession, WebhookEvent
from connections.services.errors import DEVELOPMENT_LIMIT_SENTENCE
from sandbox.pipedream import webhooks as sandbox_webhooks
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT_TEXT = "You've hit your limit on the number of external users you can connect."


def local(url: str) -> str:
    """A live_server URL as the test client asks for it."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def make_members(django_user_model, count: int, start: int = 0):
    return [
        verify_email(
            django_user_model.objects.create_user(username=f"member{n}", password="pw-12345678")
        )
        for n in range(start, start + count)
    ]


def connect_by_link(client, member):
    """The member connects GitHub through Connect Link; the page they end on."""
    client.force_login(member)
    hand_off = client.get("/connect/github/")
    assert hand_off.status_code == 302, hand_off.content
    answer = client.post(local(hand_off["Location"]), {"action": "allow"})
    assert answer.status_code == 302
    return client.get(local(answer["Location"]), follow=True)


def connect_in_iframe(client, member):
    """The member connects GitHub in the embedded iframe (the browser script's requests)."""
    client.force_login(member)
    minted = client.post("/connect/token/", {"app": "github"})
    assert minted.status_code == 200, minted.content
    return client.post(local(minted.json()["iframe_url"]), {"action": "allow"})


def ask_after_error(client, reason: str):
    """What connect.js asks when the hosted page posted {type: "error", error: reason}."""
    session = ConnectSession.objects.order_by("-created_at").first()
    answer = client.post(
        "/connect/callback/",
        json.dumps(
            {"session": services.session_reference(session), "check": "1", "reason": reason}
        ),
        content_type="application/json",
        headers={"accept": "application/json"},
    )
    assert answer.status_code == 200, answer.content
    return answer.json()


def deliver_webhooks(worker):
    sandbox_webhooks.wait_for_deliveries()
    worker()


def page_text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.mark.parametrize("connect_eleventh", [connect_by_link, connect_in_iframe])
def test_the_eleventh_member_in_development_reads_why_and_the_admin_sees_it(
    client, upstreams, apps, worker, django_user_model, admin_user, settings, connect_eleventh
):
    settings.PIPEDREAM_PROJECT_ENVIRONMENT = "development"
    for member in make_members(django_user_model, 10):
        done = connect_by_link(client, member)
        assert "Your GitHub account is connected." in page_text(done)
    deliver_webhooks(worker)
    assert ConnectedAccount.objects.count() == 10

    [eleventh] = make_members(django_user_model, 1, start=10)
    connect_eleventh(client, eleventh)
    deliver_webhooks(worker)

    accounts = page_text(client.get("/accounts/"))
    assert DEVELOPMENT_LIMIT_SENTENCE in accounts
    assert not ConnectedAccount.objects.filter(member=eleventh).exists()
    session = ConnectSession.objects.get(member=eleventh)
    assert session.status == ConnectSession.Status.FAILED
    assert session.error == LIMIT_TEXT
    # The ten who connected read nothing of it.
    client.force_login(django_user_model.objects.get(username="member0"))
    assert DEVELOPMENT_LIMIT_SENTENCE not in page_text(client.get("/accounts/"))

    client.force_login(admin_user)
    session_page = client.get(f"/admin/connections/connectsession/{session.pk}/change/")
    assert LIMIT_TEXT in page_text(session_page)
    events = page_text(client.get("/admin/connections/webhookevent/?event=CONNECTION_ERROR"))
    assert LIMIT_TEXT in events
    assert WebhookEvent.objects.filter(
        session=session, outcome=WebhookEvent.Outcome.FAILED
    ).exists()


def test_the_live_page_reads_the_same_sentence_as_the_reloaded_one(
    client, upstreams, apps, worker, django_user_model, settings
):
    """connect.js shows Pipedream's reason only after asking the server, whose answer
    carries the actionable sentence: before the webhook has arrived (from the reason the
    page posted) and after (from the failure it recorded)."""
    settings.PIPEDREAM_PROJECT_ENVIRONMENT = "development"
    for member in make_members(django_user_model, 10):
        connect_by_link(client, member)
    [eleventh] = make_members(django_user_model, 1, start=10)
    page = connect_in_iframe(client, eleventh)
    assert LIMIT_TEXT in page_text(page)  # what the hosted page posts to the site's page

    before = ask_after_error(client, LIMIT_TEXT)
    assert before == {
        "connected": False,
        "message": DEVELOPMENT_LIMIT_SENTENCE,
        "sentence": DEVELOPMENT_LIMIT_SENTENCE,
    }
    deliver_webhooks(worker)
    after = ask_after_error(client, "")  # the empty quirk: the recorded failure answers
    assert after["sentence"] == DEVELOPMENT_LIMIT_SENTENCE
    assert DEVELOPMENT_LIMIT_SENTENCE in page_text(client.get("/accounts/"))
    assert not ConnectedAccount.objects.filter(member=eleventh).exists()


def test_a_reason_the_member_can_fix_has_no_sentence_and_is_not_echoed(
    client, upstreams, apps, member
):
    client.force_login(member)
    minted = client.post("/connect/token/", {"app": "github"})
    denied = client.post(local(minted.json()["iframe_url"]), {"action": "deny"})
    assert "denied" in page_text(denied)
    answer = ask_after_error(client, "<b>The user denied the connection request.</b>")
    assert answer["connected"] is False
    assert "sentence" not in answer
    assert "<b>" not in answer["message"]  # the browser's text never comes back


def test_a_member_who_tries_again_no_longer_reads_the_old_failure(
    client, upstreams, apps, worker, django_user_model, settings
):
    settings.PIPEDREAM_PROJECT_ENVIRONMENT = "development"
    for member in make_members(django_user_model, 10):
        connect_by_link(client, member)
    [eleventh] = make_members(django_user_model, 1, start=10)
    connect_by_link(client, eleventh)
    deliver_webhooks(worker)
    assert DEVELOPMENT_LIMIT_SENTENCE in page_text(client.get("/accounts/"))

    client.post("/connect/token/", {"app": "github"})  # a new attempt is under way

    assert DEVELOPMENT_LIMIT_SENTENCE not in page_text(client.get("/accounts/"))


def test_production_has_no_limit(client, upstreams, apps, worker, django_user_model, settings):
    settings.PIPEDREAM_PROJECT_ENVIRONMENT = "production"
    for member in make_members(django_user_model, 11):
        done = connect_by_link(client, member)
        assert "Your GitHub account is connected." in page_text(done)
        assert DEVELOPMENT_LIMIT_SENTENCE not in page_text(done)
    deliver_webhooks(worker)
    assert ConnectedAccount.objects.count() == 11

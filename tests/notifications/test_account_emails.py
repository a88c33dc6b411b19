"""An account a claim needs stops working: one email, with a reconnect link that logs
nobody in by itself, sent by the task worker after a settle delay; never a storm.

Over HTTP against the Pipedream sandbox (live_server), with the real task worker."""

import datetime
import html as html_lib
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from connections.models import ConnectedAccount, ConnectSession
from notifications.models import Kind, Notification
from tests.claims.words_support import developer_strings, page_text
from tests.connections.views_support import connect_by_link, deliver_webhooks
from tests.notifications.notify_support import (
    as_sent,
    html_of,
    links,
    local,
    set_health,
    unsubscribe_url,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(settings, upstreams, apps, member, make_claim, connect):
    """alice (no BitBadges address yet: nothing gets delivered) with a GitHub and a
    Discord account, and a claim needing each."""
    settings.NOTIFICATIONS_SETTLE_SECONDS = 0
    github = connect(member, "github", "octo")
    discord = connect(member, "discord", "octo#1")
    make_claim("stars", name="Star Gazer", apps=[apps["github"]])
    make_claim("chatter", name="Chatter", apps=[apps["discord"]])
    return member, github, discord


def test_one_broken_account_sends_one_email_whose_link_reconnects(setup, worker, client):
    member, github, _ = setup
    set_health(member, github, state="unhealthy")
    worker()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert "GitHub account stopped working" in message.subject
    assert "Star Gazer" in message.body and "Chatter" not in message.body
    reconnect = [url for url in links(message.body) if "/connect/github/" in url]
    assert len(reconnect) == 1
    assert f"account={github.pk}" in reconnect[0]
    assert html_lib.escape(reconnect[0]) in html_of(message)
    row = Notification.objects.get()
    assert (row.kind, row.state, row.pipedream_id) == (
        Kind.ACCOUNT_BROKEN,
        "sent",
        github.pipedream_id,
    )

    # Logged out, the link lands on the login page, the way back kept.
    response = Client().get(local(reconnect[0]))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/login/"
    assert parse_qs(location.query)["next"] == [local(reconnect[0])]
    assert not ConnectSession.objects.exists()

    # Logged in, it starts the reconnect of that account; going through mends it.
    client.force_login(member)
    connect_by_link(client, local(reconnect[0]), "octo")
    session = ConnectSession.objects.get()
    assert session.reconnect_account_id == github.pk
    deliver_webhooks(worker)
    github.refresh_from_db()
    assert github.health == "healthy"
    assert ConnectedAccount.objects.filter(member=member, app__slug="github").count() == 1
    row.refresh_from_db()
    assert row.resolved_at is not None  # the broken episode is over
    assert len(mail.outbox) == 1


def test_still_broken_sends_nothing_more_and_breaking_again_is_new(setup, worker):
    member, github, _ = setup
    set_health(member, github, state="unhealthy")
    worker()
    set_health(member, github, state="dead")  # worse, same episode
    connections_sync_again = set_health
    connections_sync_again(member, github, state="dead")
    worker()
    assert len(mail.outbox) == 1
    set_health(member, github, state="healthy")
    set_health(member, github, state="unhealthy")
    worker()
    assert len(mail.outbox) == 2
    assert Notification.objects.filter(state="sent").count() == 2


def test_one_sync_breaking_several_accounts_sends_one_email(setup, worker):
    member, github, discord = setup
    set_health(member, github, discord, state="unhealthy")
    worker()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "2 of your accounts stopped working" in message.subject
    assert "/connect/github/" in message.body and "/connect/discord/" in message.body
    assert "Star Gazer" in message.body and "Chatter" in message.body
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}


def test_the_email_waits_the_settle_delay_and_a_recovery_cancels_it(setup, worker, settings):
    settings.NOTIFICATIONS_SETTLE_SECONDS = 120
    member, github, discord = setup
    set_health(member, github, state="unhealthy")
    set_health(member, discord, state="unhealthy")  # a second sync, a moment later
    worker()
    assert mail.outbox == []  # not due yet
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=121), tick=True):
        worker()
    assert len(mail.outbox) == 1  # both accounts, one email
    assert "/connect/discord/" in mail.outbox[0].body

    set_health(member, github, discord, state="healthy")
    set_health(member, github, state="unhealthy")
    set_health(member, github, state="healthy")  # back before the email went
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=121), tick=True):
        worker()
    assert len(mail.outbox) == 1
    skipped = Notification.objects.filter(state="skipped").get()
    assert skipped.reason == "The account worked again before the email went."


def test_no_email_when_no_claim_needs_the_account(setup, worker):
    member, github, _ = setup
    member.claim_set = None
    from claims.models import Claim

    Claim.objects.filter(slug="stars").update(enabled=False)
    set_health(member, github, state="unhealthy")
    worker()
    assert mail.outbox == []
    row = Notification.objects.get()
    assert row.state == "skipped" and "No enabled claim" in row.reason


def test_after_the_one_click_unsubscribe_nothing_comes(setup, worker):
    member, github, discord = setup
    set_health(member, github, state="unhealthy")
    worker()
    message = mail.outbox[0]
    sent = as_sent(message)
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = unsubscribe_url(message)
    # The mail client's one-click POST: no session, no CSRF token.
    answer = Client(enforce_csrf_checks=True).post(
        local(url),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    set_health(member, discord, state="unhealthy")
    set_health(member, github, state="healthy")
    set_health(member, github, state="unhealthy")
    worker()
    assert len(mail.outbox) == 1
    assert set(Notification.objects.filter(state="skipped").values_list("reason", flat=True)) == {
        "The member turned these emails off."
    }


def test_the_emails_words_are_for_members(setup, worker):
    member, github, discord = setup
    set_health(member, github, discord, state="dead")
    worker()
    message = mail.outbox[0]
    for text in (message.subject, message.body, page_text(html_of(message))):
        assert developer_strings(text) == [], text


def test_an_unconfirmed_address_or_a_deactivated_member_is_skipped(setup, worker):
    member, github, discord = setup
    member.emailaddress_set.update(verified=False)
    set_health(member, github, state="unhealthy")
    worker()
    assert mail.outbox == []
    assert Notification.objects.get().reason == "The member has no confirmed email address."
    member.emailaddress_set.update(verified=True)
    member.is_active = False
    member.save(update_fields=["is_active"])
    set_health(member, discord, state="unhealthy")
    worker()
    assert mail.outbox == []
    assert Notification.objects.filter(reason="The member's account is deactivated.").count() == 1

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
from tests.connections.views_support import connect_by_link, deliver_webhooks
from tests.notifications.notify_support import (
    html_of,
    links,
    local,
    set_health,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_broken_account_sends_one_email_whose_link_reconnects(two_accounts, worker, client):
    member, github, _ = two_accounts
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


def test_still_broken_sends_nothing_more_and_breaking_again_is_new(two_accounts, worker):
    member, github, _ = two_accounts
    set_health(member, github, state="unhealthy")
    worker()
    set_health(member, github, state="dead")  # worse, same episode
    set_health(member, github, state="dead")  # a second sync, still broken
    worker()
    assert len(mail.outbox) == 1
    # Mended and broken again within the cooldown (24 h): a new event, but no email.
    set_health(member, github, state="healthy")
    set_health(member, github, state="unhealthy")
    worker()
    assert len(mail.outbox) == 1
    quiet = Notification.objects.get(state="skipped")
    assert quiet.reason.startswith("The member was told about this account at ")
    assert quiet.reason.endswith(" UTC; not again so soon.")
    # A day later, breaking again is told.
    set_health(member, github, state="healthy")
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=24, minutes=1), tick=True):
        set_health(member, github, state="unhealthy")
        worker()
    assert len(mail.outbox) == 2
    assert Notification.objects.filter(state="sent").count() == 2


def test_the_cooldown_is_a_setting(two_accounts, worker, settings):
    settings.NOTIFICATIONS_ACCOUNT_COOLDOWN_SECONDS = 0
    member, github, _ = two_accounts
    set_health(member, github, state="unhealthy")
    worker()
    set_health(member, github, state="healthy")
    set_health(member, github, state="unhealthy")
    worker()
    assert len(mail.outbox) == 2


def test_one_sync_breaking_several_accounts_sends_one_email(two_accounts, worker):
    member, github, discord = two_accounts
    set_health(member, github, discord, state="unhealthy")
    worker()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "2 of your accounts stopped working" in message.subject
    assert "/connect/github/" in message.body and "/connect/discord/" in message.body
    assert "Star Gazer" in message.body and "Chatter" in message.body
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}


def test_the_email_waits_the_settle_delay_and_a_recovery_cancels_it(two_accounts, worker, settings):
    settings.NOTIFICATIONS_SETTLE_SECONDS = 120
    member, github, discord = two_accounts
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

"""Account emails that are not sent, and what is sent reads as words for members: no claim
needs the account, the member unsubscribed in one click, no confirmed address, a
deactivated member. Over HTTP against the Pipedream sandbox, with the task worker."""

import datetime

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone, translation

from claims.models import Claim, Completion
from notifications import sending
from notifications.models import Notification
from tests.claims.words_support import developer_strings, page_text
from tests.notifications.notify_support import (
    as_sent,
    html_of,
    local,
    set_health,
    unsubscribe_url,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_no_email_when_no_claim_needs_the_account(two_accounts, worker):
    member, github, _ = two_accounts
    Claim.objects.filter(slug="stars").update(enabled=False)
    set_health(member, github, state="unhealthy")
    worker()
    assert mail.outbox == []
    row = Notification.objects.get()
    assert row.state == "skipped" and "No enabled claim" in row.reason


def test_after_the_one_click_unsubscribe_nothing_comes(two_accounts, worker):
    member, github, discord = two_accounts
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


def test_the_emails_words_are_for_members(two_accounts, worker):
    member, github, discord = two_accounts
    set_health(member, github, discord, state="dead")
    worker()
    message = mail.outbox[0]
    for text in (message.subject, message.body, page_text(html_of(message))):
        assert developer_strings(text) == [], text


def test_an_unconfirmed_address_or_a_deactivated_member_is_skipped(two_accounts, worker):
    member, github, discord = two_accounts
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


def test_the_email_waits_only_for_checks_of_claims_needing_the_app(
    two_accounts, worker, make_claim, apps
):
    """A claim of another app waiting for its check, or one retrying its delivery, reads
    no GitHub account: the GitHub email does not wait for them."""
    member, github, _ = two_accounts
    chatter = Claim.objects.get(slug="chatter")  # needs Discord
    Completion.objects.create(claim=chatter, member=member, state="waiting")
    extra = make_claim("extra", name="Extra", apps=[apps["github"]])
    Completion.objects.create(claim=extra, member=member, state="retrying")
    set_health(member, github, state="unhealthy")
    worker()
    assert len(mail.outbox) == 1
    assert "Star Gazer" in mail.outbox[0].body


def test_the_email_is_in_the_sites_language_whatever_the_worker_has(two_accounts, worker, settings):
    settings.NOTIFICATIONS_SETTLE_SECONDS = 3600
    member, github, _ = two_accounts
    set_health(member, github, state="unhealthy")
    worker()  # the claims' checks; the email is not due
    Notification.objects.update(send_after=timezone.now() - datetime.timedelta(seconds=1))
    with translation.override("de"):
        assert sending.send_due(member.pk).summary == "sent 1 of 1"
    assert '<html lang="en">' in html_of(mail.outbox[0])

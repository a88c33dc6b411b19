"""A badge earned: one email naming it with a link to its page, sent by the task worker
once the engine records the completion (claims.signals.completion_completed, on
commit); never twice for one completion. Over HTTP against both sandboxes."""

import datetime
import uuid

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from claims.audit import Actor
from claims.engine import ledger, staff_actions
from claims.models import Claim, Completion
from claims.signals import completion_completed
from notifications.models import Notification, Preference
from tests.claims.claims_support import random_address
from tests.claims.words_support import developer_strings, page_text
from tests.notifications.notify_support import html_of, links

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def starter(demo_claims):
    """The demo's BitBadges claim alone (the others are off)."""
    Claim.objects.exclude(slug="github-starter").update(enabled=False)
    return demo_claims["github-starter"]


@pytest.fixture
def earned(starter, alice, connect, worker):
    claim = starter
    connect(alice, "github", "octo")
    worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "completed", completion.reason
    return completion


def test_an_earned_badge_sends_one_email_naming_it(earned, settings):
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    claim = earned.claim
    badge = claim.bitbadges_name or claim.name
    assert message.to == ["alice@example.com"]
    assert f"You earned {badge}" in message.subject
    assert f"{settings.PUBLIC_URL}/c/{claim.slug}/" in links(message.body)
    assert f'href="{settings.PUBLIC_URL}/c/{claim.slug}/"' in html_of(message)
    for text in (message.subject, message.body, page_text(html_of(message))):
        assert developer_strings(text) == [], text
    row = Notification.objects.get()
    assert (row.key, row.state, row.completion_id) == (f"completion:{earned.pk}", "sent", earned.pk)


def test_the_signal_twice_still_sends_one_email(earned, worker):
    completion_completed.send(sender=Completion, completion=earned)
    completion_completed.send(sender=Completion, completion=earned)
    worker()
    assert len(mail.outbox) == 1
    assert Notification.objects.count() == 1


def test_a_move_that_did_not_happen_sends_nothing(earned, worker):
    """ledger.completed by a worker without the lease moves nothing and tells nobody."""
    Notification.objects.all().delete()
    assert not ledger.completed(earned, uuid.uuid4(), actor=Actor.worker(), reference="x")
    worker()
    assert not Notification.objects.exists()
    assert len(mail.outbox) == 1


def test_turned_off_it_is_skipped(starter, alice, connect, worker):
    Preference.objects.create(member=alice, badge_earned=False)
    connect(alice, "github", "octo")
    worker()
    assert Completion.objects.get(member=alice, claim=starter).state == ("completed")
    assert mail.outbox == []
    assert Notification.objects.get().reason == "The member turned these emails off."


def test_a_staff_reissue_delivering_again_sends_no_second_email(earned, alice, worker):
    """The re-issue goes through ledger.completed again (a real move): the member was
    told once for this completion, and is not told again."""
    alice.address = random_address()
    alice.save(update_fields=["address"])
    boss = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    staff_actions.reissue(completion_id=earned.pk, staff=boss, reason="Wrong address.")
    worker()
    earned.refresh_from_db()
    assert earned.state == "completed", earned.reason
    assert earned.events.filter(to_state="completed").count() == 2
    assert len(mail.outbox) == 1 and Notification.objects.count() == 1


def test_badges_earned_together_go_in_one_email(demo_claims, alice, connect, worker, settings):
    """One connect completing two demo claims: one email after the settle window, naming
    both, each with its link; still one row per completion."""
    settings.NOTIFICATIONS_BADGE_SETTLE_SECONDS = 60
    connect(alice, "github", "octo")
    worker()
    done = list(Completion.objects.filter(member=alice, state="completed").select_related("claim"))
    assert len(done) >= 2, list(Completion.objects.values_list("claim__slug", "state", "reason"))
    assert mail.outbox == []  # settling
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=61), tick=True):
        worker()
    assert len(mail.outbox) == 1, list(Notification.objects.values("state", "send_after", "reason"))
    message = mail.outbox[0]
    assert f"You earned {len(done)} badges" in message.subject
    for completion in done:
        claim = completion.claim
        assert (claim.bitbadges_name or claim.name) in message.body
        assert f"{settings.PUBLIC_URL}/c/{claim.slug}/" in links(message.body)
        assert f'href="{settings.PUBLIC_URL}/c/{claim.slug}/"' in html_of(message)
    rows = Notification.objects.all()
    assert len(rows) == len(done) and {row.state for row in rows} == {"sent"}


def test_a_badge_earned_while_another_waits_joins_its_email(
    demo_claims, alice, connect, worker, settings
):
    """The second badge of a settle window goes out with the first, when the first's
    window ends: not in a window of its own, started later."""
    from claims.tasks import claim_discover_task

    settings.NOTIFICATIONS_BADGE_SETTLE_SECONDS = 60
    others = list(Claim.objects.filter(enabled=True).exclude(slug="github-starter"))
    Claim.objects.filter(pk__in=[claim.pk for claim in others]).update(enabled=False)
    start = timezone.now()
    connect(alice, "github", "octo")
    worker()
    first = Notification.objects.get()
    assert Completion.objects.filter(member=alice, state="completed").count() == 1
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=True):
        Claim.objects.filter(pk__in=[claim.pk for claim in others]).update(enabled=True)
        for claim in others:
            claim_discover_task.enqueue(claim.pk)
        worker()
    rows = list(Notification.objects.all())
    assert len(rows) >= 2 and {row.send_after for row in rows} == {first.send_after}
    assert mail.outbox == []
    with time_machine.travel(first.send_after + datetime.timedelta(seconds=1), tick=True):
        worker()
    assert len(mail.outbox) == 1
    assert f"You earned {len(rows)} badges" in mail.outbox[0].subject

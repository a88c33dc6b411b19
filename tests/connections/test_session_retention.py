"""Connect sessions are pruned (`manage.py prune_records`): one that has ended
(connected, failed, expired, or issued with its token expired) goes RETENTION_SESSION_DAYS
after it began, once no delivery that stays names it. Its account stays; a delivery that
stays keeps its session; an open or recent session stays; --dry-run counts exactly."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from connections.models import ConnectedAccount, ConnectSession, WebhookEvent
from tests.connections.services_support import make_session

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
KIND = "connect sessions"


def prune(*args) -> dict[str, str]:
    out = io.StringIO()
    call_command("prune_records", *args, stdout=out)
    lines = [line.split(": ", 1) for line in out.getvalue().splitlines() if ": " in line]
    return dict(lines)


def session(member, app, n, *, days_old, expires_at=None, **fields):
    made = make_session(member, app, token=f"ctok_{n}", **fields)
    moved = {"created_at": timezone.now() - days_old * DAY}
    ConnectSession.objects.filter(pk=made.pk).update(
        **moved, **({"expires_at": expires_at} if expires_at else {})
    )
    return made


def delivery(made, *, days_old):
    event = WebhookEvent.objects.create(body_digest="d" * 64, session=made, outcome="duplicate")
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - days_old * DAY)
    return event


@pytest.fixture
def sessions(member, github, settings):
    settings.RETENTION_SESSION_DAYS = 30
    settings.RETENTION_DELIVERY_DAYS = 90
    account = ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_1")
    past = timezone.now() - 40 * DAY
    S = ConnectSession.Status
    gone = [
        session(member, github, 1, days_old=40, status=S.CONNECTED, account=account),
        session(member, github, 2, days_old=40, status=S.FAILED, error="Denied."),
        session(member, github, 3, days_old=40, status=S.EXPIRED),
        session(member, github, 4, days_old=40, expires_at=past),  # issued, token expired
    ]
    # Named by a delivery this run deletes (past RETENTION_DELIVERY_DAYS): goes too.
    old_delivery = delivery(gone[1], days_old=100)
    kept = [
        session(member, github, 5, days_old=10, status=S.CONNECTED, account=account),  # recent
        session(member, github, 6, days_old=40),  # issued, its token still valid
        session(member, github, 7, days_old=40, status=S.FAILED),  # named by a kept delivery
    ]
    kept_delivery = delivery(kept[2], days_old=10)
    return account, gone, kept, old_delivery, kept_delivery


def test_dry_run_counts_the_ended_sessions_and_changes_nothing(sessions):
    assert prune("--dry-run")[KIND] == "would remove 4"
    assert ConnectSession.objects.count() == 7


def test_ended_sessions_go_their_accounts_and_kept_deliveries_stay(sessions):
    account, gone, kept, old_delivery, kept_delivery = sessions
    assert prune("--batch-size", "3")[KIND] == "removed 4"
    assert not ConnectSession.objects.filter(pk__in=[s.pk for s in gone]).exists()
    assert set(ConnectSession.objects.values_list("pk", flat=True)) == {s.pk for s in kept}
    # The account a pruned session recorded stays, and so does the delivery that stays.
    assert ConnectedAccount.objects.filter(pk=account.pk).exists()
    kept_delivery.refresh_from_db()
    assert kept_delivery.session_id == kept[2].pk
    assert not WebhookEvent.objects.filter(pk=old_delivery.pk).exists()
    # Run again: nothing more is due.
    assert prune()[KIND] == "removed 0"

"""check_alerts: each condition opens one incident, tells the operators once, and is
resolved (with one more message) when it has cleared; nothing is judged that cannot be.

Pipedream is answered by `responses` (the `pd` fixture grants the OAuth token unless a
test says otherwise); the rows are made directly, in bulk where there are many.
"""

import datetime
import io

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from claims.models import Completion, CompletionEvent, DeliveryPause
from operations.alerts import conditions, incidents, open_incidents
from operations.models import AlertDelivery, Incident
from tests.connections.services_support import API

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def quick(settings, pd):
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.ALERT_RESOLVE_AFTER = 0  # resolved at the first pass that finds it clear
    return pd


def check() -> str:
    out = io.StringIO()
    call_command("check_alerts", stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def claim(make_claim):
    return make_claim("starter")


def completions(claim, count: int, **fields) -> list[Completion]:
    User = get_user_model()
    start = User.objects.count()
    members = User.objects.bulk_create(
        User(username=f"c{start + n}", email=f"c{start + n}@example.com") for n in range(count)
    )
    return Completion.objects.bulk_create(
        Completion(claim=claim, member=member, **fields) for member in members
    )


def emails() -> list[str]:
    return [message.subject for message in mail.outbox]


def test_unknown_outcomes_past_the_threshold_open_one_incident_and_clear_it(claim, settings):
    settings.ALERT_UNKNOWN_AFTER = 1800
    old = timezone.now() - HOUR
    rows = completions(
        claim,
        3,
        state="retrying",
        outcome_unknown=True,
        last_attempt_at=old,
        next_attempt_at=timezone.now() + HOUR,
    )
    completions(claim, 2, state="retrying", outcome_unknown=True, last_attempt_at=timezone.now())
    assert "opened: Outcomes unknown" in check()
    incident = open_incidents().get()
    assert (incident.kind, incident.count) == ("unknown", 3)
    check()
    assert emails() == ["[Connect & Claim] Alert: Outcomes unknown"]

    Completion.objects.filter(pk__in=[r.pk for r in rows]).update(
        outcome_unknown=False, state="completed"
    )
    assert "resolved: Outcomes unknown" in check()
    assert not open_incidents().exists()
    assert emails()[-1] == "[Connect & Claim] Resolved: Outcomes unknown"
    assert AlertDelivery.objects.count() == 2


def test_a_backlog_by_count_or_by_age(claim, settings):
    settings.ALERT_BACKLOG = 4
    settings.ALERT_BACKLOG_AGE = 900
    now = timezone.now()
    completions(claim, 4, state="waiting", next_attempt_at=now)
    check()
    assert not Incident.objects.exists()  # 4 due, none waiting long: fine
    completions(claim, 1, state="retrying", next_attempt_at=now - HOUR)
    check()
    incident = Incident.objects.get()
    assert (incident.kind, incident.count) == ("backlog", 5)
    assert "oldest has waited 60 minutes" in incident.summary
    assert len(mail.outbox) == 1


def test_credits_out_opens_one_incident_while_the_pause_lasts(claim):
    completions(claim, 7, state="waiting", paused_at=timezone.now())
    pause = DeliveryPause.objects.create(
        upstream="bitbadges",
        reason="402",
        action_url="https://bitbadges.io/developer?tab=apiKeys",
        next_probe_at=timezone.now() + HOUR,
    )
    check()
    check()
    incident = Incident.objects.get()
    assert (incident.kind, incident.key, incident.count) == ("credits", "bitbadges", 7)
    assert "https://bitbadges.io/developer" in incident.summary
    # BitBadges tells an API key nothing of its balance before it is none: it says so.
    assert "cannot come earlier: BitBadges tells an API key nothing" in incident.summary
    assert "cannot come earlier" in mail.outbox[0].body
    assert len(mail.outbox) == 1
    pause.delete()
    check()
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert len(mail.outbox) == 2


def test_pipedream_refusing_the_credentials_and_pipedream_not_answering(settings, quick):
    quick.replace(
        "POST",
        f"{API}/v1/oauth/token",
        json={"error": "invalid_client", "error_description": "bad credentials"},
        status=401,
    )
    check()
    incident = Incident.objects.get()
    assert incident.kind == "pipedream"
    assert "PIPEDREAM_CLIENT_SECRET" in incident.summary
    assert "client-secret" not in incident.summary  # the secret's value, never
    # Pipedream not answering says nothing either way: the incident stays open.
    quick.replace("POST", f"{API}/v1/oauth/token", body=requests.ConnectionError("down"))
    assert "not checked" in check()
    assert open_incidents().count() == 1
    quick.replace(
        "POST",
        f"{API}/v1/oauth/token",
        json={"access_token": "oauth", "token_type": "Bearer", "expires_in": 3600},
    )
    check()
    assert not open_incidents().exists()
    assert len(mail.outbox) == 2


def test_a_condition_back_within_the_quiet_time_stays_one_incident(claim, settings):
    settings.ALERT_RESOLVE_AFTER = 600
    pause = DeliveryPause.objects.create(
        upstream="bitbadges", reason="402", next_probe_at=timezone.now() + HOUR
    )
    check()
    pause.delete()
    check()  # clear for less than ten minutes: still open
    DeliveryPause.objects.create(upstream="bitbadges", reason="402", next_probe_at=timezone.now())
    check()
    assert Incident.objects.count() == 1 and open_incidents().count() == 1
    assert len(mail.outbox) == 1


def test_alert_emails_go_to_staff_who_hold_the_permission_when_none_are_set(claim, settings):
    settings.ALERT_EMAILS = []
    User = get_user_model()
    receive = Permission.objects.get(codename="receive_alerts")
    User.objects.create_user("direct", "direct@example.com", is_staff=True).user_permissions.add(
        receive
    )
    group = Group.objects.create(name="On call")
    group.permissions.add(receive)
    User.objects.create_user("grouped", "grouped@example.com", is_staff=True).groups.add(group)
    User.objects.create_superuser("root", "root@example.com")
    User.objects.create_user("plainstaff", "plain@example.com", is_staff=True)
    User.objects.create_user(
        "former", "former@example.com", is_staff=True, is_active=False
    ).user_permissions.add(receive)
    User.objects.create_user("member", "member@example.com").user_permissions.add(receive)
    DeliveryPause.objects.create(upstream="bitbadges", reason="402", next_probe_at=timezone.now())
    check()
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == [
        "direct@example.com",
        "grouped@example.com",
        "root@example.com",
    ]


def test_the_checks_take_the_same_queries_whatever_the_number_of_rows(claim, settings):
    settings.ALERT_FAILURES = 1
    now = timezone.now()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            conditions.observe(now)
        return len(captured.captured_queries)

    completions(claim, 3, state="retrying", outcome_unknown=True, last_attempt_at=now - HOUR)
    small = queries()
    completions(claim, 300, state="retrying", outcome_unknown=True, last_attempt_at=now - HOUR)
    assert queries() == small


def test_failures_are_sent_as_a_kind_of_error_and_their_texts_stay_in_the_admin(
    claim, settings, admin_client
):
    settings.ALERT_FAILURES = 2
    address = "bb1memberaddressquotedbyupstream0000000000"
    rows = completions(claim, 3, state="failed")
    texts = [f"complete claim: {address} already holds this badge (HTTP 409)"] * 2
    texts.append("KeyError: 'nonce' while reading bb1another")
    CompletionEvent.objects.bulk_create(
        CompletionEvent(
            completion=row, to_state="failed", reason="gave_up", details={"error": text}
        )
        for row, text in zip(rows, texts, strict=True)
    )
    check()
    incident = Incident.objects.get()
    assert "Most common (2): an upstream answered HTTP 409" in incident.summary
    assert address not in incident.summary
    assert address in incident.detail
    sent = AlertDelivery.objects.get()
    assert address not in sent.payload and "already holds" not in sent.payload
    assert address not in mail.outbox[0].body
    page = admin_client.get(reverse("admin:operations_incident_change", args=[incident.pk]))
    assert address in page.content.decode()
    assert conditions.error_category(texts[2]) == "an unexpected KeyError"
    assert conditions.error_category("Pipedream is busy") == "an error with no HTTP status"


def test_a_pass_stops_sending_once_its_time_is_spent_and_the_worker_takes_the_rest(
    claim, settings, monkeypatch
):
    settings.ALERT_PASS_BUDGET = 20
    settings.ALERT_BACKLOG = 0
    clock = [1000.0]
    monkeypatch.setattr(incidents, "monotonic", lambda: clock[0])
    send = EmailBackend.send_messages

    def slow(self, messages):  # a mail server that takes 25 s to answer
        clock[0] += 25
        return send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", slow)
    completions(claim, 1, state="waiting", next_attempt_at=timezone.now())  # a backlog
    DeliveryPause.objects.create(upstream="bitbadges", reason="402", next_probe_at=timezone.now())

    out = check()
    assert "2 opened" in out and "1 message(s) sent, 1 left for later (time spent)" in out
    assert len(mail.outbox) == 1
    left = AlertDelivery.objects.get(state="pending")
    assert left.attempts == 0
    queued = DBTaskResult.objects.filter(task_path__endswith="alert_delivery_task")
    assert [task.args_kwargs["args"] for task in queued] == [[left.pk]]  # the worker's now


def test_nobody_to_tell_is_logged_and_shown_on_the_admin_home(claim, settings, caplog, client):
    settings.ALERT_EMAILS = []  # and no superuser or holder of receive_alerts, no webhook
    DeliveryPause.objects.create(upstream="bitbadges", reason="402", next_probe_at=timezone.now())
    check()
    assert Incident.objects.count() == 1 and not AlertDelivery.objects.exists()
    assert "nobody receives alerts" in caplog.text

    watcher = get_user_model().objects.create_user("watcher", "", is_staff=True)
    watcher.user_permissions.add(Permission.objects.get(codename="view_incident"))
    client.force_login(watcher)
    home = reverse("admin:index")
    assert "No one receives alerts" in client.get(home).content.decode()
    settings.ALERT_EMAILS = ["ops@example.com"]
    assert "No one receives alerts" not in client.get(home).content.decode()


def test_operator_emails_carry_the_brand(claim, settings):
    settings.BRAND_NAME = "Acme Rewards"
    DeliveryPause.objects.create(upstream="bitbadges", reason="402", next_probe_at=timezone.now())
    check()
    [email] = mail.outbox
    assert email.subject == "[Acme Rewards] Alert: BitBadges out of credits"
    assert email.from_email.startswith("Acme Rewards <")

"""Retention (issue 17): `manage.py prune_records` removes stored deliveries, raw bodies
and completion evidence past their RETENTION_* periods, keeps the rest, changes nothing
with --dry-run, and answers bad arguments with a sentence. The admin pages still work
once bodies are gone."""

import datetime
import io
import json

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from claims import triggers
from claims.models import Claim, Completion, TriggerDelivery, TriggerDeployment
from connections import services
from connections.models import ConnectedAccount, WebhookEvent
from tests.connections.services_support import CTOK, make_session
from tests.settings_support import run

# The worker (db_worker) closes its database connection, as a real worker does: the tests
# that run it need real transactions.
WORKER = pytest.mark.django_db(transaction=True)

CONNECT = "/connect/webhook/"
TRIGGER = "/claims/trigger-webhook/"
DAY = datetime.timedelta(days=1)


def prune(*args) -> str:
    out = io.StringIO()
    call_command("prune_records", *args, stdout=out)
    return out.getvalue()


def aged(model, pk, days, **also):
    """Move a row `days` into the past (its receipt, and `also`'s time fields)."""
    when = timezone.now() - days * DAY
    model.objects.filter(pk=pk).update(received_at=when, **{name: when for name in also})


def error_delivery(n: int) -> bytes:
    return json.dumps(
        {"event": "CONNECTION_ERROR", "connect_token": CTOK, "error": f"Denied ({n})."}
    ).encode()


@pytest.fixture
def webhooks(client, member, github):
    """Connection webhooks through HTTP: five accepted and processed, two refused."""
    session = make_session(member, github)
    reference = services.session_reference(session)
    for n in range(5):
        response = client.post(
            f"{CONNECT}?s={reference}", data=error_delivery(n), content_type="application/json"
        )
        assert response.status_code == 202
    for _ in range(2):
        response = client.post(CONNECT, data=error_delivery(9), content_type="application/json")
        assert response.status_code == 400
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    accepted = list(WebhookEvent.objects.exclude(outcome="refused").order_by("pk"))
    refused = list(WebhookEvent.objects.filter(outcome="refused").order_by("pk"))
    assert len(accepted) == 5 and all(event.processed_at for event in accepted)
    assert all(event.body for event in accepted) and not any(event.body for event in refused)
    return accepted, refused


@pytest.fixture
def deployment(member, github):
    account = ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_1")
    claim = Claim(slug="star", name="Star", enabled=True, delivery="dynamic_store", store_id="s")
    claim.set_store_secret("store-secret-retention")
    claim.save()
    deployment = TriggerDeployment.objects.create(
        claim=claim,
        member=member,
        account=account,
        account_pipedream_id="apn_1",
        pipedream_id="dc_retention",
        status=TriggerDeployment.Status.ACTIVE,
    )
    deployment.query = triggers.webhook_url(deployment).split("?", 1)[1]
    return deployment


@pytest.fixture
def deliveries(deployment):
    """Trigger deliveries through HTTP: three accepted (unsigned: the default), one refused."""
    client = Client()
    for n in range(3):
        response = client.post(
            f"{TRIGGER}?{deployment.query}", data=b'{"n": %d}' % n, content_type="application/json"
        )
        assert response.status_code == 202
    refused = client.post(f"{TRIGGER}?d=forged", data=b"{}", content_type="application/json")
    assert refused.status_code == 400
    accepted = list(TriggerDelivery.objects.filter(outcome="accepted").order_by("pk"))
    return accepted, TriggerDelivery.objects.get(outcome="refused")


EVIDENCE = [
    {"rule": "app:github", "label": "GitHub connected", "passed": True, "value": "yes"},
    {
        "rule": "criterion",
        "label": "GitHub: public repos ≥ 5",
        "passed": False,
        "value": "3",
        "detail": "user.public_repos is 3; it needs to be at least 5.",
        "at": "2025-01-01T00:00:00+00:00",
    },
]


ENDPOINT = "en-sandbox-claim-github"
# A workflow's answer, kept as the completion's delivery reference.
ANSWER = json.dumps({"claimAttemptId": "att_123", "login": "octocat", "email": "o@example.com"})


@pytest.fixture
def completions(deployment, member, django_user_model):
    """Three ledger rows: settled long ago, settled lately, in progress long ago."""
    claim = deployment.claim
    others = [django_user_model.objects.create_user(username=f"m{n}") for n in range(2)]
    rows = {
        "old": Completion.objects.create(
            claim=claim, member=member, state="ineligible", evidence=EVIDENCE, reason="Not yet."
        ),
        "recent": Completion.objects.create(
            claim=claim, member=others[0], state="completed", evidence=EVIDENCE
        ),
        "running": Completion.objects.create(
            claim=claim, member=others[1], state="checking", evidence=EVIDENCE
        ),
    }
    workflow = Claim.objects.create(
        slug="wf",
        name="WF",
        delivery="workflow",
        workflow_url=f"https://{ENDPOINT}.m.pipedream.net",
    )
    for name, state, who in (
        ("answered", "completed", member),
        ("answered_lately", "completed", others[0]),
    ):
        rows[name] = Completion.objects.create(
            claim=workflow, member=who, state=state, delivery_reference=ANSWER
        )
    now = timezone.now()
    for name, days in (
        ("old", 400),
        ("recent", 300),
        ("running", 400),
        ("answered", 400),
        ("answered_lately", 300),
    ):
        Completion.objects.filter(pk=rows[name].pk).update(updated_at=now - days * DAY)
    return rows


def snapshot():
    return (
        list(WebhookEvent.objects.order_by("pk").values()),
        list(TriggerDelivery.objects.order_by("pk").values()),
        list(Completion.objects.order_by("pk").values()),
    )


@WORKER
def test_prune_removes_what_is_past_retention_and_keeps_the_rest(webhooks, deliveries, completions):
    accepted, refused = webhooks
    # Defaults: refused 7 days, bodies 14, deliveries 90, evidence 365.
    aged(WebhookEvent, refused[0].pk, 8)  # refused, past: goes
    aged(WebhookEvent, refused[1].pk, 6)  # refused, not yet: stays
    aged(WebhookEvent, accepted[0].pk, 15, processed_at=True)  # body goes, row stays
    aged(WebhookEvent, accepted[1].pk, 13, processed_at=True)  # body stays
    aged(WebhookEvent, accepted[2].pk, 91, processed_at=True)  # row goes
    WebhookEvent.objects.filter(pk=accepted[3].pk).update(outcome="pending", processed_at=None)
    aged(WebhookEvent, accepted[3].pk, 20)  # not processed: keeps its body
    trigger_accepted, trigger_refused = deliveries
    aged(TriggerDelivery, trigger_accepted[0].pk, 15)  # body goes
    aged(TriggerDelivery, trigger_accepted[1].pk, 13)  # body stays
    aged(TriggerDelivery, trigger_accepted[2].pk, 91)  # row goes
    aged(TriggerDelivery, trigger_refused.pk, 8)  # refused, past: goes

    before = snapshot()
    dry = prune("--dry-run")
    assert snapshot() == before, "--dry-run changed something"
    expected = {
        "refused connection webhooks": 1,
        "refused trigger deliveries": 1,
        "connection webhooks": 1,
        "trigger deliveries": 1,
        "connection webhook bodies": 1,
        "trigger delivery bodies": 1,
        "completion evidence": 1,
        "workflow answers": 1,
    }
    for kind, count in expected.items():
        assert f"{kind}: would remove {count}\n" in dry, dry

    done = prune()
    for kind, count in expected.items():
        assert f"{kind}: removed {count}\n" in done, done

    kept = {event.pk: event for event in WebhookEvent.objects.all()}
    assert refused[0].pk not in kept and accepted[2].pk not in kept
    assert refused[1].pk in kept
    assert kept[accepted[0].pk].body == "" and kept[accepted[0].pk].body_digest
    assert kept[accepted[0].pk].outcome == accepted[0].outcome
    for event in (accepted[1], accepted[3], accepted[4]):
        assert kept[event.pk].body == event.body
    trigger_kept = {delivery.pk: delivery for delivery in TriggerDelivery.objects.all()}
    assert set(trigger_kept) == {trigger_accepted[0].pk, trigger_accepted[1].pk}
    assert trigger_kept[trigger_accepted[0].pk].body == ""
    assert trigger_kept[trigger_accepted[0].pk].body_size == len(b'{"n": 0}')
    assert trigger_kept[trigger_accepted[1].pk].body == '{"n": 1}'

    old = Completion.objects.get(pk=completions["old"].pk)
    assert old.state == "ineligible" and old.reason == "Not yet."  # the ledger row stays
    assert [item["rule"] for item in old.evidence] == ["app:github", "criterion"]
    assert [item["passed"] for item in old.evidence] == [True, False]
    assert "3" not in json.dumps([item["value"] for item in old.evidence])
    assert all(item["detail"] == "" and item["pruned"] for item in old.evidence)
    for name in ("recent", "running"):
        assert Completion.objects.get(pk=completions[name].pk).evidence == EVIDENCE
    answered = Completion.objects.get(pk=completions["answered"].pk)
    assert answered.state == "completed" and "octocat" not in answered.delivery_reference
    assert json.loads(answered.delivery_reference)["claimAttemptId"] == "att_123"
    lately = Completion.objects.get(pk=completions["answered_lately"].pk)
    assert lately.delivery_reference == ANSWER

    # A second run finds nothing more.
    assert "0 row(s) pruned." in prune()


@pytest.mark.django_db
def test_prune_works_in_batches(client):
    for _ in range(5):
        assert client.post(CONNECT, data=b"{}", content_type="application/json").status_code == 400
    WebhookEvent.objects.update(received_at=timezone.now() - 30 * DAY)
    out = prune("--batch-size", "2")
    assert "refused connection webhooks: removed 5\n" in out
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--batch-size", "abc"], "--batch-size is a whole number of rows from 1 to"),
        (["--batch-size", "0"], "--batch-size is a whole number of rows from 1 to"),
        (["--batch-size", "-3"], "--batch-size is a whole number of rows from 1 to"),
        (["--batch-size", "10" * 30], "--batch-size is a whole number of rows from 1 to"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
@pytest.mark.django_db
def test_bad_arguments_are_a_sentence(args, says):
    with pytest.raises(CommandError, match=says.replace("-", r"\-")):
        call_command("prune_records", *args)


@pytest.mark.own_process
def test_bad_arguments_and_settings_from_the_command_line_are_a_sentence(tmp_path):
    env = {"DEBUG": "true", "SECRET_KEY": "x" * 50, "DATABASE_URL": "sqlite:///:memory:"}
    result = run(["prune_records", "--batch-size", "many"], env, tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--batch-size is a whole number of rows" in result.stderr
    for name, value, says in (
        ("RETENTION_BODY_DAYS", "two weeks", "RETENTION_BODY_DAYS must be a whole number"),
        ("CONNECT_WEBHOOK_RATE_LIMIT", "ten", "count/seconds such as 10/3600"),
    ):
        result = run(["prune_records", "--dry-run"], {**env, name: value}, tmp_path)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert says in result.stderr


@WORKER
def test_admin_pages_work_once_bodies_are_gone(webhooks, deliveries, admin_client):
    accepted, refused = webhooks
    trigger_accepted, trigger_refused = deliveries
    WebhookEvent.objects.update(received_at=timezone.now() - 20 * DAY)
    WebhookEvent.objects.exclude(processed_at=None).update(processed_at=timezone.now() - 20 * DAY)
    TriggerDelivery.objects.update(received_at=timezone.now() - 20 * DAY)
    TriggerDelivery.objects.filter(outcome="refused").update(received_at=timezone.now())
    prune()
    assert not WebhookEvent.objects.exclude(body="").exists()
    assert not TriggerDelivery.objects.exclude(body="").exists()

    for name in ("connections_webhookevent", "claims_triggerdelivery"):
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    page = admin_client.get(reverse("admin:connections_webhookevent_change", args=[accepted[0].pk]))
    assert page.status_code == 200 and "Removed after the retention period" in page.text
    assert not WebhookEvent.objects.filter(pk__in=[event.pk for event in refused]).exists()
    fresh = Client().post(CONNECT, data=b"{}", content_type="application/json")
    assert fresh.status_code == 400
    refusal = WebhookEvent.objects.get(outcome="refused")
    page = admin_client.get(reverse("admin:connections_webhookevent_change", args=[refusal.pk]))
    assert page.status_code == 200 and "keeps only its digest and size" in page.text
    url = reverse("admin:claims_triggerdelivery_change", args=[trigger_accepted[0].pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and "Removed after the retention period" in page.text
    url = reverse("admin:claims_triggerdelivery_change", args=[trigger_refused.pk])
    assert "Not kept" in admin_client.get(url).text
    # Replaying a delivery whose body is gone says so, and changes nothing.
    response = admin_client.post(
        reverse("admin:connections_webhookevent_changelist"),
        {"action": "replay", ACTION_CHECKBOX_NAME: [accepted[0].pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "not kept" in " ".join(str(m) for m in response.context["messages"])

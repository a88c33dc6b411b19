"""A failing BitBadges key: many completions fail, the operators hear once.

The real flow, over HTTP: members qualify for the demo BitBadges claim, the sandbox
refuses the site's API key (401) so every completion fails, the scheduler's
`check_alerts` opens one incident, and the task worker sends one email and one webhook
call, signed per the Standard Webhooks spec (checked with the `standardwebhooks`
library). More failures update the incident; nobody is told again. A receiver that
answers 500 twice gets the message on the third try, with the same webhook-id, each
retry queued by the task itself after a doubling wait.
"""

import json

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from standardwebhooks import Webhook

from claims import services
from claims.audit import Actor
from claims.models import Claim, Completion
from connections.models import ConnectedAccount
from core import webhooks
from operations.alerts import notify, sending
from operations.alerts.tasks import alert_delivery_task
from operations.models import AlertDelivery, AlertEndpoint, Incident
from tests.claims.claims_support import random_address, run_worker
from tests.members_support import verify_email
from tests.webhooks import receiver_support

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver():
    yield from receiver_support.receivers()


def endpoint_to(url: str) -> tuple[AlertEndpoint, str]:
    secret = webhooks.new_secret()
    endpoint = AlertEndpoint(name="On call", url=url)
    endpoint.set_secret(secret)
    endpoint.save()
    return endpoint, secret


def failing_members(apps, claim, count: int, start: int = 0) -> None:
    User = get_user_model()
    for n in range(start, start + count):
        member = verify_email(
            User.objects.create_user(
                username=f"m{n:03d}", email=f"m{n:03d}@example.com", address=random_address()
            )
        )
        ConnectedAccount.objects.create(
            member=member, app=apps["github"], pipedream_id=f"apn_{n:06d}", name=f"gh{n}"
        )
        services.completion_request(claim=claim, member=member, actor=Actor.system("test"))


def test_a_failing_bitbadges_key_raises_one_email_and_one_signed_webhook(
    demo_claims, apps, upstreams, settings, receiver
):
    settings.BITBADGES_API_KEY = "a-key-bitbadges-refuses"
    settings.CLAIMS_MAX_ATTEMPTS = 1  # the first refusal fails the completion
    settings.ALERT_FAILURES = 3
    settings.ALERT_EMAILS = ["ops@example.com"]
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    hook = receiver()
    endpoint, secret = endpoint_to(hook.url)

    failing_members(apps, claim, 6)
    run_worker()
    assert Completion.objects.filter(state="failed").count() == 6
    call_command("check_alerts", verbosity=0)
    run_worker()

    incident = Incident.objects.get()
    assert incident.kind == "failing" and incident.resolved_at is None
    assert incident.count == 6
    assert "HTTP 401" in incident.summary  # the kind of refusal, once
    assert "API key" in incident.detail  # BitBadges' own words: in the admin only
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ops@example.com"]
    assert "Completions failing" in email.subject
    assert "6" in email.body
    assert len(hook.requests) == 1
    headers, body = hook.requests[0]
    payload = Webhook(secret).verify(body, headers)
    assert incident.detail not in body.decode() and incident.detail not in email.body
    assert payload["type"] == "incident.opened"
    assert payload["data"]["kind"] == "failing" and payload["data"]["count"] == 6
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do: wrong secret
        Webhook(webhooks.new_secret()).verify(body, headers)

    # Still failing: the incident counts them; nobody is told again.
    failing_members(apps, claim, 4, start=6)
    run_worker()
    call_command("check_alerts", verbosity=0)
    run_worker()
    incident.refresh_from_db()
    assert incident.count == 10
    assert Incident.objects.count() == 1
    assert len(mail.outbox) == 1
    assert len(hook.requests) == 1
    assert AlertDelivery.objects.count() == 2
    assert set(AlertDelivery.objects.values_list("state", flat=True)) == {"delivered"}


@pytest.mark.django_db  # no live server: the test's own transaction will do
def test_a_receiver_that_fails_twice_gets_the_message_on_the_third_try(
    settings, receiver, django_capture_on_commit_callbacks
):
    settings.ALERT_RETRY_BASE = 30
    hook = receiver(statuses=[500, 503])
    endpoint, secret = endpoint_to(hook.url)
    incident = Incident.objects.create(kind="backlog", summary="600 completions are due", count=600)
    with django_capture_on_commit_callbacks(execute=True):  # queued on commit
        notify.notify(incident, AlertDelivery.Event.OPENED)
    delivery = AlertDelivery.objects.get(channel="webhook")
    queued = DBTaskResult.objects.filter(task_path__endswith="alert_delivery_task")
    assert queued.ready().count() == 1

    waits = []
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(3):
            # What the worker does with each task that is due: run it.
            task = queued.ready().get()
            task.delete()
            alert_delivery_task.call(delivery.pk)
            later = queued.first()
            if later is not None:
                waits.append(round((later.run_after - timezone.now()).total_seconds()))
                clock.move_to(later.run_after)

    assert waits == [30, 60]  # backoff: the first retry after 30 s, then doubled
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.attempts == 3
    assert delivery.status_code == 200
    assert len(hook.requests) == 3
    ids = {headers["webhook-id"] for headers, _ in hook.requests}
    assert ids == {delivery.message_id}
    for headers, body in hook.requests:
        assert Webhook(secret).verify(body, headers)["data"]["count"] == 600
    assert json.loads(hook.requests[-1][1])["type"] == "incident.opened"
    assert not queued.exists()


@pytest.fixture
def dripping():
    server = receiver_support.dripping()
    yield server.url
    server.close()


@pytest.mark.django_db
def test_a_receiver_that_drips_its_answer_is_cut_when_the_try_time_is_spent(settings, dripping):
    settings.ALERT_SEND_TIMEOUT = 0.3
    endpoint, _ = endpoint_to(dripping)
    delivery = notify.send_test(endpoint)
    sending.attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.attempts == 1
    assert "127.0.0.1 took more than 0.3 s to answer" in delivery.error

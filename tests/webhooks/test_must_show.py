"""The issue's must-show for the host site's webhooks, end to end.

- A member completes the demo claim through the engine (both sandboxes over HTTP, the
  real task worker): the host site's receiver gets exactly one message, which the
  Standard Webhooks reference library verifies with the endpoint's secret. Then their
  account breaks at Pipedream and a sync finds it: one account.health_changed.
- A receiver that answers 500 twice gets the message on the third try, sent by the
  real task worker (django_tasks_db's db_worker) with WEBHOOK_RETRY_BASE tiny: three
  tries in the log, one delivered, the same webhook-id each time.
- Replay from the admin (a staff member with the replay permission posting the action)
  sends the same message again with the same webhook-id, signed anew.
"""

import json
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from standardwebhooks import Webhook

from claims.models import Claim, Completion
from connections import services as connections_services
from sandbox.pipedream import services as pd_sandbox
from sandbox.pipedream.models import Account as PdAccount
from tests.claims.claims_support import run_worker
from webhooks import events
from webhooks.models import Attempt, Delivery, EventType

pytestmark = pytest.mark.django_db(transaction=True)


def worker_until(done, seconds: float = 10.0) -> None:
    """Run the real task worker (one batch through the queue) until `done()`."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        run_worker()
        time.sleep(0.02)


def test_a_completion_sends_one_message_the_reference_library_verifies(
    demo_claims, alice, connect, receiver, endpoint_to
):
    Claim.objects.exclude(slug="github-starter").update(enabled=False)
    hook = receiver()
    _, secret = endpoint_to(hook.url)

    connect(alice, "github", "octo")
    run_worker()

    completion = Completion.objects.get(member=alice)
    assert completion.state == "completed", completion.reason
    delivery = Delivery.objects.get()
    assert (delivery.event_type, delivery.state, delivery.attempts) == (
        "completion.completed",
        "delivered",
        1,
    )
    [(headers, body)] = hook.requests
    payload = Webhook(secret).verify(body, headers)
    assert body == delivery.body.encode()  # byte for byte as stored
    assert headers["webhook-id"] == delivery.message_id
    assert delivery.message_id.startswith("msg_")
    assert payload["type"] == "completion.completed"
    data = payload["data"]
    assert data["id"] == completion.pk and data["claim"] == "github-starter"
    assert data["state"] == "completed" and data["previous_state"] == "delivering"
    assert data["member"] == {"host_id": None, "external_id": str(alice.external_id)}
    assert data["address"] == completion.address and data["completed_at"].endswith("Z")

    # The account breaks at Pipedream; a sync finds it: one account.health_changed.
    account = alice.connected_accounts.get()
    pd_sandbox.account_set_health(
        PdAccount.objects.get(account_id=account.pipedream_id), state="unhealthy", error="Expired"
    )
    connections_services.accounts_sync(member=alice)
    run_worker()
    health = Delivery.objects.get(event_type="account.health_changed")
    assert health.state == "delivered" and len(hook.requests) == 2
    data = Webhook(secret).verify(hook.requests[1][1], hook.requests[1][0])["data"]
    assert (data["id"], data["app"]) == (account.pipedream_id, "github")
    assert (data["health"], data["previous_health"]) == ("unhealthy", "healthy")
    assert data["member"]["external_id"] == str(alice.external_id)


def test_a_receiver_answering_500_twice_gets_it_on_the_third_try(settings, receiver, endpoint_to):
    settings.WEBHOOK_RETRY_BASE = 0.01
    hook = receiver(statuses=[500, 500])
    endpoint, secret = endpoint_to(hook.url)
    [delivery] = events.emit(EventType.MEMBER_DELETED, {"member": None, "deleted_at": None})

    worker_until(lambda: Delivery.objects.get().state != "pending")

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("delivered", 3, 200)
    tries = list(Attempt.objects.filter(delivery=delivery).values_list("status_code", flat=True))
    assert tries == [500, 500, 200]
    assert len(hook.requests) == 3
    assert {headers["webhook-id"] for headers, _ in hook.requests} == {delivery.message_id}
    for headers, body in hook.requests:
        assert Webhook(secret).verify(body, headers)["type"] == "member.deleted"


def test_a_replay_from_the_admin_sends_the_same_webhook_id(client, receiver, endpoint_to):
    staff = get_user_model().objects.create_user(
        username="ops", email="ops@example.com", password=None, is_staff=True
    )
    staff.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="webhooks", codename__in=["view_delivery", "replay_delivery"]
        )
    )
    client.force_login(staff)
    hook = receiver()
    _, secret = endpoint_to(hook.url)
    [original] = events.emit(EventType.MEMBER_DELETED, {"member": None, "deleted_at": None})
    worker_until(lambda: len(hook.requests) == 1)

    response = client.post(
        reverse("admin:webhooks_delivery_changelist"),
        {"action": "replay", "_selected_action": [original.pk]},
    )
    assert response.status_code == 302
    again = Delivery.objects.get(replay_of=original)
    worker_until(lambda: len(hook.requests) == 2)

    again.refresh_from_db()
    assert again.state == "delivered"
    (first, body1), (second, body2) = hook.requests
    assert first["webhook-id"] == second["webhook-id"] == original.message_id
    assert body1 == body2
    assert Webhook(secret).verify(body2, second)["type"] == "member.deleted"
    assert json.loads(body2) == json.loads(original.body)

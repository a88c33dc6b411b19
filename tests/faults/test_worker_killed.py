"""A real task worker (`manage.py db_worker`, its own process) SIGKILLed in the middle of
a task, then a new one started and the cron's commands run: nothing lost, nothing twice.

The sandboxes are served by live_server in this process; the worker reaches them over
HTTP. Latency injected on one endpoint holds the worker inside the call we want to kill
it in, and the sandbox's own records say where it was.
"""

import datetime
import time

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from claims.models import Completion, CompletionEvent
from connections import services as connections_services
from connections.models import ConnectedAccount, ConnectSession, WebhookEvent
from sandbox.bitbadges import attempts as bb_sandbox
from tests.faults.workers_support import (
    Process,
    allow_on_hosted_page,
    db_worker,
    let_held_requests_finish,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


# The longest a sandbox endpoint is held in these tests (latency or hang), plus margin.
LONGEST_HOLD = 3.5


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        process.stop()
    let_held_requests_finish(started, longest_hold=LONGEST_HOLD)


def _state(claim, member) -> str:
    return Completion.objects.filter(claim=claim, member=member).values_list("state", flat=True)[0]


@pytest.mark.parametrize("window", ["complete-in-flight", "polling-the-attempt"])
def test_a_worker_killed_mid_delivery_completes_the_claim_once(
    demo_claims, alice, connect, upstreams, settings, processes, window
):
    starter = demo_claims["github-starter"]
    # As on the live indexer: the old success route is gone (404); only the attempts
    # route can say whether what the dead worker sent landed.
    settings.SANDBOX_BITBADGES_SUCCESS_ROUTE = False
    if window == "complete-in-flight":
        # BitBadges holds `complete` 2 s before it records and answers it.
        settings.SANDBOX_FAULTS = {"bitbadges.claims.complete": {"latency_ms": 2000}}
    else:
        # `complete` answers; every status poll of the attempt then hangs.
        settings.SANDBOX_FAULTS = {"bitbadges.claims.status": {"hang_seconds": 3}}
    connect(alice, "github", "octo-pro")  # queues a task per demo claim
    assert Completion.objects.count() == len(demo_claims)

    first = db_worker(upstreams.url)
    processes.append(first)
    wait_for(
        lambda: _state(starter, alice) == "delivering", timeout=30, what="the starter delivering"
    )
    if window == "complete-in-flight":
        # Delivering, and BitBadges has no attempt yet: `complete` is on the wire.
        time.sleep(0.8)  # past simulate (milliseconds), well inside the 2 s hold
        assert bb_sandbox.complete_calls(starter.bitbadges_claim_id, alice.address) == 0
    else:
        # BitBadges recorded the attempt and the worker is waiting on its status.
        wait_for(
            lambda: (
                Completion.objects.filter(claim=starter).exclude(delivery_reference="").exists()
            ),
            timeout=10,
            what="the attempt id recorded",
        )
    first.kill()
    # What the dead worker sent still lands: one attempt, completed upstream.
    wait_for(
        lambda: bb_sandbox.completions(starter.bitbadges_claim_id, alice.address) == 1,
        timeout=10,
        what="BitBadges to complete the attempt the dead worker sent",
    )
    assert _state(starter, alice) == "delivering"  # the dead worker never heard back
    settings.SANDBOX_FAULTS = {}

    second = db_worker(upstreams.url)
    processes.append(second)
    # Time passes past the dead worker's lease (moved on the row, not waited for),
    # then the cron's command runs, as it would every few minutes.
    Completion.objects.filter(state__in=["checking", "delivering"]).update(
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    cron = Process(upstreams.url, "complete_claims")
    processes.append(cron)
    assert cron.wait(60) == 0, cron.output
    wait_for(
        lambda: not Completion.objects.filter(state__in=Completion.IN_PROGRESS).exists(),
        timeout=30,
        what="every completion settled",
    )

    states = dict(Completion.objects.values_list("claim__slug", "state"))
    assert set(states.values()) == {"completed"}, states
    assert bb_sandbox.complete_calls(starter.bitbadges_claim_id, alice.address) == 1
    assert bb_sandbox.completions(starter.bitbadges_claim_id, alice.address) == 1
    workflow = demo_claims["github-workflow"]
    assert bb_sandbox.completions(workflow.bitbadges_claim_id, alice.address) == 1
    recovered = CompletionEvent.objects.filter(
        completion__claim=starter, reason=CompletionEvent.Reason.RECOVERED
    )
    assert recovered.count() == 1
    result = Completion.objects.get(claim=starter)
    assert "after a lost answer" in result.reason
    if window == "complete-in-flight":
        # No attempt id ever came back: the address's attempts on BitBadges said it.
        assert result.delivery_reference.startswith("confirmed by BitBadges' attempts for bb1")


def test_a_worker_killed_while_processing_a_connection_webhook_is_recovered(
    alice, apps, upstreams, settings, processes
):
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0.2, 0.5)
    # Re-fetching the account holds the worker 3 s inside the webhook task.
    session, token = connections_services.connect_session_start(
        member=alice, app=apps["github"], mode="link"
    )
    link = connections_services.connect_link_for(token=token, app=apps["github"])
    settings.SANDBOX_FAULTS = {"pipedream.accounts.get": {"latency_ms": 3000}}
    first = db_worker(upstreams.url)
    processes.append(first)

    [delivery] = allow_on_hosted_page(link, "octo-killed")
    assert delivery.status == "delivered"
    wait_for(
        lambda: DBTaskResult.objects.filter(status="RUNNING").exists(),
        timeout=30,
        what="the webhook task running",
    )
    first.kill()
    [event] = WebhookEvent.objects.all()
    assert event.outcome == "pending"
    settings.SANDBOX_FAULTS = {}

    second = db_worker(upstreams.url)
    processes.append(second)
    # Later, the cron's sync runs (the delivery is older than the recovery's wait).
    WebhookEvent.objects.update(received_at=timezone.now() - datetime.timedelta(hours=1))
    cron = Process(upstreams.url, "sync_accounts", "--all")
    processes.append(cron)
    assert cron.wait(60) == 0, cron.output
    wait_for(
        lambda: WebhookEvent.objects.exclude(outcome="pending").exists(),
        timeout=30,
        what="the delivery processed",
    )

    event.refresh_from_db()
    assert event.outcome == "connected", (event.outcome, event.detail)
    assert ConnectedAccount.objects.get().name == "octo-killed"
    session.refresh_from_db()
    assert session.status == ConnectSession.Status.CONNECTED

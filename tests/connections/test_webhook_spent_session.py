"""A Connect session records one account: once it has, a CONNECTION_SUCCESS naming
another account (a member holding their own session's reference and token can post one)
is acknowledged, kept as a duplicate, queues no task and asks Pipedream nothing, so it
cannot tie the session to another of the member's accounts. Over HTTP, with the worker."""

import json

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from connections import services
from connections.models import ConnectedAccount, WebhookEvent
from tests.connections.services_support import ACCOUNTS_URL, CTOK, account_data, make_session

# The worker (db_worker) closes its database connection, as a real worker does.
pytestmark = pytest.mark.django_db(transaction=True)

URL = "/connect/webhook/"


def success(member, pid: str) -> str:
    return json.dumps(
        {
            "event": "CONNECTION_SUCCESS",
            "connect_token": CTOK,
            "account": account_data(pid, member.external_id),
        }
    )


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def account_calls(pd) -> list[str]:
    return [call.request.url for call in pd.calls if "/accounts/" in call.request.url]


@pytest.fixture
def session(pd, member, github):
    for pid in ("apn_first", "apn_other"):
        pd.get(f"{ACCOUNTS_URL}/{pid}", json=account_data(pid, member.external_id))
    return make_session(member, github)


def post(client, member, session, pid):
    reference = services.session_reference(session)
    return client.post(
        f"{URL}?s={reference}", data=success(member, pid), content_type="application/json"
    )


def test_a_success_on_a_spent_session_queues_nothing_and_asks_nothing(client, pd, member, session):
    assert post(client, member, session, "apn_first").status_code == 202
    run_worker()
    session.refresh_from_db()
    assert session.status == "connected" and session.account.pipedream_id == "apn_first"
    asked, tasks = len(account_calls(pd)), DBTaskResult.objects.count()
    assert asked == 1

    response = post(client, member, session, "apn_other")
    assert response.status_code == 200  # acknowledged: Pipedream does not send it again
    assert DBTaskResult.objects.count() == tasks  # no task queued
    run_worker()
    assert len(account_calls(pd)) == asked  # Pipedream not asked
    session.refresh_from_db()
    assert session.account.pipedream_id == "apn_first"
    assert not ConnectedAccount.objects.filter(pipedream_id="apn_other").exists()
    # The admin sees what it was and why nothing happened; its body is not kept.
    event = WebhookEvent.objects.order_by("-pk").first()
    assert event.outcome == "duplicate" and event.body == "" and event.body_digest
    assert "apn_first" in event.detail and "apn_other" in event.detail


def test_two_successes_accepted_before_processing_record_one_account(client, pd, member, session):
    """Both arrive while the session is open (both accepted); the second to be processed
    finds the session spent and asks nothing."""
    assert post(client, member, session, "apn_first").status_code == 202
    assert post(client, member, session, "apn_other").status_code == 202
    run_worker()
    assert account_calls(pd) == [f"{ACCOUNTS_URL}/apn_first"]
    session.refresh_from_db()
    assert session.account.pipedream_id == "apn_first"
    assert ConnectedAccount.objects.count() == 1
    outcomes = list(WebhookEvent.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["connected", "duplicate"]

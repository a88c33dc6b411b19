"""POST /connect/webhook/: stored raw, checked against the signed session, processed by a task."""

import hashlib
import json
import logging

import pytest
from django.core.management import call_command
from django.urls import include, path

from connections import services, webhooks
from connections.models import ConnectedAccount, ConnectSession, WebhookEvent
from tests.connections.services_support import ACCOUNTS_URL, CTOK, account_data, make_session

# This module's own URLs: the webhook as the site routes it, and the sandbox.
urlpatterns = [
    path("connect/webhook/", webhooks.webhook),
    path("sandbox/", include("sandbox.urls")),
]
# The worker (db_worker) closes its database connection when done, as a real worker does:
# that needs real transactions, not a test wrapped in one.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

URL = "/connect/webhook/"


def success_payload(member, pid="apn_abc123", token=CTOK):
    return {
        "event": "CONNECTION_SUCCESS",
        "connect_token": token,
        "environment": "development",
        "connect_session_id": 1234567890123456789012345678901234567,
        "account": account_data(pid, member.external_id),
    }


def error_payload(token=CTOK, error="Test request failed."):
    return {
        "event": "CONNECTION_ERROR",
        "connect_token": token,
        "environment": "development",
        "connect_session_id": 1,
        "error": error,
    }


def post(client, body, *, reference=None, content_type="application/json"):
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    url = URL if reference is None else f"{URL}?s={reference}"
    return client.post(url, data=raw, content_type=content_type)


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


@pytest.fixture
def session(member, github):
    return make_session(member, github)


@pytest.fixture
def deliver(client, session, django_capture_on_commit_callbacks):
    """POST a delivery for `session` and run the worker: returns (response, event)."""

    def deliver(body, reference=None):
        with django_capture_on_commit_callbacks(execute=True):
            response = post(
                client,
                body,
                reference=services.session_reference(session) if reference is None else reference,
            )
        with django_capture_on_commit_callbacks(execute=True):
            run_worker()
        return response, WebhookEvent.objects.order_by("-pk").first()

    return deliver


def test_only_post(client, db):
    assert client.get(URL).status_code == 405
    assert not WebhookEvent.objects.exists()


def test_missing_reference_is_refused_and_recorded(client, member, session):
    response = post(client, success_payload(member))
    assert response.status_code == 400
    event = WebhookEvent.objects.get()
    assert event.outcome == "refused" and "reference" in event.detail
    assert event.event == "CONNECTION_SUCCESS" and event.body_digest
    assert not ConnectedAccount.objects.exists()


@pytest.mark.parametrize("reference", ["garbage", "x:y:z"])
def test_bad_reference_is_refused(client, member, session, reference):
    response = post(client, success_payload(member), reference=reference)
    assert response.status_code == 403
    event = WebhookEvent.objects.get()
    assert event.outcome == "refused" and event.session is None
    session.refresh_from_db()
    assert session.status == "issued"


def test_tampered_reference_is_refused(client, member, session):
    reference = services.session_reference(session)
    response = post(client, success_payload(member), reference=reference[:-3] + "abc")
    assert response.status_code == 403
    assert WebhookEvent.objects.get().outcome == "refused"


def test_forged_token_is_refused(client, member, session):
    forged = "ctok_" + "f" * 32
    reference = services.session_reference(session)
    response = post(client, success_payload(member, token=forged), reference=reference)
    assert response.status_code == 403
    event = WebhookEvent.objects.get()
    assert event.outcome == "refused" and "Forged" in event.detail
    assert event.session == session
    assert not ConnectedAccount.objects.exists()


def test_malformed_json_is_recorded(client, session):
    response = post(client, b"{not json", reference=services.session_reference(session))
    assert response.status_code == 400
    event = WebhookEvent.objects.get()
    assert event.outcome == "refused" and "not JSON" in event.detail
    # A refused delivery keeps its digest and size, never its body.
    assert event.body == "" and event.body_size == len(b"{not json")
    assert event.body_digest == hashlib.sha256(b"{not json").hexdigest()


def test_oversized_body_is_refused(client, member, session):
    body = json.dumps({**success_payload(member), "pad": "x" * (70 * 1024)})
    response = post(client, body, reference=services.session_reference(session))
    assert response.status_code == 413
    event = WebhookEvent.objects.get()
    assert event.outcome == "refused" and len(event.body) <= webhooks.MAX_BODY


def test_success_records_the_account(pd, deliver, member, session, received):
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data(external_id=member.external_id))
    response, event = deliver(success_payload(member))
    assert response.status_code == 202
    event.refresh_from_db()
    assert event.outcome == "connected", event.detail
    account = ConnectedAccount.objects.get()
    assert account.member == member
    session.refresh_from_db()
    assert session.status == "connected" and session.account == account
    assert [name for name, _ in received] == ["account_connected"]


def test_same_delivery_twice_gives_one_account(pd, deliver, member, session, received):
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data(external_id=member.external_id))
    deliver(success_payload(member))
    _, second = deliver(success_payload(member))
    assert second.outcome == "duplicate"
    assert ConnectedAccount.objects.count() == 1
    assert [kw["created"] for _, kw in received] == [True]


def test_foreign_account_is_refused_and_recorded(pd, deliver, member, session):
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data(external_id="someone-else"))
    response, event = deliver(success_payload(member))
    assert response.status_code == 202
    assert event.outcome == "refused" and "ForeignAccount" in event.detail
    assert not ConnectedAccount.objects.exists()
    session.refresh_from_db()
    assert session.status == "issued"


def test_connection_error_marks_the_session_failed(deliver, session):
    _, event = deliver(error_payload())
    assert event.outcome == "failed"
    session.refresh_from_db()
    assert session.status == "failed" and session.error == "Test request failed."
    _, again = deliver(error_payload())
    assert again.outcome == "duplicate"


def test_upstream_failure_is_an_error_retried_later(pd, deliver, member, session):
    from django_tasks_db.models import DBTaskResult

    pd.get(f"{ACCOUNTS_URL}/apn_abc123", status=503, json={"error": "down"})
    _, event = deliver(success_payload(member))
    assert event.outcome == "error" and "503" in event.detail
    later = DBTaskResult.objects.filter(status="READY").get()
    assert later.run_after is not None
    assert later.args_kwargs["args"] == [event.pk, 2]


def test_replay_changes_nothing(pd, deliver, member, session):
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data(external_id=member.external_id))
    _, event = deliver(success_payload(member))
    replayed = services.webhook_process(event_id=event.pk, replay=True)
    assert replayed.outcome == "duplicate"
    event.refresh_from_db()
    assert event.outcome == "connected"
    assert ConnectedAccount.objects.count() == 1


def test_the_token_is_kept_only_in_the_raw_body(pd, deliver, member, session, caplog):
    caplog.set_level(logging.DEBUG)
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data(external_id=member.external_id))
    deliver(success_payload(member))
    deliver(success_payload(member, token="ctok_" + "e" * 32))  # forged
    for row in WebhookEvent.objects.values():
        row.pop("body")
        assert CTOK not in repr(row) and "ctok_eeee" not in repr(row)
    assert CTOK not in caplog.text and "ctok_eeee" not in caplog.text


# --- The whole flow, with the sandbox over real HTTP --------------------------------------


@pytest.fixture
def sandbox(live_server, settings):
    settings.PUBLIC_URL = live_server.url
    settings.PIPEDREAM_API_URL = f"{live_server.url}/sandbox/pipedream"
    settings.PIPEDREAM_CONNECT_URL = f"{live_server.url}/sandbox/pipedream"
    settings.SANDBOX_FAULTS = {}
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0, 0)
    return live_server


@pytest.mark.django_db(transaction=True)
def test_connect_link_through_the_sandbox(sandbox, member, received):
    import requests

    from connections.models import App
    from sandbox.pipedream.webhooks import wait_for_deliveries

    app = App.objects.create(slug="github", name="GitHub", enabled=True)
    session, token = services.connect_session_start(member=member, app=app, mode="link")
    link = services.connect_link_for(token=token, app=app)
    assert requests.get(link, timeout=10).status_code == 200
    answer = requests.post(
        link, data={"action": "allow", "name": "octocat"}, timeout=10, allow_redirects=False
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(f"{sandbox.url}/connect/done/?s=")
    deliveries = wait_for_deliveries()
    assert [d.status for d in deliveries] == ["delivered"], [d.last_error for d in deliveries]
    event = WebhookEvent.objects.get()
    assert event.session == session and event.outcome == "pending"
    run_worker()
    event.refresh_from_db()
    assert event.outcome == "connected", event.detail
    account = ConnectedAccount.objects.get()
    assert account.member == member and account.name == "octocat" and account.app == app
    session.refresh_from_db()
    assert session.status == ConnectSession.Status.CONNECTED and session.account == account
    assert [(n, kw["created"]) for n, kw in received if n == "account_connected"] == [
        ("account_connected", True)
    ]
    # The token digest matches what the sandbox sent; the token itself is not stored.
    assert session.token_digest == hashlib.sha256(token.token.encode()).hexdigest()


def test_no_csrf_or_login_needed(member, session):
    from django.test import Client

    response = post(
        Client(enforce_csrf_checks=True),
        error_payload(),
        reference=services.session_reference(session),
    )
    assert response.status_code == 202


@pytest.mark.django_db(transaction=True)
def test_deny_through_the_sandbox_fails_the_session(sandbox, member):
    import requests

    from connections.models import App
    from sandbox.pipedream.webhooks import wait_for_deliveries

    app = App.objects.create(slug="github", name="GitHub", enabled=True)
    session, token = services.connect_session_start(member=member, app=app, mode="link")
    link = services.connect_link_for(token=token, app=app)
    answer = requests.post(link, data={"action": "deny"}, timeout=10, allow_redirects=False)
    assert answer.status_code == 302 and "result=error" in answer.headers["Location"]
    wait_for_deliveries()
    run_worker()
    session.refresh_from_db()
    assert session.status == "failed" and "denied" in session.error
    assert WebhookEvent.objects.get().outcome == "failed"
    assert not ConnectedAccount.objects.exists()


def test_the_health_poll_processes_a_delivery_whose_task_was_lost(
    client,
    pd,
    member,
    session,
):
    import datetime

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from connections.tasks import accounts_health_poll

    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data(external_id=member.external_id))
    response = post(client, success_payload(member), reference=services.session_reference(session))
    assert response.status_code == 202
    DBTaskResult.objects.all().delete()  # the task is lost: a worker killed, a queue gone
    WebhookEvent.objects.update(received_at=timezone.now() - datetime.timedelta(minutes=11))

    totals = accounts_health_poll.call()

    assert totals["webhooks_recovered"] == 1
    event = WebhookEvent.objects.get()
    assert event.outcome == "connected", event.detail
    assert ConnectedAccount.objects.get().member == member


def test_the_health_poll_leaves_a_fresh_pending_delivery_to_its_task(
    client,
    pd,
    member,
    session,
):
    from connections.tasks import accounts_health_poll

    post(client, success_payload(member), reference=services.session_reference(session))

    assert accounts_health_poll.call()["webhooks_recovered"] == 0
    assert WebhookEvent.objects.get().outcome == "pending"

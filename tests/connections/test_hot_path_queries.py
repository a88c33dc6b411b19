"""Queries on the hot paths of Pipedream Connect (issue 24): minting a Connect token,
accepting a connection webhook, and its task recording the account.

Counted as the statements the database runs (transaction control, BEGIN, COMMIT and
savepoints, left out: SQLite and PostgreSQL differ there, the work does not).
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connections import services
from connections.models import (
    ConnectedAccount,
    ConnectSession,
    WebhookEvent,
    apps_changed,
    enabled_app,
)
from tests.connections.services_support import (
    ACCOUNTS_URL,
    CTOK,
    TOKENS_URL,
    account_data,
    make_session,
    token_body,
)

pytestmark = pytest.mark.django_db

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")


def statements(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].upper().startswith(CONTROL)]


def test_a_mint_runs_four_statements(shared_cache, client, member, github, pd):
    # With a cache every process shares, the app comes from the per-process catalogue.
    # The member's session and user (every logged-in page), whether the member has a
    # confirmed address, and the session's INSERT. The rate limit is the cache's; the app
    # comes from the process's catalogue (connections.models.enabled_app), read once.
    pd.post(TOKENS_URL, json=token_body())
    client.force_login(member)
    apps_changed()  # the app's creation committed (what its on-commit callback does)
    enabled_app("github")
    with CaptureQueriesContext(connection) as ctx:
        response = client.post("/connect/token/", {"app": "github"})
    assert response.status_code == 200, response.content
    sql = statements(ctx)
    assert len(sql) == 4, "\n".join(sql)
    assert not [q for q in sql if 'FROM "connections_app"' in q], sql
    assert sql[-1].startswith('INSERT INTO "connections_connectsession"')
    assert ConnectSession.objects.count() == 1


def webhook_body(member, pid="apn_abc123"):
    return json.dumps(
        {
            "event": "CONNECTION_SUCCESS",
            "connect_token": CTOK,
            "environment": "production",
            "connect_session_id": 1,
            "account": account_data(pid, member.external_id),
        }
    )


def post_webhook(client, session, body):
    url = f"/connect/webhook/?s={services.session_reference(session)}"
    return client.post(url, data=body, content_type="application/json")


def test_accepting_a_webhook_runs_three_statements(client, member, github):
    # The session (with its account's id, in one query), the delivery, and its task.
    session = make_session(member, github)
    with CaptureQueriesContext(connection) as ctx:
        response = post_webhook(client, session, webhook_body(member))
    assert response.status_code == 202, response.content
    sql = statements(ctx)
    assert len(sql) == 3, "\n".join(sql)
    assert sql[0].startswith("SELECT") and '"connections_connectsession"' in sql[0]
    assert sql[1].startswith('INSERT INTO "connections_webhookevent"')
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.PENDING


def test_a_replay_for_a_connected_session_runs_two_statements(client, member, github):
    # Spent: the session and its account's id are read in one query, the replay stored
    # as a duplicate; no task.
    session = make_session(member, github)
    account = ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_abc123")
    ConnectSession.objects.filter(pk=session.pk).update(
        status=ConnectSession.Status.CONNECTED, account=account
    )
    with CaptureQueriesContext(connection) as ctx:
        response = post_webhook(client, session, webhook_body(member))
    assert response.status_code == 200
    assert len(statements(ctx)) == 2, "\n".join(statements(ctx))
    event = WebhookEvent.objects.get()
    assert event.outcome == WebhookEvent.Outcome.DUPLICATE
    assert event.detail == "The session already recorded account apn_abc123: nothing changed."


def test_recording_the_account_of_a_delivery_runs_six_statements(
    client, member, github, pd, django_capture_on_commit_callbacks
):
    # The delivery with its session, member, app and any settled delivery of the same
    # body; then in one transaction: the account (locked), whether a reconnect replaced
    # it, its INSERT, the session's UPDATE (unless tied already), and the delivery's
    # outcome. The
    # receivers of account_connected (other apps) run after commit and are not counted.
    session = make_session(member, github)
    post_webhook(client, session, webhook_body(member))
    event = WebhookEvent.objects.get()
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data("apn_abc123", member.external_id))
    with (
        CaptureQueriesContext(connection) as ctx,
        django_capture_on_commit_callbacks(execute=False),
    ):
        processed = services.webhook_process(event_id=event.pk)
    assert processed.outcome == WebhookEvent.Outcome.CONNECTED, processed.detail
    sql = statements(ctx)
    assert len(sql) == 6, "\n".join(sql)
    assert "connections_app" not in sql[1], "locking the account locks no app row"
    event.refresh_from_db()
    assert event.outcome == WebhookEvent.Outcome.CONNECTED
    assert event.processed_at is not None
    session.refresh_from_db()
    assert session.status == ConnectSession.Status.CONNECTED
    assert session.account.pipedream_id == "apn_abc123"


def test_a_replay_processed_after_its_original_changes_nothing(
    client, member, github, pd, django_capture_on_commit_callbacks
):
    session = make_session(member, github)
    body = webhook_body(member)
    post_webhook(client, session, body)
    post_webhook(client, session, body)  # accepted too: the session was not spent yet
    first, replay = WebhookEvent.objects.order_by("pk")
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data("apn_abc123", member.external_id))
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_process(event_id=first.pk)
    with CaptureQueriesContext(connection) as ctx:
        services.webhook_process(event_id=replay.pk)
    # Found with the delivery (one query), settled (one): Pipedream is not asked again.
    assert len(statements(ctx)) == 2, "\n".join(statements(ctx))
    replay.refresh_from_db()
    assert replay.outcome == WebhookEvent.Outcome.DUPLICATE
    assert f"delivery {first.pk}" in replay.detail
    assert len([c for c in pd.calls if c.request.url.startswith(ACCOUNTS_URL)]) == 1

"""Admin smoke tests for every connections page, and the actions."""

import json

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from connections.models import App, ConnectedAccount, WebhookEvent
from tests.connections.services_support import (
    ACCOUNTS_URL,
    API,
    CTOK,
    account_data,
    app_data,
    make_session,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(member, github):
    account = ConnectedAccount.objects.create(
        member=member, app=github, pipedream_id="apn_abc123", name="octocat"
    )
    session = make_session(member, github, status="connected", account=account)
    make_session(member, github, token="ctok_" + "1" * 32)
    body = json.dumps({"event": "CONNECTION_SUCCESS", "connect_token": CTOK, "x": "<b>hi</b>"})
    event = WebhookEvent.objects.create(
        body=body, body_digest="d" * 64, event="CONNECTION_SUCCESS", session=session
    )
    return {"app": github, "account": account, "session": session, "event": event}


@pytest.mark.parametrize("model", ["app", "connectedaccount", "connectsession", "webhookevent"])
def test_changelist_and_change_pages(admin_client, data, model):
    response = admin_client.get(reverse(f"admin:connections_{model}_changelist"))
    assert response.status_code == 200
    obj = {
        "app": data["app"],
        "connectedaccount": data["account"],
        "connectsession": data["session"],
        "webhookevent": data["event"],
    }[model]
    response = admin_client.get(reverse(f"admin:connections_{model}_change", args=[obj.pk]))
    assert response.status_code == 200


def test_filters_and_search(admin_client, data):
    url = reverse("admin:connections_connectedaccount_changelist")
    for health in ("healthy", "unhealthy", "dead"):
        assert admin_client.get(url, {"health": health}).status_code == 200
    response = admin_client.get(url, {"q": "alice@example.com"})
    assert "octocat" in response.text
    assert "octocat" not in admin_client.get(url, {"health": "dead"}).text


def test_the_health_filter_lists_each_state_alone(admin_client, member, github):
    for name, healthy, dead in [
        ("fine-one", True, False),
        ("flaky-one", False, False),
        ("gone-one", True, True),  # dead outranks a stale healthy flag
    ]:
        ConnectedAccount.objects.create(
            member=member,
            app=github,
            pipedream_id=f"apn_{name}",
            name=name,
            healthy=healthy,
            dead=dead,
        )
    url = reverse("admin:connections_connectedaccount_changelist")
    expected = {"healthy": "fine-one", "unhealthy": "flaky-one", "dead": "gone-one"}
    for health, name in expected.items():
        text = admin_client.get(url, {"health": health}).text
        listed = {other for other in expected.values() if other in text}
        assert listed == {name}, (health, listed)


def test_session_changelist_shows_conversion(admin_client, data):
    response = admin_client.get(reverse("admin:connections_connectsession_changelist"))
    assert response.context["conversion"] == [
        {
            "app__name": "GitHub",
            "mode": "iframe",
            "mode_label": "Embedded iframe",
            "issued": 2,
            "connected": 1,
            "failed": 0,
            "rate": 50,
        }
    ]
    assert "issued &rarr; connected" in response.text


def test_audit_admins_are_read_only(admin_client, data):
    assert admin_client.get(reverse("admin:connections_connectsession_add")).status_code == 403
    assert admin_client.get(reverse("admin:connections_webhookevent_add")).status_code == 403
    url = reverse("admin:connections_webhookevent_delete", args=[data["event"].pk])
    assert admin_client.get(url).status_code == 403


def test_webhook_body_is_escaped(admin_client, data):
    url = reverse("admin:connections_webhookevent_change", args=[data["event"].pk])
    text = admin_client.get(url).text
    assert "&lt;b&gt;hi&lt;/b&gt;" in text and "<b>hi</b>" not in text
    # The (spent) token is shown inside the raw body only, never in the list.
    assert CTOK not in admin_client.get(reverse("admin:connections_webhookevent_changelist")).text


def test_replay_shows_the_outcome_and_changes_nothing(admin_client, data, pd, member):
    event = data["event"]
    event.body = json.dumps(
        {
            "event": "CONNECTION_SUCCESS",
            "connect_token": CTOK,
            "account": account_data("apn_abc123", member.external_id),
        }
    )
    event.outcome = "connected"
    event.save()
    response = admin_client.post(
        reverse("admin:connections_webhookevent_changelist"),
        {"action": "replay", ACTION_CHECKBOX_NAME: [event.pk]},
        follow=True,
    )
    text = " ".join(str(m) for m in response.context["messages"])
    assert "Duplicate" in text
    event.refresh_from_db()
    assert event.outcome == "connected"


def test_disconnect_asks_then_deletes_upstream_first(admin_client, data, pd):
    url = reverse("admin:connections_connectedaccount_changelist")
    account = data["account"]
    response = admin_client.post(
        url, {"action": "disconnect", ACTION_CHECKBOX_NAME: [account.pk], "index": 0}
    )
    assert response.status_code == 200 and "Yes, disconnect" in response.text
    assert ConnectedAccount.objects.filter(pk=account.pk).exists()
    pd.delete(f"{ACCOUNTS_URL}/apn_abc123", status=204)
    response = admin_client.post(
        url,
        {"action": "disconnect", ACTION_CHECKBOX_NAME: [account.pk], "post": "yes"},
        follow=True,
    )
    assert not ConnectedAccount.objects.filter(pk=account.pk).exists()
    assert "Disconnected 1 account" in response.text


def test_disconnect_failure_keeps_the_account(admin_client, data, pd):
    account = data["account"]
    pd.delete(f"{ACCOUNTS_URL}/apn_abc123", status=500, json={"error": "boom"})
    response = admin_client.post(
        reverse("admin:connections_connectedaccount_changelist"),
        {"action": "disconnect", ACTION_CHECKBOX_NAME: [account.pk], "post": "yes"},
        follow=True,
    )
    assert ConnectedAccount.objects.filter(pk=account.pk).exists()
    assert "500" in response.text


def test_sync_actions(admin_client, data, pd, member):
    pd.get(ACCOUNTS_URL, json={"data": [account_data("apn_abc123", member.external_id)]})
    response = admin_client.post(
        reverse("admin:connections_connectedaccount_changelist"),
        {"action": "sync_with_pipedream", ACTION_CHECKBOX_NAME: [data["account"].pk], "index": 0},
        follow=True,
    )
    assert "alice: 0 new" in " ".join(str(m) for m in response.context["messages"])
    pd.get(f"{API}/v1/connect/apps/github", json={"data": app_data("github", "GitHub Renamed")})
    admin_client.post(
        reverse("admin:connections_app_changelist"),
        {"action": "sync_from_pipedream", ACTION_CHECKBOX_NAME: [data["app"].pk], "index": 0},
    )
    assert App.objects.get(slug="github").name == "GitHub Renamed"


def test_accounts_are_only_removed_through_disconnect(admin_client, data):
    url = reverse("admin:connections_connectedaccount_changelist")
    actions = admin_client.get(url).context["action_form"].fields["action"].choices
    names = [name for name, _ in actions]
    assert "disconnect" in names and "delete_selected" not in names
    delete = reverse("admin:connections_connectedaccount_delete", args=[data["account"].pk])
    assert admin_client.get(delete).status_code == 403

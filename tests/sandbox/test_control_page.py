"""The sandbox control page (/sandbox/) and the sandbox models in Django admin."""

import json

import pytest

from sandbox.common.models import Fault
from sandbox.pipedream.models import Account, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user(
        username="ops", password="connect-demo", is_staff=True, is_superuser=True
    )
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/sandbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_members_who_are_not_staff_are_refused(client, member):
    client.force_login(member)
    assert client.get("/sandbox/").status_code == 403
    assert client.post("/sandbox/faults/add", {"endpoint": "pipedream.*"}).status_code == 403


def test_the_page_lists_accounts_faults_and_deliveries(staff, make_account, settings):
    make_account("user-1", "github", "octo-pro")
    Fault.objects.create(endpoint="pipedream.accounts.list", status=429, note="rush hour")
    settings.SANDBOX_FAULTS = {"pipedream.apps.*": {"latency_ms": 250}}
    WebhookDelivery.objects.create(
        event="CONNECTION_SUCCESS", url="https://site.example/hook", payload={}
    )

    response = staff.get("/sandbox/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "octo-pro" in html and "badge ok" in html
    assert "HTTP 429 (Retry-After 1)" in html and "rush hour" in html
    assert "+250 ms" in html and "SANDBOX_FAULTS setting" in html
    assert "CONNECTION_SUCCESS" in html
    assert "&quot;public_repos&quot;" in html  # the profile editor


@pytest.mark.parametrize(
    ("state", "healthy", "dead"),
    [("unhealthy", False, False), ("dead", False, True), ("healthy", True, False)],
)
def test_set_an_accounts_health(staff, make_account, state, healthy, dead):
    account = make_account("user-1", "github")

    response = staff.post(
        f"/sandbox/accounts/{account.pk}/health", {"state": state, "error": "revoked by user"}
    )

    assert response.status_code == 302 and response["Location"] == "/sandbox/#accounts"
    account.refresh_from_db()
    assert (account.healthy, account.dead) == (healthy, dead)
    assert account.error == ("" if healthy else "revoked by user")


def test_edit_a_profile(staff, make_account):
    account = make_account("user-1", "github")
    profile = {"login": "octo", "public_repos": 99, "starred": []}

    saved = staff.post(f"/sandbox/accounts/{account.pk}/profile", {"profile": json.dumps(profile)})
    refused = staff.post(f"/sandbox/accounts/{account.pk}/profile", {"profile": "[1, 2"})
    followed = staff.get("/sandbox/")

    assert saved.status_code == refused.status_code == 302
    account.refresh_from_db()
    assert account.profile == profile
    assert "Not valid JSON" in followed.content.decode()


def test_delete_an_account(staff, make_account):
    account = make_account("user-1", "github")
    staff.post(f"/sandbox/accounts/{account.pk}/delete")
    assert not Account.objects.exists()


def test_add_toggle_and_remove_a_fault(staff):
    added = staff.post(
        "/sandbox/faults/add",
        {
            "endpoint": "pipedream.accounts.*",
            "status": "503",
            "rate": "0.5",
            "latency_ms": "0",
            "retry_after": "1",
            "hang_seconds": "0",
        },
    )
    fault = Fault.objects.get()
    staff.post(f"/sandbox/faults/{fault.pk}/toggle")
    fault.refresh_from_db()
    off = fault.enabled
    staff.post(f"/sandbox/faults/{fault.pk}/delete")

    assert added.status_code == 302
    assert (fault.endpoint, fault.status, fault.rate) == ("pipedream.accounts.*", 503, 0.5)
    assert off is False
    assert not Fault.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"endpoint": "bitbucket.everything", "status": "503"}, "matches no endpoint"),
        ({"endpoint": "pipedream.*", "status": "200"}, "4xx or 5xx"),
        ({"endpoint": "pipedream.*"}, "Give the fault an effect"),
        ({"endpoint": "pipedream.*", "status": "500", "rate": "3"}, "between 0 and 1"),
    ],
)
def test_a_bad_fault_is_explained(staff, fields, message):
    data = {"rate": "1", "latency_ms": "0", "retry_after": "1", "hang_seconds": "0", **fields}
    response = staff.post("/sandbox/faults/add", data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Fault.objects.exists()


def test_send_pending_and_retry_webhooks(staff):
    import responses

    delivery = WebhookDelivery.objects.create(
        event="CONNECTION_SUCCESS", url="https://site.example/hook", payload={"event": "x"}
    )
    with responses.RequestsMock() as mock:
        mock.post("https://site.example/hook", status=200)
        staff.post("/sandbox/webhooks/run")
        staff.post(f"/sandbox/webhooks/{delivery.pk}/retry")
        assert len(mock.calls) == 2
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


@pytest.mark.parametrize(
    "model",
    ["oauthaccesstoken", "connecttoken", "externaluser", "account", "fault", "webhookdelivery"],
)
def test_admin_pages_open(staff, make_account, model):
    make_account("user-1", "github")
    assert staff.get(f"/admin/sandbox/{model}/").status_code == 200


def test_admin_account_actions(staff, make_account):
    account = make_account("user-1", "github")
    staff.post(
        "/admin/sandbox/account/",
        {"action": "mark_dead", "_selected_action": [account.pk]},
    )
    account.refresh_from_db()
    assert account.dead is True

"""Trigger events over real HTTP: signed deliveries to the webhook URLs, with retries.

The signature scheme (sandbox/pipedream/triggers.py) is the sandbox's assumption: the headers
and the signed string of Pipedream's trigger webhooks are not publicly confirmed.
"""

import hashlib
import hmac
import json
import time

import pytest

from sandbox.pipedream import triggers, webhooks
from sandbox.pipedream.models import Account, DeployedTrigger, WebhookDelivery
from tests.sandbox import contract_support as contract
from tests.sandbox import urls_support as test_urls
from tests.sandbox.contract_support import CREDENTIALS, LivePipedream
from tests.sandbox.triggers_support import corrected_validate_response

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.sandbox.urls_support"),
]


@pytest.fixture(autouse=True)
def _received(monkeypatch):
    monkeypatch.setattr(contract, "validate_response", corrected_validate_response)
    test_urls.reset()
    yield test_urls.RECEIVED
    webhooks.wait_for_deliveries()
    test_urls.reset()


@pytest.fixture
def live(live_server) -> LivePipedream:
    client = LivePipedream(live_server.url)
    client.token = client.request("POST", "/v1/oauth/token", json=CREDENTIALS).json()[
        "access_token"
    ]
    return client


def _deploy(live, account: Account, hook: str, **fields) -> dict:
    response = live.request(
        "POST",
        "/v1/connect/{pid}/triggers/deploy",
        json={
            "id": "github-new-star",
            "external_user_id": account.user.external_id,
            "configured_props": {
                "github": {"authProvisionId": account.account_id},
                "repoFullname": account.profile["repos"][0],
            },
            "webhook_url": hook,
            **fields,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _mine(deliveries, trigger_id):
    return [d for d in deliveries if d.source == trigger_id]


def test_the_deploy_time_event_arrives_signed(live, live_server, make_account, _received):
    account = make_account("user-1", "github", "octo-pro")

    data = _deploy(live, account, f"{live_server.url}/test-hooks/?t=1")

    [delivery] = _mine(webhooks.wait_for_deliveries(), data["id"])
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    [received] = _received
    assert received["path"] == "/test-hooks/?t=1"
    assert received["content_type"] == "application/json"
    body = received["body"]
    assert body["deployed_component_id"] == data["id"]
    assert body["external_user_id"] == "user-1"
    # The account owns the watched repository: GitHub's star webhook, `repository` removed.
    assert body["event"]["action"] == "created"
    assert body["event"]["sender"]["login"] == "octo-pro"
    headers = received["headers"]
    assert headers["X-Pd-Event-Id"] == body["event_id"]
    assert abs(int(headers["X-Pd-Timestamp"]) - time.time()) < 60
    assert triggers.verify(data["webhook_signing_key"], headers, received["raw"])
    assert not triggers.verify("another-key", headers, received["raw"])


def test_the_signature_by_hand(live, live_server, make_account, _received):
    """What a receiver in another language computes: HMAC-SHA256 over "t.event_id.body"."""
    account = make_account("user-1", "github")
    data = _deploy(live, account, f"{live_server.url}/test-hooks/", emit_on_deploy=False)

    star = {"action": "created", "sender": {"login": account.profile["login"]}}
    triggers.emit(data["id"], star)
    webhooks.wait_for_deliveries()

    [received] = _received
    headers, raw = received["headers"], received["raw"]
    fields = dict(item.split("=", 1) for item in headers["X-Pd-Signature"].split(","))
    message = f"{fields['t']}.{headers['X-Pd-Event-Id']}.".encode() + raw
    expected = hmac.new(data["webhook_signing_key"].encode(), message, hashlib.sha256)
    assert fields["t"] == headers["X-Pd-Timestamp"]
    assert hmac.compare_digest(fields["v1"], expected.hexdigest())
    assert json.loads(raw)["event"] == star
    assert account.profile["repos"][0] in Account.objects.get().profile["starred"]


def test_a_tampered_or_stale_delivery_does_not_verify(live, live_server, make_account, _received):
    account = make_account("user-1", "github")
    data = _deploy(live, account, f"{live_server.url}/test-hooks/")
    webhooks.wait_for_deliveries()
    [received] = _received
    key, headers, raw = data["webhook_signing_key"], received["headers"], received["raw"]

    tampered = raw.replace(b"github-new-star", b"github-new-fork")
    other_event = {**headers, "X-Pd-Event-Id": "evt_other"}

    assert triggers.verify(key, headers, raw)
    assert not triggers.verify(key, headers, tampered)
    assert not triggers.verify(key, other_event, raw)
    assert not triggers.verify(key, headers, raw, tolerance=-1)  # too old for any window
    assert not triggers.verify(key, {}, raw)


def test_a_refused_delivery_is_retried_with_the_same_event(
    live, live_server, make_account, _received
):
    test_urls.FAILURES["remaining"] = 1
    account = make_account("user-1", "github")
    data = _deploy(live, account, f"{live_server.url}/test-hooks/", emit_on_deploy=False)

    event = triggers.emit(data["id"])

    [delivery] = _mine(webhooks.wait_for_deliveries(), data["id"])
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    [received] = _received
    assert received["headers"]["X-Pd-Event-Id"] == event.event_id
    assert triggers.verify(data["webhook_signing_key"], received["headers"], received["raw"])


def test_each_webhook_url_gets_the_event(live, live_server, make_account, _received):
    account = make_account("user-1", "github")
    data = _deploy(live, account, f"{live_server.url}/test-hooks/?n=1", emit_on_deploy=False)
    live.request(
        "PUT",
        f"/v1/connect/{{pid}}/deployed-triggers/{data['id']}/webhooks",
        params={"external_user_id": "user-1"},
        json={
            "webhook_urls": [
                f"{live_server.url}/test-hooks/?n=1",
                f"{live_server.url}/test-hooks/?n=2",
            ]
        },
    )

    triggers.emit(data["id"])

    deliveries = _mine(webhooks.wait_for_deliveries(), data["id"])
    assert sorted(d.status for d in deliveries) == ["delivered", "delivered"]
    assert sorted(r["path"] for r in _received) == ["/test-hooks/?n=1", "/test-hooks/?n=2"]
    assert len({r["headers"]["X-Pd-Event-Id"] for r in _received}) == 1


def test_a_regenerated_key_signs_the_next_events(live, live_server, make_account, _received):
    account = make_account("user-1", "github")
    data = _deploy(live, account, f"{live_server.url}/test-hooks/", emit_on_deploy=False)
    params = {"external_user_id": "user-1"}
    base = f"/v1/connect/{{pid}}/deployed-triggers/{data['id']}/webhooks"
    [hook] = live.request("GET", base, params=params).json()["webhooks"]
    new_key = live.request(
        "POST", f"{base}/{hook['id']}/regenerate_signing_key", params=params
    ).json()["data"]["signing_key"]

    triggers.emit(data["id"])
    webhooks.wait_for_deliveries()

    [received] = _received
    assert triggers.verify(new_key, received["headers"], received["raw"])
    assert not triggers.verify(data["webhook_signing_key"], received["headers"], received["raw"])


def test_a_paused_or_deleted_trigger_sends_nothing(live, live_server, make_account, _received):
    account = make_account("user-1", "github")
    data = _deploy(live, account, f"{live_server.url}/test-hooks/", emit_on_deploy=False)
    url = f"/v1/connect/{{pid}}/deployed-triggers/{data['id']}"
    params = {"external_user_id": "user-1"}

    live.request("PUT", url, params=params, json={"active": False})
    assert triggers.emit(data["id"]) is None
    live.request("PUT", url, params=params, json={"active": True})
    queued = triggers.emit(data["id"])  # queued, not sent yet
    assert live.request("DELETE", url, params=params).status_code == 204

    deliveries = _mine(webhooks.wait_for_deliveries(), data["id"])
    assert [d.status for d in deliveries] == ["cancelled"]
    assert deliveries[0].pk == queued.deliveries[0].pk
    assert _received == []
    assert not DeployedTrigger.objects.exists()


def test_an_unreachable_receiver_fails_after_retries(live, make_account, settings):
    settings.SANDBOX_WEBHOOK_TIMEOUT = 1
    account = make_account("user-1", "github")
    data = _deploy(live, account, "http://127.0.0.1:9/nobody-listens")

    [delivery] = _mine(webhooks.wait_for_deliveries(), data["id"])
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, None)
    assert WebhookDelivery.objects.get(pk=delivery.pk).headers["X-PD-Event-Id"]


@pytest.mark.parametrize("chosen", ["none", "other"])
def test_a_delivery_can_come_in_another_format(
    live, live_server, make_account, _received, settings, chosen
):
    """Pipedream's real signature format is unconfirmed: the sandbox can send none, or
    another one, so the product is shown not to depend on the sandbox's own."""
    settings.SANDBOX_TRIGGER_SIGNATURE = chosen
    account = make_account("user-1", "github")
    data = _deploy(live, account, f"{live_server.url}/test-hooks/", emit_on_deploy=False)

    triggers.emit(data["id"])
    webhooks.wait_for_deliveries()

    [received] = _received
    headers, raw = received["headers"], received["raw"]
    assert "X-Pd-Signature" not in headers and "X-Pd-Event-Id" not in headers
    assert headers["X-Pd-Deployed-Component-Id"] == data["id"]
    assert not triggers.verify(data["webhook_signing_key"], headers, raw)
    if chosen == "other":
        expected = hmac.new(data["webhook_signing_key"].encode(), raw, hashlib.sha256)
        assert headers["X-Signature"] == f"sha256={expected.hexdigest()}"
    else:
        assert "X-Signature" not in headers

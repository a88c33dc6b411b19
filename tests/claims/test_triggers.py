"""Event-driven claims over real HTTP: a trigger deployed in the sandbox for alice, its
signed events delivered to our webhook, her claim completing with no request from her."""

import hashlib
import hmac
import json
import time

import pytest
import requests
from django.db import connection

from claims.models import Claim, Completion, TriggerDelivery, TriggerDeployment
from sandbox import bitbadges as bb_sandbox
from sandbox import triggers as sandbox_triggers
from sandbox import webhooks as sandbox_webhooks
from sandbox.catalogue import DEMO_STARRED_REPO
from sandbox.models import DeployedTrigger
from tests.claims.claims_support import run_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def star_claim(apps, upstreams, settings):
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0, 0)
    upstream = bb_sandbox.claim_create(max_uses=100, password="pw")
    claim = Claim(
        slug="star-the-repo",
        name="Star the repository",
        delivery="bitbadges",
        bitbadges_claim_id=upstream.claim_id,
        password_instance_id="pwd",
        enabled=True,
        criterion_app=apps["github"],
        criterion_proxy_url=f"https://api.github.com/user/starred/{DEMO_STARRED_REPO}",
        criterion_path="$status",
        criterion_comparison="eq",
        criterion_value="204",
        trigger="github-new-star",
        trigger_props={"repoFullname": DEMO_STARRED_REPO},
        trigger_event_label=f"you star {DEMO_STARRED_REPO}",
    )
    claim.set_password("pw")
    claim.full_clean()
    claim.save()
    claim.required_apps.set([apps["github"]])
    return claim


def deployed(claim, member) -> TriggerDeployment:
    return TriggerDeployment.objects.get(claim=claim, member=member)


def test_an_event_completes_the_claim_with_no_request_from_the_member(
    star_claim, alice, connect, client
):
    connect(alice, "github", "octo")  # has not starred the repository
    run_worker()  # the check (ineligible) and the deployment
    completion = Completion.objects.get(claim=star_claim, member=alice)
    assert completion.state == "ineligible"
    deployment = deployed(star_claim, alice)
    assert deployment.status == "active" and deployment.pipedream_id.startswith("dc_")
    upstream = DeployedTrigger.objects.get(trigger_id=deployment.pipedream_id)
    assert upstream.component_key == "github-new-star"
    assert upstream.user.external_id == str(alice.external_id)

    client.force_login(alice)
    page = client.get("/claims/").content.decode()
    assert f"We'll complete this as soon as you star {DEMO_STARRED_REPO}." in page
    # The page keeps listening, slowly, for the event (it may come any moment).
    assert 'data-polling="watching"' in page and 'hx-trigger="every 10s"' in page

    # Alice stars the repository on GitHub: the trigger emits, the sandbox delivers.
    # The event as github-new-star emits a star webhook: GitHub's body without `repository`.
    star = {"action": "created", "starred_at": "2026-01-01T00:00:00Z", "sender": {"login": "octo"}}
    sandbox_triggers.emit(deployment.pipedream_id, star)
    [delivery] = [d for d in sandbox_webhooks.wait_for_deliveries() if d.event == "TRIGGER_EVENT"]
    assert (delivery.status, delivery.last_status_code) == ("delivered", 202)
    received = TriggerDelivery.objects.get()
    assert received.outcome == "accepted"

    run_worker()  # the event's check, then the removal of the trigger
    run_worker()
    completion.refresh_from_db()
    assert completion.state == "completed", completion.reason
    assert bb_sandbox.completions(star_claim.bitbadges_claim_id, alice.address) == 1
    assert not TriggerDeployment.objects.exists()
    assert not DeployedTrigger.objects.exists()


def test_the_trigger_is_deployed_once(star_claim, alice, connect):
    connect(alice, "github", "octo")
    connect(alice, "github", "octo-2")  # a second account of the same app
    run_worker()
    assert TriggerDeployment.objects.count() == 1
    assert DeployedTrigger.objects.count() == 1


def test_disconnecting_removes_the_deployed_trigger(star_claim, alice, connect):
    from connections import services as connections_services

    account = connect(alice, "github", "octo")
    run_worker()
    assert DeployedTrigger.objects.count() == 1
    connections_services.account_disconnect(member=alice, account=account)
    run_worker()
    assert not TriggerDeployment.objects.exists()
    assert not DeployedTrigger.objects.exists()


def signed(key: str, body: bytes, *, event_id="evt_1", timestamp=None) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    message = f"{timestamp}.{event_id}.".encode() + body
    digest = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    return {
        "X-PD-Signature": f"t={timestamp},v1={digest}",
        "X-PD-Timestamp": str(timestamp),
        "X-PD-Event-Id": event_id,
        "Content-Type": "application/json",
    }


@pytest.fixture
def hook(star_claim, alice, connect, live_server):
    """Alice's deployment, its webhook URL and signing key."""
    connect(alice, "github", "octo")
    run_worker()
    deployment = deployed(star_claim, alice)
    from claims import triggers

    return triggers.webhook_url(deployment).replace("http://127.0.0.1:8000", live_server.url), (
        deployment.signing_key()
    )


def post(url, body: bytes, headers: dict):
    try:
        return requests.post(url, data=body, headers=headers, timeout=10)
    finally:
        connection.close()  # requests never holds the test's connection; keep it tidy


@pytest.mark.parametrize(
    ("tamper", "status", "says"),
    [
        ("body", 401, "does not match"),
        ("key", 401, "does not match"),
        ("old", 401, "too old"),
        ("future", 401, "too old"),
        ("no-signature", 401, "Missing or malformed signature"),
        ("reference", 400, "tampered deployment reference"),
    ],
)
def test_a_forged_stale_or_misdirected_delivery_is_refused_and_changes_nothing(
    hook, star_claim, alice, tamper, status, says
):
    url, key = hook
    body = json.dumps({"event": {"repo": DEMO_STARRED_REPO}}).encode()
    headers = signed(key, body)
    if tamper == "body":
        body = body.replace(b"bitbadges", b"bitbodges")
    elif tamper == "key":
        headers = signed("not-the-key", body)
    elif tamper == "old":
        headers = signed(key, body, timestamp=int(time.time()) - 3600)
    elif tamper == "future":
        headers = signed(key, body, timestamp=int(time.time()) + 3600)
    elif tamper == "no-signature":
        del headers["X-PD-Signature"]
    elif tamper == "reference":
        url = url.replace("d=", "d=x")
    response = post(url, body, headers)
    assert response.status_code == status
    assert says in response.json()["error"]
    assert TriggerDelivery.objects.get().outcome == "refused"
    run_worker()
    assert Completion.objects.get(claim=star_claim, member=alice).state == "ineligible"
    assert deployed(star_claim, alice).events == 0


def test_a_replayed_event_changes_nothing(hook, star_claim, alice):
    url, key = hook
    body = json.dumps({"event": {"repo": DEMO_STARRED_REPO}}).encode()
    headers = signed(key, body, event_id="evt_replayed")
    assert post(url, body, headers).status_code == 202
    again = post(url, body, headers)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert [d.outcome for d in TriggerDelivery.objects.order_by("pk")] == ["accepted", "duplicate"]
    assert deployed(star_claim, alice).events == 1


def test_the_webhook_is_post_only_and_bounded(hook):
    url, key = hook
    assert requests.get(url, timeout=10).status_code == 405
    huge = b"{" + b" " * (70 * 1024) + b"}"
    response = post(url, huge, signed(key, huge))
    assert response.status_code == 413


def test_a_deploy_whose_answer_was_lost_leaves_no_orphan_upstream(
    star_claim, alice, connect, settings
):
    # The deploy happens upstream, but its answer never arrives (a hang past the timeout).
    settings.PIPEDREAM_TIMEOUT = 0.5
    settings.SANDBOX_FAULTS = {"pipedream.triggers.deploy": {"hang_seconds": 1.0}}
    connect(alice, "github", "octo")
    run_worker()
    time.sleep(1.0)  # the sandbox finishes deploying after our client gave up
    settings.SANDBOX_FAULTS = {}
    settings.PIPEDREAM_TIMEOUT = 5
    assert deployed(star_claim, alice).status == "failed"
    # The next account event deploys again, and clears what the lost one left.
    connect(alice, "github", "octo-2")
    run_worker()
    deployment = deployed(star_claim, alice)
    assert list(DeployedTrigger.objects.values_list("trigger_id", flat=True)) == [
        deployment.pipedream_id
    ]


@pytest.mark.parametrize(
    "signature",
    ["t=" + "9" * 400 + ",v1=" + "0" * 64, "t=1,v1=é", "t=,v1=", "v1=abc", "t=1;v1=2", "garbage"],
)
def test_hostile_signature_headers_are_refused_not_500(hook, signature):
    url, key = hook
    body = b'{"event": {}}'
    headers = {**signed(key, body), "X-PD-Signature": signature}
    response = post(
        url, body, {k: v.encode("utf-8") if isinstance(v, str) else v for k, v in headers.items()}
    )
    assert response.status_code == 401
    assert TriggerDelivery.objects.get().outcome == "refused"


def test_a_delivery_for_no_deployment_of_ours_keeps_only_its_start(star_claim, live_server):
    body = b'{"x": "' + b"a" * 50_000 + b'"}'
    response = post(f"{live_server.url}/claims/trigger-webhook/?d=forged", body, {})
    assert response.status_code == 400
    assert len(TriggerDelivery.objects.get().body) <= 1024


def test_disconnecting_another_account_of_the_app_keeps_the_trigger(star_claim, alice, connect):
    from connections import services as connections_services

    connect(alice, "github", "octo")
    run_worker()
    other = connect(alice, "github", "octo-2")
    run_worker()
    connections_services.account_disconnect(member=alice, account=other)
    run_worker()
    assert deployed(star_claim, alice).status == "active"
    assert DeployedTrigger.objects.count() == 1


def test_a_failed_deploy_is_retried_by_recheck_claims(star_claim, alice, connect, settings):
    import io

    from django.core.management import call_command

    settings.SANDBOX_FAULTS = {"pipedream.triggers.deploy": {"status": 500}}
    connect(alice, "github", "octo")
    run_worker()
    assert deployed(star_claim, alice).status == "failed"
    settings.SANDBOX_FAULTS = {}
    call_command("recheck_claims", "--stale", "0", stdout=io.StringIO())
    assert deployed(star_claim, alice).status == "active"
    assert DeployedTrigger.objects.count() == 1


def test_the_page_promises_nothing_when_no_trigger_is_watching(
    star_claim, alice, connect, client, settings
):
    settings.SANDBOX_FAULTS = {"pipedream.triggers.deploy": {"status": 500}}
    connect(alice, "github", "octo")
    run_worker()
    client.force_login(alice)
    assert "We'll complete this as soon as" not in client.get("/claims/").content.decode()


def test_removal_during_a_deploy_leaves_nothing_upstream(star_claim, alice, connect, monkeypatch):
    from claims import triggers
    from connections import pipedream

    real_deploy = pipedream.PipedreamClient.deploy_trigger

    def deploy_then_disconnect(self, **kwargs):
        answer = real_deploy(self, **kwargs)
        # Meanwhile the member disconnected (or the claim completed): the row is removed.
        triggers.deployment_remove(TriggerDeployment.objects.get())
        return answer

    monkeypatch.setattr(pipedream.PipedreamClient, "deploy_trigger", deploy_then_disconnect)
    connect(alice, "github", "octo")
    run_worker()
    assert not TriggerDeployment.objects.exists()
    assert not DeployedTrigger.objects.exists()

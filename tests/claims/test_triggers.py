"""Event-driven claims over real HTTP: a trigger deployed in the sandbox for alice, its
signed events delivered to our webhook, her claim completing with no request from her."""

import datetime
import hashlib
import hmac
import html
import json
import time
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection
from django.utils import timezone

from claims.models import Completion, TriggerDelivery, TriggerDeployment
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.pipedream import triggers as sandbox_triggers
from sandbox.pipedream import webhooks as sandbox_webhooks
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from sandbox.pipedream.models import DeployedTrigger
from tests.claims.claims_support import run_worker
from tests.claims.triggers_support import star_claim as make_star_claim
from tests.live_support import wait_until_served

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def star_claim(apps, upstreams, settings):
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0, 0)
    return make_star_claim(apps["github"], trigger_event_label=f"you star {DEMO_STARRED_REPO}")


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
    # The row's sentence, escaped in the page as any text built outside the template.
    promise = f"We'll complete this as soon as you star {DEMO_STARRED_REPO}."
    assert promise in html.unescape(page)
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
    assert bb_sandbox_attempts.completions(star_claim.bitbadges_claim_id, alice.address) == 1
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


@pytest.fixture
def pd_v1(settings):
    """The sandbox's signature format configured: verified, refused when it fails."""
    settings.PIPEDREAM_TRIGGER_SIGNATURE = "pd-v1"


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
    hook, pd_v1, star_claim, alice, tamper, status, says
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


def test_a_replayed_event_changes_nothing(hook, pd_v1, star_claim, alice):
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
    wait_until_served(1.0)  # the sandbox finishes deploying after our client gave up
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
def test_hostile_signature_headers_are_refused_not_500(hook, pd_v1, signature):
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
        # Meanwhile the member disconnected: the account goes, and the row is removed.
        from connections.models import ConnectedAccount

        ConnectedAccount.objects.all().delete()
        triggers.deployment_remove(TriggerDeployment.objects.get())
        return answer

    monkeypatch.setattr(pipedream.PipedreamClient, "deploy_trigger", deploy_then_disconnect)
    connect(alice, "github", "octo")
    run_worker()
    assert not TriggerDeployment.objects.exists()
    assert not DeployedTrigger.objects.exists()


# --- A delivery is a wake-up call (no signature format is confirmed) ------------------


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def trigger_tasks():
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path__endswith="trigger_event_task")


@pytest.mark.parametrize("format_sent", ["other", "none"])
def test_a_delivery_in_an_unrecognised_format_completes_the_claim(
    star_claim, alice, connect, settings, format_sent
):
    """No format configured (the default): the sandbox signs some other way, or not at
    all, and the delivery to our signed URL still completes alice's claim, because the
    check reads the trigger's events list and her state upstream, not the delivery."""
    settings.SANDBOX_TRIGGER_SIGNATURE = format_sent
    assert settings.PIPEDREAM_TRIGGER_SIGNATURE == "none"
    connect(alice, "github", "octo")
    run_worker()
    deployment = deployed(star_claim, alice)
    star = {"action": "created", "starred_at": "2026-01-01T00:00:00Z", "sender": {"login": "octo"}}
    event = sandbox_triggers.emit(deployment.pipedream_id, star)
    [delivery] = [d for d in sandbox_webhooks.wait_for_deliveries() if d.event == "TRIGGER_EVENT"]
    assert (delivery.status, delivery.last_status_code) == ("delivered", 202)
    assert "X-PD-Signature" not in delivery.headers

    run_worker()  # the wake-up reads the events list, then the check
    run_worker()
    completion = Completion.objects.get(claim=star_claim, member=alice)
    assert completion.state == "completed", completion.reason
    received = TriggerDelivery.objects.get()
    assert received.outcome == "accepted"
    # Which event and whom it names came from the events list, not the body.
    assert f"{event.event_id} (octo)" in received.detail
    # The headers are kept for the operator, the signature only as its shape and digest.
    if format_sent == "other":
        sent = delivery.headers["X-Signature"]
        kept = received.headers["X-Signature"]
        assert sent not in kept and sent[7:] not in kept
        assert "sha256=<64 hex>" in kept and "sha256 " in kept
    assert received.headers["X-Pd-Deployed-Component-Id"] == deployment.pipedream_id


def test_a_configured_format_refuses_another_and_keeps_its_headers(
    star_claim, alice, connect, settings
):
    settings.PIPEDREAM_TRIGGER_SIGNATURE = "pd-v1"
    settings.SANDBOX_TRIGGER_SIGNATURE = "other"
    connect(alice, "github", "octo")
    run_worker()
    deployment = deployed(star_claim, alice)
    star = {"action": "created", "sender": {"login": "octo"}}
    sandbox_triggers.emit(deployment.pipedream_id, star)
    [delivery] = [d for d in sandbox_webhooks.wait_for_deliveries() if d.event == "TRIGGER_EVENT"]
    assert delivery.last_status_code == 401
    received = TriggerDelivery.objects.filter(outcome="refused").first()
    assert received is not None and "X-Signature" in received.headers
    assert delivery.headers["X-Signature"] not in str(received.headers)
    assert not trigger_tasks().exists()


def test_the_delivery_body_is_never_evidence(star_claim, alice, connect, client):
    """A body claiming a star, to a valid URL, with no event in the trigger's list: the
    wake-up finds nothing new and asks for no check; alice stays where she was."""
    connect(alice, "github", "octo")
    run_worker()
    deployment = deployed(star_claim, alice)
    from claims import triggers

    fake = json.dumps({"event": {"action": "created", "sender": {"login": "octo"}}})
    response = client.post(path_of(triggers.webhook_url(deployment)), fake, "application/json")
    assert response.status_code == 202
    run_worker()
    run_worker()
    assert Completion.objects.get(claim=star_claim, member=alice).state == "ineligible"
    assert "no check" in TriggerDelivery.objects.get().detail


@pytest.mark.parametrize(
    "tamper", ["altered", "another key", "unsigned id", "another salt", "none", "truncated"]
)
def test_a_tampered_url_changes_nothing(star_claim, alice, connect, settings, tamper):
    """The sandbox's own delivery (valid, in an unchecked format) sent to a tampered URL:
    4xx, no task, no check, nothing on the deployment."""
    from django.core import signing

    from claims import triggers

    connect(alice, "github", "octo")
    run_worker()
    deployment = deployed(star_claim, alice)
    url = triggers.webhook_url(deployment)
    base, reference = url.split("?d=", 1)
    forged = {
        "altered": reference[:-1] + ("A" if reference[-1] != "A" else "B"),
        "another key": signing.dumps(deployment.pk, key="x" * 50, salt=triggers.REFERENCE_SALT),
        "unsigned id": str(deployment.pk),
        "another salt": signing.dumps(deployment.pk, salt="connections.session"),
        "none": "",
        "truncated": reference.split(":", 1)[0],
    }[tamper]
    tasks_before = trigger_tasks().count()
    hooks = DeployedTrigger.objects.get(trigger_id=deployment.pipedream_id)
    hooks.webhooks = sandbox_triggers.make_webhooks([f"{base}?d={forged}"])
    hooks.save()
    sandbox_triggers.emit(deployment.pipedream_id, {"action": "created", "sender": {"login": "x"}})
    [delivery] = [d for d in sandbox_webhooks.wait_for_deliveries() if d.event == "TRIGGER_EVENT"]
    assert delivery.last_status_code == 400
    assert trigger_tasks().count() == tasks_before
    # Each of the sandbox's tries is refused and stored; nothing else is written.
    assert set(TriggerDelivery.objects.values_list("outcome", flat=True)) == {"refused"}
    run_worker()
    deployment.refresh_from_db()
    assert (deployment.events, deployment.events_cursor, deployment.last_event_at) == (0, 0, None)
    assert Completion.objects.get(claim=star_claim, member=alice).state == "ineligible"


def test_a_thousand_deliveries_in_a_minute_cost_at_most_the_limit(
    star_claim, alice, connect, client, settings, monkeypatch
):
    import types

    from claims import triggers
    from claims.engine import check_requests
    from connections import pipedream
    from core import ratelimit

    settings.TRIGGER_CHECK_RATE_LIMIT = (10, 60)
    start = (time.time() // 60) * 60 + 1  # one fixed window, whenever the test runs
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: start))
    connect(alice, "github", "octo")
    run_worker()
    deployment = deployed(star_claim, alice)
    path = path_of(triggers.webhook_url(deployment))
    calls = {"events": 0, "checks": 0}
    real_list = pipedream.PipedreamClient.list_trigger_events
    real_request = check_requests.completion_request

    def counting_list(self, *args, **kwargs):
        calls["events"] += 1
        return real_list(self, *args, **kwargs)

    def counting_request(**kwargs):
        calls["checks"] += 1
        return real_request(**kwargs)

    monkeypatch.setattr(pipedream.PipedreamClient, "list_trigger_events", counting_list)
    monkeypatch.setattr(check_requests, "completion_request", counting_request)
    # Real events keep coming (a popular repository): one per delivery's worth.
    for n in range(3):
        sandbox_triggers.emit(
            deployment.pipedream_id,
            {"action": "created", "sender": {"login": f"fan{n}"}},
            apply=False,
        )
    sandbox_webhooks.wait_for_deliveries()
    body = json.dumps({"event": {"action": "created"}})
    statuses = {client.post(path, body, "application/json").status_code for _ in range(1000)}
    assert statuses <= {200, 202}
    outcomes = list(TriggerDelivery.objects.values_list("outcome", flat=True))
    assert len(outcomes) == 1003 and outcomes.count("accepted") == 10
    assert outcomes.count("throttled") == 993
    assert trigger_tasks().ready().count() == 10
    # One wake-up after the window, so the window's last event is not left unread.
    [later] = trigger_tasks().exclude(pk__in=trigger_tasks().ready())
    assert timezone.now() < later.run_after <= timezone.now() + datetime.timedelta(seconds=60)
    run_worker()
    run_worker()
    assert calls["events"] <= 10 and calls["checks"] <= 10, calls
    assert calls["checks"] >= 1  # and the events did ask for alice's check


def reconnect_by_link(client, member, account) -> None:
    """The member reconnects `account` through our Connect Link; the sandbox connects a
    new upstream account, which takes the old one's place (the old one deleted there)."""
    client.force_login(member)
    hand_off = client.get(f"/connect/{account.app.slug}/?account={account.pk}")
    assert hand_off.status_code == 302, hand_off.content
    allowed = client.post(path_of(hand_off["Location"]), {"action": "allow", "name": account.name})
    assert allowed.status_code == 302, allowed.content
    assert client.get(path_of(allowed["Location"]), follow=True).status_code == 200
    sandbox_webhooks.wait_for_deliveries()


@pytest.mark.parametrize("old_trigger_upstream", ["kept", "gone", "removal-fails"])
def test_a_reconnect_that_replaces_the_account_moves_the_trigger_onto_it(
    star_claim, alice, connect, client, settings, old_trigger_upstream
):
    """A Connect Link reconnect may connect a new upstream account, which takes the old
    one's place (same row, new Pipedream id; the old one deleted at Pipedream). Alice's
    trigger goes with it: deployed again on the new account, on the same row, and the
    old trigger removed upstream (already gone there is fine; a removal Pipedream
    refuses is tried again by recheck_claims)."""
    import io

    from django.core.management import call_command

    from sandbox.pipedream.models import Account

    account = connect(alice, "github", "octo")
    run_worker()
    before = deployed(star_claim, alice)
    old_id = account.pipedream_id

    reconnect_by_link(client, alice, account)
    if old_trigger_upstream == "gone":  # Pipedream removed the deleted account's trigger
        DeployedTrigger.objects.filter(trigger_id=before.pipedream_id).delete()
    elif old_trigger_upstream == "removal-fails":
        settings.SANDBOX_FAULTS = {"pipedream.triggers.delete": {"status": 500}}
    run_worker()  # the webhook, the check, the deploy again
    if old_trigger_upstream == "removal-fails":
        failed = deployed(star_claim, alice)
        assert failed.status == "failed" and failed.pipedream_id == before.pipedream_id
        settings.SANDBOX_FAULTS = {}
        call_command("recheck_claims", "--stale", "0", stdout=io.StringIO())

    account.refresh_from_db()
    assert account.pipedream_id != old_id
    assert list(Account.objects.values_list("account_id", flat=True)) == [account.pipedream_id]
    deployment = deployed(star_claim, alice)
    assert TriggerDeployment.objects.count() == 1 and deployment.pk == before.pk
    assert (deployment.status, deployment.account_id) == ("active", account.pk)
    assert deployment.account_pipedream_id == account.pipedream_id
    assert deployment.pipedream_id != before.pipedream_id
    # Exactly one trigger upstream for alice and the claim, on the new account.
    [upstream] = DeployedTrigger.objects.all()
    assert upstream.trigger_id == deployment.pipedream_id
    assert upstream.account.account_id == account.pipedream_id
    assert upstream.component_key == star_claim.trigger
    assert upstream.user.external_id == str(alice.external_id)
    assert Completion.objects.get(claim=star_claim, member=alice).state == "ineligible"

    # Alice stars the repository: the moved trigger's event completes her claim.
    star = {"action": "created", "starred_at": "2026-01-01T00:00:00Z", "sender": {"login": "octo"}}
    sandbox_triggers.emit(deployment.pipedream_id, star)
    [delivery] = [d for d in sandbox_webhooks.wait_for_deliveries() if d.event == "TRIGGER_EVENT"]
    assert (delivery.status, delivery.last_status_code) == ("delivered", 202)
    run_worker()
    run_worker()
    completion = Completion.objects.get(claim=star_claim, member=alice)
    assert completion.state == "completed", completion.reason
    assert bb_sandbox_attempts.completions(star_claim.bitbadges_claim_id, alice.address) == 1

"""Hostile bodies for both webhooks, /connect/webhook/ and /claims/trigger-webhook/:
oversized (declared and actual), malformed, deeply nested, wrongly typed, not UTF-8,
empty, replayed, forged. Always a 4xx (or 200/202 for an accepted or replayed delivery),
never a 500 (the watch in conftest.py fails the test on one), and nothing half-written:
each delivery is one stored row with its outcome, and nothing else changes."""

import json
import time

import pytest
from django.core.management import call_command
from django.test import Client
from django_tasks_db.models import DBTaskResult

from claims.models import Completion, TriggerDelivery
from connections import services
from connections.models import App, ConnectedAccount, ConnectSession, WebhookEvent
from tests.attack.webhooks_support import signed, trigger_deployment
from tests.connections.services_support import CTOK, make_session

CONNECT = "/connect/webhook/"
TRIGGER = "/claims/trigger-webhook/"

DEEP = b"[" * 60_000  # under the 64 KiB limit, far past any parser's recursion limit
HOSTILE_BODIES = {
    "empty": b"",
    "not json": b"this is not json",
    "truncated json": b'{"event": "CONNECTION_SUCCESS", "connect_token": "',
    "deeply nested list": DEEP,
    "deeply nested object": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "not utf-8": b'{"event": "\xff\xfe\xfd"}',
    "utf-16": json.dumps({"event": "CONNECTION_SUCCESS"}).encode("utf-16"),
    "nul bytes": b'{"event": "CONNECTION_SUCCESS\x00"}',
    "lone surrogate": b'{"event": "\\ud800"}',
    "huge number": b'{"event": 1' + b"0" * 5000 + b"}",
    "json array": b"[1, 2, 3]",
    "json string": b'"CONNECTION_SUCCESS"',
    "json null": b"null",
    "nan": b'{"event": NaN}',
}


def wrong_types():
    """Every field of a delivery with each wrong type, keeping the rest valid."""
    base = {
        "event": "CONNECTION_SUCCESS",
        "connect_token": CTOK,
        "environment": "development",
        "connect_session_id": 1,
        "account": {"id": "apn_abc123", "name": "octo"},
        "error": "",
    }
    values = [None, 0, -1, 1.5, True, [], [1], {}, {"id": 1}, "", "x" * 10_000]
    for field in base:
        for value in values:
            yield field, value, {**base, field: value}


@pytest.fixture
def session(member):
    app = App.objects.create(slug="github", name="GitHub", enabled=True)
    return make_session(member, app)


def connect_post(body: bytes, reference: str | None, **extra):
    url = CONNECT if reference is None else f"{CONNECT}?s={reference}"
    return Client().post(url, data=body, content_type="application/json", **extra)


def unchanged(session, before_status=ConnectSession.Status.ISSUED):
    session.refresh_from_db()
    assert session.status == before_status
    assert not ConnectedAccount.objects.exists()


# --- /connect/webhook/ ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_connect_webhook_hostile_bodies_are_refused_with_one_row(session, name):
    body = HOSTILE_BODIES[name]
    response = connect_post(body, services.session_reference(session))
    assert 400 <= response.status_code < 500, (name, response.status_code)
    assert "error" in response.json()
    event = WebhookEvent.objects.get()
    assert event.outcome == WebhookEvent.Outcome.REFUSED
    unchanged(session)


@pytest.mark.django_db
def test_connect_webhook_oversized_declared_or_actual_is_413(session):
    reference = services.session_reference(session)
    big = json.dumps({"event": "CONNECTION_SUCCESS", "pad": "x" * 70_000}).encode()
    assert connect_post(big, reference).status_code == 413
    # A small body that declares itself huge.
    response = connect_post(b"{}", reference, CONTENT_LENGTH="999999999")
    assert response.status_code in (400, 413)
    response = connect_post(b"{}", reference, CONTENT_LENGTH="not-a-number")
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 3
    assert set(WebhookEvent.objects.values_list("outcome", flat=True)) == {"refused"}
    unchanged(session)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no reference", 400),
        ("bad reference", 403),
        ("tampered reference", 403),
        ("reference of another purpose", 403),
        ("wrong token", 403),
        ("no token", 403),
    ],
)
def test_connect_webhook_forgeries_are_refused(session, case, status):
    good = services.session_reference(session)
    body = {"event": "CONNECTION_SUCCESS", "connect_token": CTOK, "account": {"id": "apn_x"}}
    reference = {
        "no reference": None,
        "bad reference": "nonsense",
        "tampered reference": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "reference of another purpose": _emailed_link_like(session),
        "wrong token": good,
        "no token": good,
    }[case]
    if case == "wrong token":
        body["connect_token"] = "ctok_" + "f" * 32
    if case == "no token":
        del body["connect_token"]
    response = connect_post(json.dumps(body).encode(), reference)
    assert response.status_code == status, response.content
    assert WebhookEvent.objects.get().outcome == "refused"
    unchanged(session)


def _emailed_link_like(session) -> str:
    from django.core import signing

    # Signed with our key, but not with the session salt: must not pass as one.
    return signing.TimestampSigner(salt="connections.emailed-link").sign(session.public_id.hex)


@pytest.mark.django_db
def test_connect_webhook_only_answers_post(session):
    client = Client()
    for method in ("get", "put", "delete", "patch"):
        assert getattr(client, method)(CONNECT).status_code == 405
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_connect_webhook_wrong_types_in_every_field_never_break_the_task(session, settings):
    """What passes the view (the right session and token) is processed by the worker:
    wrong types are refused there, never a failed task, never an account."""
    # Dozens of deliveries on one session: over the default rate limit (the flood tests).
    settings.CONNECT_WEBHOOK_RATE_LIMIT = settings.CONNECT_WEBHOOK_MEMBER_RATE_LIMIT = (500, 60)
    reference = services.session_reference(session)
    posted = 0
    for field, value, body in wrong_types():
        if field in ("connect_token", "event") or (field == "account" and value is not None):
            response = connect_post(json.dumps(body).encode(), reference)
            assert response.status_code in (202, 400, 403), (field, value, response.status_code)
            posted += 1
    assert posted > 20
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    assert not DBTaskResult.objects.filter(status="FAILED").exists()
    assert WebhookEvent.objects.count() == posted
    assert not WebhookEvent.objects.filter(outcome__in=["pending", "error"]).exists()
    assert not ConnectedAccount.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_connect_webhook_error_event_with_odd_error_values(session):
    reference = services.session_reference(session)
    for value in ([1, 2], {"a": 1}, 12, "<script>alert(1)</script>" * 100):
        body = {"event": "CONNECTION_ERROR", "connect_token": CTOK, "error": value}
        assert connect_post(json.dumps(body).encode(), reference).status_code == 202
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    assert not DBTaskResult.objects.filter(status="FAILED").exists()
    session.refresh_from_db()
    assert session.status == ConnectSession.Status.FAILED
    # The first delivery settled it; the rest are duplicates and change nothing.
    outcomes = sorted(WebhookEvent.objects.values_list("outcome", flat=True))
    assert outcomes == ["duplicate", "duplicate", "duplicate", "failed"]


# --- /claims/trigger-webhook/ --------------------------------------------------------


@pytest.fixture
def deployment(member):
    github = App.objects.create(slug="github", name="GitHub", enabled=True)
    made = trigger_deployment(member, github, slug="webhook-attack", pipedream_id="dc_attack")
    made.url = made.query  # d=<reference>
    return made


@pytest.fixture
def pd_v1(settings):
    """The sandbox's signature format configured (verified, so refused when it fails)."""
    settings.PIPEDREAM_TRIGGER_SIGNATURE = "pd-v1"


def trigger_post(body: bytes, query: str, headers: dict):
    return Client().post(
        f"{TRIGGER}?{query}", data=body, content_type="application/json", **headers
    )


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_trigger_webhook_hostile_bodies_unsigned_are_refused(deployment, name, pd_v1):
    body = HOSTILE_BODIES[name]
    response = trigger_post(body, deployment.url, {})
    assert response.status_code == 401, (name, response.status_code)
    assert TriggerDelivery.objects.get().outcome == "refused"
    deployment.refresh_from_db()
    assert deployment.events == 0
    assert not Completion.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_trigger_webhook_hostile_bodies_signed_are_stored_once(deployment, name, pd_v1):
    """Signed by the deployment's key, any body is the trigger's own event: stored as
    received (its check asks the upstream, never the body)."""
    body = HOSTILE_BODIES[name]
    response = trigger_post(body, deployment.url, signed(body))
    assert response.status_code == 202, (name, response.status_code)
    again = trigger_post(body, deployment.url, signed(body))
    assert again.status_code == 200  # a replay: accepted before, nothing changes
    assert sorted(TriggerDelivery.objects.values_list("outcome", flat=True)) == [
        "accepted",
        "duplicate",
    ]
    deployment.refresh_from_db()
    assert deployment.events == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no reference", 400),
        ("garbage reference", 400),
        ("reference of another purpose", 400),
        ("reference to no deployment", 410),
        ("wrong key", 401),
        ("stale", 401),
        ("future", 401),
        ("tampered body", 401),
        ("other event id", 401),
        ("no event id", 400),
        ("long event id", 400),
        ("non-ascii timestamp", 401),
        ("two signatures", 401),
        ("nul in the event id", 401),
    ],
)
def test_trigger_webhook_forgeries_are_refused(deployment, case, status, pd_v1):
    from django.core import signing

    body = b'{"repo": "x"}'
    headers = signed(body)
    query = deployment.url
    if case == "no reference":
        query = ""
    elif case == "garbage reference":
        query = "d=%00%ff<script>"
    elif case == "reference of another purpose":
        query = "d=" + signing.dumps(deployment.pk, salt="connections.session")
    elif case == "reference to no deployment":
        query = "d=" + signing.dumps(deployment.pk + 1000, salt="claims.trigger-webhook")
    elif case == "wrong key":
        headers = signed(body, key="some-other-key-of-another-deployment")
    elif case == "stale":
        headers = signed(body, timestamp=int(time.time()) - 3600)
    elif case == "future":
        headers = signed(body, timestamp=int(time.time()) + 3600)
    elif case == "tampered body":
        body = b'{"repo": "y"}'
    elif case == "other event id":
        headers["HTTP_X_PD_EVENT_ID"] = "evt_2"
    elif case == "no event id":
        del headers["HTTP_X_PD_EVENT_ID"]
    elif case == "long event id":
        headers = signed(body, event_id="e" * 300)
    elif case == "non-ascii timestamp":
        headers["HTTP_X_PD_SIGNATURE"] = headers["HTTP_X_PD_SIGNATURE"].replace("t=", "t=١")
    elif case == "nul in the event id":
        headers["HTTP_X_PD_EVENT_ID"] = "evt\x00<b>"
    elif case == "two signatures":
        headers["HTTP_X_PD_SIGNATURE"] += ",v1=" + "0" * 64
    response = trigger_post(body, query, headers)
    assert response.status_code == status, (case, response.content)
    assert TriggerDelivery.objects.get().outcome == "refused"
    deployment.refresh_from_db()
    assert deployment.events == 0


@pytest.mark.django_db
def test_trigger_webhook_oversized_is_413_and_keeps_only_the_start(deployment):
    body = b'{"pad": "' + b"x" * 70_000 + b'"}'
    response = trigger_post(body, deployment.url, signed(body))
    assert response.status_code == 413
    delivery = TriggerDelivery.objects.get()
    assert delivery.outcome == "refused" and len(delivery.body) <= 64 * 1024
    unsigned = trigger_post(body, "d=bad", {})
    assert unsigned.status_code == 413
    assert len(TriggerDelivery.objects.order_by("-pk")[0].body) <= 1024


@pytest.mark.django_db
def test_trigger_webhook_only_answers_post(deployment):
    client = Client()
    for method in ("get", "put", "delete", "patch"):
        assert getattr(client, method)(f"{TRIGGER}?{deployment.url}").status_code == 405
    assert not TriggerDelivery.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_trigger_webhook_hostile_bodies_unchecked_are_only_wake_ups(deployment, name):
    """No signature format configured: any body to a valid reference is stored and wakes
    a check (which reads the events list, never the body); never a 500."""
    body = HOSTILE_BODIES[name]
    response = trigger_post(body, deployment.url, {})
    assert response.status_code == 202, (name, response.status_code)
    delivery = TriggerDelivery.objects.get()
    assert delivery.outcome == "accepted" and delivery.event_id == ""
    assert not Completion.objects.exists()  # the body completes nothing by itself


@pytest.mark.django_db
def test_trigger_webhook_keeps_headers_without_secrets(deployment):
    secrets = {
        "HTTP_AUTHORIZATION": "Bearer live-token-123456789",
        "HTTP_COOKIE": "sessionid=session-value-123456789",
        "HTTP_X_WEBHOOK_SIGNATURE": "t=1700000000,v1=" + "ab" * 32,
        "HTTP_X_API_KEY": "key-value-abcdefghijkl",
        "HTTP_X_REFRESH_TOKEN": "token-value-abcdefghijkl",
    }
    response = trigger_post(b"{}", deployment.url, {**secrets, "HTTP_USER_AGENT": "pd/1"})
    assert response.status_code == 202
    kept = TriggerDelivery.objects.get().headers
    assert kept["User-Agent"] == "pd/1"
    for value in secrets.values():
        for part in value.replace("=", " ").replace(",", " ").split():
            if len(part) >= 8:
                assert part not in str(kept), part
    assert kept["Authorization"] == kept["Cookie"] == "[redacted]"
    assert "t=<10 digits>,v1=<64 hex>" in kept["X-Webhook-Signature"]


@pytest.mark.django_db
def test_trigger_webhook_over_the_limit_is_acknowledged_and_asks_nothing(
    deployment, settings, django_capture_on_commit_callbacks, monkeypatch
):
    import types

    from django_tasks_db.models import DBTaskResult

    from core import ratelimit

    settings.TRIGGER_CHECK_RATE_LIMIT = (2, 60)
    start = (time.time() // 60) * 60 + 1  # one fixed window, whenever the test runs
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: start))
    with django_capture_on_commit_callbacks(execute=True):
        statuses = [trigger_post(b"{}", deployment.url, {}).status_code for _ in range(5)]
    assert statuses[:2] == [202, 202] and set(statuses[2:]) == {200}
    outcomes = list(TriggerDelivery.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes.count("accepted") == 2 and outcomes.count("throttled") == 3
    tasks = DBTaskResult.objects.filter(task_path__endswith="trigger_event_task")
    assert tasks.ready().count() == 2 and tasks.count() == 3  # and one wake-up, later

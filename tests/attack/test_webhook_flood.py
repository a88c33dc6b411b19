"""Floods of webhooks: what they cost the database and the queue (issue 17).

A refused delivery keeps its digest and size, never its body, so 1,000 refused 60 KiB
deliveries store a few hundred kilobytes, not 60 MB (and at most WEBHOOK_REFUSED_RATE_LIMIT
of them per address are stored: test_webhook_refusal_flood.py). Deliveries naming a valid Connect
session are counted per session and per member: past the limit the answer is 429 with
Retry-After, nothing is stored and no task is queued."""

import json

import pytest
from django.db.models import Sum
from django.db.models.functions import Length
from django.test import Client
from django_tasks_db.models import DBTaskResult

from claims.models import TriggerDelivery
from connections import services
from connections.models import App, WebhookEvent
from tests.attack.webhooks_support import trigger_deployment
from tests.connections.services_support import CTOK, make_session

CONNECT = "/connect/webhook/"
TRIGGER = "/claims/trigger-webhook/"
PAD = 60 * 1024
STORED_MAX = 300 * 1024  # "a few hundred kilobytes" for 1,000 refused deliveries


def stored_text(model, *columns: str) -> int:
    """Characters the rows hold in their text columns (the bodies among them)."""
    total = 0
    for column in columns:
        total += model.objects.aggregate(n=Sum(Length(column)))["n"] or 0
    return total


def big_delivery(token=CTOK) -> bytes:
    body = {"event": "CONNECTION_SUCCESS", "connect_token": token, "pad": ""}
    raw = json.dumps(body)
    return json.dumps({**body, "pad": "x" * (PAD - len(raw))}).encode()


def connect_post(client, body: bytes, reference: str | None):
    url = CONNECT if reference is None else f"{CONNECT}?s={reference}"
    return client.post(url, data=body, content_type="application/json")


@pytest.fixture
def github(db):
    return App.objects.create(slug="github", name="GitHub", enabled=True)


@pytest.mark.django_db
def test_a_thousand_refused_webhooks_store_a_few_hundred_kilobytes(
    client, member, github, settings
):
    # What each stored refusal costs: the limits on how many are stored are out of the
    # way here (tests/attack/test_webhook_refusal_flood.py tests those).
    settings.WEBHOOK_REFUSED_RATE_LIMIT = settings.WEBHOOK_REFUSED_SITE_RATE_LIMIT = (1000, 60)
    session = make_session(member, github)
    good = services.session_reference(session)
    body = big_delivery()
    assert PAD - 100 < len(body) <= PAD
    references = [None, "garbage", good[:-3] + "abc", "x:y:z"]
    for i in range(1000):
        response = connect_post(client, body, references[i % len(references)])
        assert response.status_code in (400, 403), response.status_code
    assert WebhookEvent.objects.filter(outcome="refused").count() == 1000
    stored = stored_text(WebhookEvent, "body", "body_digest", "content_type", "event", "detail")
    assert stored < STORED_MAX, f"{stored:,} characters stored for 1,000 refusals"
    # What an operator judges a refusal by is still there.
    event = WebhookEvent.objects.order_by("pk").first()
    assert event.body == "" and event.body_size == len(body)
    assert event.event == "CONNECTION_SUCCESS" and len(event.body_digest) == 64
    assert event.content_type == "application/json" and "reference" in event.detail
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db
def test_a_flood_on_one_session_is_cut_off_at_the_limit_with_429(client, member, github):
    count, window = 10, 3600  # the default CONNECT_WEBHOOK_RATE_LIMIT
    session = make_session(member, github)
    reference = services.session_reference(session)
    body = big_delivery()
    answers = [connect_post(client, body, reference) for _ in range(100)]
    # A real flow (one event, sent again a few times) fits well inside the limit.
    assert [r.status_code for r in answers[:count]] == [202] * count
    cut = answers[count:]
    assert {r.status_code for r in cut} == {429}
    for response in cut:
        assert 1 <= int(response["Retry-After"]) <= window
    # Only what was accepted is stored and queued.
    assert WebhookEvent.objects.count() == count
    assert DBTaskResult.objects.count() == count
    # Forged bodies on the same reference are cut off too, and keep nothing.
    forged = connect_post(client, big_delivery(token="ctok_" + "f" * 32), reference)
    assert forged.status_code == 429 and "Retry-After" in forged
    assert WebhookEvent.objects.count() == count and DBTaskResult.objects.count() == count
    # The bodies kept are the accepted ones: at most `count` of them.
    assert stored_text(WebhookEvent, "body") <= count * PAD


@pytest.mark.django_db
def test_a_member_with_many_sessions_is_cut_off_at_the_member_limit(
    client, member, github, settings
):
    settings.CONNECT_WEBHOOK_MEMBER_RATE_LIMIT = (12, 3600)
    sessions = [make_session(member, github, token=f"ctok_{i}" + "a" * 30) for i in range(3)]
    codes = []
    for i, session in enumerate(sessions):
        body = big_delivery(token=f"ctok_{i}" + "a" * 30)
        reference = services.session_reference(session)
        codes += [connect_post(client, body, reference).status_code for _ in range(5)]
    assert codes == [202] * 12 + [429] * 3
    assert WebhookEvent.objects.count() == 12 and DBTaskResult.objects.count() == 12


@pytest.fixture
def deployment(member, github):
    return trigger_deployment(member, github, slug="webhook-flood", pipedream_id="dc_flood")


@pytest.mark.django_db
@pytest.mark.parametrize("signature", ["none", "pd-v1"])
def test_refused_and_throttled_trigger_deliveries_keep_no_body(deployment, settings, signature):
    """pd-v1: unsigned deliveries to our deployment are refused (401); none: past the
    check limit they are throttled (200). Neither keeps its 60 KiB."""
    settings.PIPEDREAM_TRIGGER_SIGNATURE = signature
    body = b'{"pad": "' + b"x" * (PAD - 20) + b'"}'
    client = Client()
    for i in range(300):
        query = deployment.query if i % 2 else "d=forged"
        response = client.post(f"{TRIGGER}?{query}", data=body, content_type="application/json")
        assert response.status_code in (200, 202, 400, 401), response.status_code
    accepted = TriggerDelivery.objects.filter(outcome="accepted").count()
    assert accepted <= settings.TRIGGER_CHECK_RATE_LIMIT[0]
    stored = stored_text(TriggerDelivery, "body", "event_id", "detail") + 64 * 300  # digests
    assert stored < STORED_MAX + accepted * PAD, f"{stored:,} characters for 300 deliveries"
    refused = TriggerDelivery.objects.exclude(outcome="accepted").order_by("pk").first()
    assert refused.body == "" and refused.body_size == len(body)

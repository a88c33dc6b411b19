"""Refused deliveries are not a free INSERT: a flood of forged webhooks from one address
stores at most WEBHOOK_REFUSED_RATE_LIMIT rows per window, many addresses at most
WEBHOOK_REFUSED_SITE_RATE_LIMIT, and the refusal answered past the limit is the same one.
Over HTTP, for /connect/webhook/ and /claims/trigger-webhook/."""

import json
import logging

import pytest
from django_tasks_db.models import DBTaskResult

from claims.models import TriggerDelivery
from connections import services
from connections.models import App, WebhookEvent
from tests.connections.services_support import make_session

pytestmark = pytest.mark.django_db

CONNECT = "/connect/webhook/"
TRIGGER = "/claims/trigger-webhook/"
BODY = json.dumps({"event": "CONNECTION_SUCCESS", "connect_token": "ctok_" + "f" * 32})


@pytest.fixture
def limits(settings):
    settings.WEBHOOK_REFUSED_RATE_LIMIT = (20, 60)
    settings.WEBHOOK_REFUSED_SITE_RATE_LIMIT = (1000, 60)
    # Out of the way: this is about refusals, not the per-session limit's 429.
    settings.CONNECT_WEBHOOK_RATE_LIMIT = settings.CONNECT_WEBHOOK_MEMBER_RATE_LIMIT = (1000, 60)
    return settings


@pytest.fixture
def forged_urls(member):
    """No reference, a forged one, and a real session's reference with a forged token."""
    app = App.objects.create(slug="github", name="GitHub", enabled=True)
    reference = services.session_reference(make_session(member, app))
    return [CONNECT, f"{CONNECT}?s=forged", f"{CONNECT}?s={reference}"]


def connect_refused(client, url, address):
    return client.post(url, data=BODY, content_type="application/json", REMOTE_ADDR=address)


def test_connect_refusals_from_one_address_store_at_most_the_limit(
    client, limits, forged_urls, caplog
):
    caplog.set_level(logging.WARNING)
    answers = [connect_refused(client, forged_urls[i % 3], "203.0.113.7") for i in range(150)]
    # The answer does not change at the limit: the same refusal, stored or not.
    assert [r.status_code for r in answers[:3]] == [400, 403, 403]
    assert [r.status_code for r in answers[-3:]] == [400, 403, 403]
    assert answers[0].json() == answers[-3].json()
    assert WebhookEvent.objects.count() == 20
    assert not DBTaskResult.objects.exists()
    # Logged once for the window, not once per request.
    floods = [r for r in caplog.records if "not stored" in r.getMessage()]
    assert len(floods) == 1 and "203.0.113.7" in floods[0].getMessage()
    # Nor does Django log each refusal past the limit (django.request's 4xx warnings).
    assert len([r for r in caplog.records if r.name == "django.request"]) == 20
    # Another address still has its refusals recorded, as an operator needs to see them.
    for url in forged_urls:
        assert connect_refused(client, url, "198.51.100.9").status_code in (400, 403)
    assert WebhookEvent.objects.count() == 23
    assert WebhookEvent.objects.filter(outcome="refused").count() == 23


def test_connect_refusals_from_many_addresses_store_at_most_the_site_limit(
    client, limits, forged_urls
):
    limits.WEBHOOK_REFUSED_SITE_RATE_LIMIT = (50, 60)
    for n in range(10):
        for i in range(15):
            response = connect_refused(client, forged_urls[i % 3], f"192.0.2.{n + 1}")
            assert response.status_code in (400, 403)
    assert WebhookEvent.objects.count() == 50


def trigger_refused(client, query, address):
    return client.post(
        f"{TRIGGER}?{query}", data=b"{}", content_type="application/json", REMOTE_ADDR=address
    )


def test_trigger_refusals_store_at_most_the_limit(client, limits):
    answers = [trigger_refused(client, "d=forged", "203.0.113.7") for _ in range(100)]
    assert {r.status_code for r in answers} == {400}
    assert answers[0].json() == answers[-1].json()
    assert TriggerDelivery.objects.count() == 20
    limits.WEBHOOK_REFUSED_SITE_RATE_LIMIT = (30, 60)
    for n in range(10):
        for _ in range(5):
            assert trigger_refused(client, "", f"192.0.2.{n + 1}").status_code == 400
    assert TriggerDelivery.objects.count() == 30  # the site's limit, reached and kept
    assert not DBTaskResult.objects.exists()


def test_trigger_refusals_from_another_address_are_still_recorded(client, limits):
    for _ in range(40):
        trigger_refused(client, "d=forged", "203.0.113.7")
    assert TriggerDelivery.objects.count() == 20
    assert trigger_refused(client, "d=forged", "198.51.100.9").status_code == 400
    assert TriggerDelivery.objects.count() == 21

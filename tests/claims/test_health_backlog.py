"""/healthz reports the claims backlog to staff: how many completions are due, and the
oldest's wait."""

import datetime

import pytest
from django.utils import timezone

from claims.models import Completion
from tests.health_support import answering_upstreams

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _upstreams_answer(settings):
    with answering_upstreams(settings):
        yield


@pytest.fixture
def claim(make_claim):
    return make_claim("backlog")


def _completion(claim, member, **fields):
    return Completion.objects.create(claim=claim, member=member, **fields)


def test_nothing_due(admin_client):
    body = admin_client.get("/healthz").json()
    assert body["checks"]["claims"] == {"ok": True, "due": 0}


def test_due_completions_and_the_oldest_wait(admin_client, claim, alice, django_user_model):
    now = timezone.now()
    bob = django_user_model.objects.create_user(username="bob", password="x")
    carol = django_user_model.objects.create_user(username="carol", password="x")
    _completion(
        claim, alice, state="retrying", next_attempt_at=now - datetime.timedelta(seconds=90)
    )
    _completion(claim, bob, state="waiting", next_attempt_at=now + datetime.timedelta(hours=1))
    _completion(claim, carol, state="completed")

    response = admin_client.get("/healthz")

    assert response.status_code == 200
    claims = response.json()["checks"]["claims"]
    assert claims["ok"] is True
    assert claims["due"] == 1  # bob's is not due yet; carol's is done
    assert 89 <= claims["oldest_due_seconds"] <= 120


def test_an_abandoned_lease_counts_from_its_expiry(admin_client, claim, alice):
    expired = timezone.now() - datetime.timedelta(minutes=3)
    _completion(claim, alice, state="delivering", lease_expires_at=expired)

    claims = admin_client.get("/healthz").json()["checks"]["claims"]

    assert claims["due"] == 1
    assert 179 <= claims["oldest_due_seconds"] <= 240


def test_a_backlog_nobody_takes_is_unhealthy(admin_client, claim, alice):
    _completion(
        claim, alice, state="waiting", next_attempt_at=timezone.now() - datetime.timedelta(hours=2)
    )

    response = admin_client.get("/healthz")

    assert response.status_code == 503
    claims = response.json()["checks"]["claims"]
    assert claims["ok"] is False
    assert "nothing is taking them" in claims["error"]


def test_a_deleted_members_row_is_not_backlog(admin_client, claim):
    _completion(
        claim, None, state="waiting", next_attempt_at=timezone.now() - datetime.timedelta(hours=2)
    )

    assert admin_client.get("/healthz").json()["checks"]["claims"] == {"ok": True, "due": 0}

"""Fault injection on the BitBadges endpoints: BitBadges' error shapes, Pipedream's kept."""

import time

import pytest

from sandbox import bitbadges, faults
from sandbox.models import Fault
from tests.sandbox.test_bitbadges_support import BB, BitBadgesTestClient

pytestmark = pytest.mark.django_db

NAMES = {
    "bitbadges.claims.complete",
    "bitbadges.claims.simulate",
    "bitbadges.claims.status",
    "bitbadges.claims.success",
    "bitbadges.claim.get",
    "bitbadges.claims.fetch",
    "bitbadges.store.actions",
    "bitbadges.store.value",
}


@pytest.fixture
def bb(client):
    return BitBadgesTestClient(client)


@pytest.fixture
def claim(db):
    return bitbadges.claim_create()


def test_the_endpoint_names():
    assert {name for name in faults.ENDPOINTS if name.startswith("bitbadges.")} == NAMES


def test_429_is_bitbadges_shaped(bb, claim, settings):
    settings.SANDBOX_FAULTS = {"bitbadges.claims.complete": {"status": 429, "retry_after": 4}}

    response = bb.complete(claim.claim_id, BB)
    other = bb.complete(claim.claim_id, BB, simulate=True)

    assert response.status_code == 429
    assert response.json() == {"errorMessage": "Exceeded rate limit. Too many requests."}
    assert response["Retry-After"] == "4"
    assert other.status_code == 200  # only the named endpoint
    assert bitbadges.complete_calls(claim.claim_id) == 0  # it never reached the claim


def test_402_has_the_credits_body(bb, claim, settings):
    settings.SANDBOX_FAULTS = {"bitbadges.*": {"status": 402}}

    response = bb.get(f"/api/v0/claim/{claim.claim_id}")

    assert response.status_code == 402
    body = response.json()
    assert body["error"] == "Insufficient credits"
    assert body["errorMessage"] == "Insufficient API credits. Top up at /developer?tab=apiKeys."
    assert {"topUpUrl", "onChainTotal", "used", "remaining", "decimals"} <= set(body)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(bb, claim, settings, status):
    settings.SANDBOX_FAULTS = {"bitbadges.claims.status": {"status": status}}
    response = bb.status("a" * 64)
    assert response.status_code == status
    assert set(response.json()) == {"errorMessage"}
    assert "injected by the sandbox" in response.json()["errorMessage"]


def test_faults_come_before_the_key_check(client, claim, settings):
    settings.SANDBOX_FAULTS = {"bitbadges.claim.get": {"status": 503}}
    anonymous = BitBadgesTestClient(client, key=None)
    assert anonymous.get(f"/api/v0/claim/{claim.claim_id}").status_code == 503


def test_malformed_json(bb, claim, settings):
    settings.SANDBOX_FAULTS = {"bitbadges.claims.complete": {"malformed": True}}

    response = bb.complete(claim.claim_id, BB)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


def test_latency(bb, claim, settings):
    settings.SANDBOX_FAULTS = {"bitbadges.claims.success": {"latency_ms": 250}}
    started = time.monotonic()
    response = bb.get(f"/api/v0/claims/success/{claim.claim_id}/{BB}")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.25


def test_rate(bb, claim, settings, monkeypatch):
    settings.SANDBOX_FAULTS = {"bitbadges.store.*": {"status": 500, "rate": 0.5}}
    rolls = iter([0.1, 0.9])
    monkeypatch.setattr(faults.random, "random", lambda: next(rolls))
    body = {"dynamicDataId": "x", "dataSecret": "y", "actions": []}

    assert bb.post("/api/v0/storeActions/batch", body).status_code == 500
    assert bb.post("/api/v0/storeActions/batch", body).status_code == 404  # no such store


def test_faults_from_the_database(bb, claim):
    Fault.objects.create(endpoint="bitbadges.claims.*", status=429, retry_after=2)
    response = bb.complete(claim.claim_id, BB)
    assert response.status_code == 429 and response["Retry-After"] == "2"
    assert response.json() == {"errorMessage": "Exceeded rate limit. Too many requests."}


def test_pipedream_keeps_its_own_shapes(api, settings):
    settings.SANDBOX_FAULTS = {"*": {"status": 429}}
    assert api.get("/v1/connect/apps").json() == {"error": "Throttled"}
    settings.SANDBOX_FAULTS = {"*": {"status": 402}}
    assert api.get("/v1/connect/apps").json() == {
        "error": "Payment Required (injected by the sandbox)"
    }

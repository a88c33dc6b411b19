"""Fault injection on the BitBadges endpoints: BitBadges' error shapes, Pipedream's kept."""

import time

import pytest

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import credits as bb_credits
from sandbox.common import faults
from sandbox.common.models import Fault
from tests.sandbox.bitbadges_support import BB, BitBadgesTestClient

pytestmark = pytest.mark.django_db

NAMES = {
    "bitbadges.claims.complete",
    "bitbadges.claims.simulate",
    "bitbadges.claims.status",
    "bitbadges.claims.attempts",
    "bitbadges.claims.success",
    "bitbadges.claim.get",
    "bitbadges.claims.fetch",
    "bitbadges.store.actions",
    "bitbadges.store.value",
    "bitbadges.siwbb.token",
    "bitbadges.siwbb.revoke",
}


@pytest.fixture
def bb(client):
    return BitBadgesTestClient(client)


@pytest.fixture
def claim(db):
    return bb_claims.claim_create()


def test_the_endpoint_names():
    assert {name for name in faults.ENDPOINTS if name.startswith("bitbadges.")} == NAMES


@pytest.mark.parametrize(
    ("wording", "message", "limit"),
    [
        (None, "Exceeded rate limit. Too many requests.", "10000"),
        ("docs", "Exceeded rate limit. Too many requests.", "10000"),
        ("idx-2024", "Exceeded rate limit. Too many requests,", "1000"),
    ],
)
def test_429_is_bitbadges_shaped(bb, claim, settings, wording, message, limit):
    """The indexer's handler body; express-rate-limit 7.3.1's draft-6 headers
    (standardHeaders: true, legacyHeaders: false)."""
    if wording:
        settings.SANDBOX_BITBADGES_WORDING = wording
    settings.SANDBOX_FAULTS = {"bitbadges.claims.complete": {"status": 429, "retry_after": 4}}

    response = bb.complete(claim.claim_id, BB)
    other = bb.complete(claim.claim_id, BB, simulate=True)

    assert response.status_code == 429
    assert response.json() == {"errorMessage": message}
    assert response["Retry-After"] == "4"
    assert response["RateLimit-Policy"] == f"{limit};w=60"
    assert response["RateLimit-Limit"] == limit
    assert response["RateLimit-Remaining"] == "0"
    assert response["RateLimit-Reset"] == "4"
    assert not [name for name in response.headers if name.lower().startswith("x-ratelimit")]
    assert other.status_code == 200  # only the named endpoint
    assert bb_attempts.complete_calls(claim.claim_id) == 0  # it never reached the claim


def test_402_has_the_credits_body(bb, claim, settings):
    settings.SANDBOX_FAULTS = {"bitbadges.*": {"status": 402}}
    bb_credits.credits_set(500)
    total = bb_credits.credits().on_chain_total

    response = bb.get(f"/api/v0/claim/{claim.claim_id}")

    assert response.status_code == 402
    # The docs' body, with the account's on-chain total, all of it used.
    assert response.json() == {
        "error": "Insufficient credits",
        "errorMessage": "Insufficient API credits. Top up at /developer?tab=apiKeys.",
        "topUpUrl": "/developer?tab=apiKeys",
        "onChainTotal": total,
        "used": total,
        "remaining": 0,
        "decimals": 6,
    }
    assert bb_credits.credits_remaining() == 500  # an injected 402 spends nothing


@pytest.mark.parametrize("status", [402, 429, 500, 503])
def test_an_error_message_replaces_the_generic_text(bb, claim, settings, status):
    text = "Some refusal text nobody has classified yet"
    settings.SANDBOX_FAULTS = {
        "bitbadges.claims.complete": {"status": status, "error_message": text}
    }

    response = bb.complete(claim.claim_id, BB)

    assert response.status_code == status
    assert response.json()["errorMessage"] == text
    if status == 402:
        assert response.json()["error"] == "Insufficient credits"


def test_an_error_message_on_pipedream_endpoints(api, settings):
    settings.SANDBOX_FAULTS = {"pipedream.apps.list": {"status": 503, "error_message": "down"}}
    response = api.get("/v1/connect/apps")
    assert response.status_code == 503 and response.json() == {"error": "down"}


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"status": 500, "error_message": 42}, "must be a string"),
        ({"status": 500, "error_message": ["a"]}, "must be a string"),
        ({"status": 500, "error_message": "x" * 501}, "at most 500"),
        ({"latency_ms": 10, "error_message": "no status"}, "needs a status"),
    ],
)
def test_error_message_is_validated(spec, problem):
    with pytest.raises(faults.FaultSpecError, match=problem):
        faults.clean_spec(spec)


def test_error_message_is_described():
    spec = faults.clean_spec({"status": 500, "error_message": "Nope"})
    assert spec["error_message"] == "Nope"
    assert faults.describe(spec) == 'HTTP 500 "Nope"'
    long = faults.describe(faults.clean_spec({"status": 500, "error_message": "y" * 500}))
    assert len(long) < 120 and long.endswith('…"')
    assert faults.clean_spec({"status": 500, "error_message": ""})["error_message"] is None


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
    settings.SANDBOX_FAULTS = {"bitbadges.claims.attempts": {"latency_ms": 250}}
    started = time.monotonic()
    response = bb.get(f"/api/v0/claims/{claim.claim_id}/attempts")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.25


def test_rate(bb, claim, settings, monkeypatch):
    settings.SANDBOX_FAULTS = {"bitbadges.store.*": {"status": 500, "rate": 0.5}}
    rolls = iter([0.1, 0.9])
    monkeypatch.setattr(faults.random, "random", lambda: next(rolls))
    body = {"dynamicDataId": "x", "dataSecret": "y", "actions": []}

    injected = bb.post("/api/v0/storeActions/batch", body)
    real = bb.post("/api/v0/storeActions/batch", body)

    assert injected.status_code == 500 and "injected" in injected.json()["errorMessage"]
    assert real.status_code == 500  # no such store
    assert real.json() == {"errorMessage": "Dynamic data doc not found"}


def test_faults_from_the_database(bb, claim):
    Fault.objects.create(endpoint="bitbadges.claims.*", status=429, retry_after=2)
    response = bb.complete(claim.claim_id, BB)
    assert response.status_code == 429 and response["Retry-After"] == "2"
    assert response["RateLimit-Reset"] == "2"
    assert response.json() == {"errorMessage": "Exceeded rate limit. Too many requests."}


def test_an_error_message_from_the_database(bb, claim):
    fault = Fault.objects.create(
        endpoint="bitbadges.claims.complete", status=500, error_message="Brand new text"
    )
    response = bb.complete(claim.claim_id, BB)
    assert response.status_code == 500
    assert response.json() == {"errorMessage": "Brand new text"}
    assert fault.describe() == 'HTTP 500 "Brand new text"'


def test_pipedream_keeps_its_own_shapes(api, settings):
    settings.SANDBOX_FAULTS = {"*": {"status": 429}}
    throttled = api.get("/v1/connect/apps")
    assert throttled.json() == {"error": "Throttled"}
    assert throttled["X-RateLimit-Limit"] == "100"
    assert "RateLimit-Policy" not in throttled
    settings.SANDBOX_FAULTS = {"*": {"status": 402}}
    assert api.get("/v1/connect/apps").json() == {
        "error": "Payment Required (injected by the sandbox)"
    }

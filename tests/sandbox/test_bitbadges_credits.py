"""API credits: one per request that passes the key check; none left is a 402 with the
docs' body (api/README.md "Out of credits (402)"); the key check comes first."""

import pytest

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import credits as bb_credits
from sandbox.bitbadges.models import BitBadgesCredits
from tests.sandbox.bitbadges_support import BB, BitBadgesTestClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def bb(client):
    return BitBadgesTestClient(client)


@pytest.fixture
def claim(db):
    return bb_claims.claim_create(password="pw")


def _no_credits(total, used):
    return {
        "error": "Insufficient credits",
        "errorMessage": "Insufficient API credits. Top up at /developer?tab=apiKeys.",
        "topUpUrl": "/developer?tab=apiKeys",
        "onChainTotal": total,
        "used": used,
        "remaining": 0,
        "decimals": 6,
    }


def test_plenty_by_default(bb, claim):
    assert not BitBadgesCredits.objects.exists()  # made on first use
    assert bb_credits.credits_remaining() == 10**9
    assert bb.get(f"/api/v0/claim/{claim.claim_id}").status_code == 200
    assert bb_credits.credits_remaining() == 10**9 - 1
    assert BitBadgesCredits.objects.count() == 1


def test_every_request_that_passes_the_key_check_costs_one(client, bb, claim):
    bb_credits.credits_set(100)

    bb.get(f"/api/v0/claim/{claim.claim_id}")  # 200
    bb.complete(claim.claim_id, BB, {"pwd": {"password": "wrong"}})  # 500 refusal
    bb.post(f"/api/v0/claims/complete/{claim.claim_id}/{BB}", {})  # 400 payload
    bb.status("0" * 64)  # the simulation placeholder
    assert bb_credits.credits_remaining() == 96

    BitBadgesTestClient(client, key=None).get(f"/api/v0/claim/{claim.claim_id}")  # 401
    BitBadgesTestClient(client, key="nope").get(f"/api/v0/claim/{claim.claim_id}")  # 401
    bb.get("/api/v0/no/such/route")  # 404
    bb.get(f"/api/v0/claims/success/{claim.claim_id}/{BB}")  # removed: 404
    assert bb_credits.credits_remaining() == 96


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v0/claims/complete/{cid}/" + BB),
        ("POST", "/api/v0/claims/simulate/{cid}/" + BB),
        ("GET", "/api/v0/claims/status/" + "0" * 64),
        ("POST", "/api/v0/claims/status/" + "0" * 64),
        ("GET", "/api/v0/claims/{cid}/attempts"),
        ("GET", "/api/v0/claim/{cid}"),
        ("POST", "/api/v1/claims/fetch"),
        ("POST", "/api/v0/storeActions/single"),
        ("GET", "/api/v0/dynamicStore/abc/value"),
    ],
)
def test_none_left_is_402_on_every_route(bb, claim, method, path):
    bb_credits.credits_set(0)
    total = bb_credits.credits().on_chain_total
    path = path.format(cid=claim.claim_id)

    response = bb.get(path) if method == "GET" else bb.post(path, {"_expectedVersion": -1})

    assert response.status_code == 402
    assert response.json() == _no_credits(total, total)
    assert bb_attempts.complete_calls(claim.claim_id) == 0  # the route never ran
    assert bb_credits.credits().used == total  # a 402 costs nothing


def test_the_402_body_has_the_accounts_real_figures(bb, claim):
    BitBadgesCredits.objects.create(on_chain_total=100, used=97)

    statuses = [bb.get(f"/api/v0/claim/{claim.claim_id}").status_code for _ in range(4)]
    refused = bb.get(f"/api/v0/claim/{claim.claim_id}")

    assert statuses == [200, 200, 200, 402]
    assert refused.json() == _no_credits(100, 100)
    assert isinstance(refused.json()["onChainTotal"], int)


def test_the_key_check_comes_first(client, claim):
    bb_credits.credits_set(0)
    response = BitBadgesTestClient(client, key="wrong").get(f"/api/v0/claim/{claim.claim_id}")
    assert response.status_code == 401
    assert response.json() == {"errorMessage": "Unauthorized request. Error validating API key."}


def test_a_top_up_resumes(bb, claim):
    bb_credits.credits_set(0)
    assert bb.complete(claim.claim_id, BB, {"pwd": {"password": "pw"}}).status_code == 402

    bb_credits.credits_top_up(2)

    assert bb_credits.credits_remaining() == 2
    assert bb.complete(claim.claim_id, BB, {"pwd": {"password": "pw"}}).status_code == 200
    assert bb_attempts.complete_calls(claim.claim_id) == 1
    assert bb_credits.credits_remaining() == 1


def test_the_helpers():
    row = bb_credits.credits_set(5)
    assert (row.on_chain_total, row.used, row.remaining) == (10**9, 10**9 - 5, 5)
    assert bb_credits.credits_remaining() == 5
    row = bb_credits.credits_set(2 * 10**9)  # more than the total: the total grows
    assert (row.on_chain_total, row.used) == (2 * 10**9, 0)
    row = bb_credits.credits_top_up(10)
    assert row.on_chain_total == 2 * 10**9 + 10 and row.remaining == 2 * 10**9 + 10
    assert str(row) == f"{row.remaining} of {row.on_chain_total} credits left"
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError):
            bb_credits.credits_set(bad)
        with pytest.raises(ValueError):
            bb_credits.credits_top_up(bad)


def test_the_row_is_a_singleton():
    BitBadgesCredits(on_chain_total=7).save()
    BitBadgesCredits(on_chain_total=9).save()
    assert BitBadgesCredits.objects.count() == 1
    assert bb_credits.credits().on_chain_total == 9


def test_injected_faults_cost_nothing(bb, claim, settings):
    bb_credits.credits_set(10)
    settings.SANDBOX_FAULTS = {"bitbadges.*": {"status": 503}}
    assert bb.get(f"/api/v0/claim/{claim.claim_id}").status_code == 503
    assert bb_credits.credits_remaining() == 10

"""GET /api/v0/claims/{claimId}/attempts: what the SDK's getClaimAttempts reads."""

import base64
import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import base as bb_base
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges.models import BitBadgesAttempt
from tests.sandbox.bitbadges_support import (
    ADDRESS_ERROR,
    BAD_ADDRESSES,
    BB,
    BB_2,
    ETH,
    ETH_2,
    ETH_LOWER,
    BitBadgesTestClient,
)

pytestmark = pytest.mark.django_db

HIDDEN = (
    "This claim hides its current state (hideCurrentState): only its manager can view its attempts"
)
NO_ERRORS = (
    "You must be the manager of this claim, signed in with the Read Private Claim Data "
    "scope, to fetch failed attempts"
)


@pytest.fixture
def bb(client):
    return BitBadgesTestClient(client)


def _later(seconds=5):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def _attempts(bb, claim_id, **params):
    return bb.get(f"/api/v0/claims/{claim_id}/attempts", params)


def _complete(claim, *addresses):
    for address in addresses:
        bb_attempts.complete(claim.claim_id, address, {"_expectedVersion": -1})
    with _later():
        bb_attempts.attempts_resolve_due()


def test_one_success_as_the_sdk_types_it(bb):
    claim = bb_claims.claim_create()
    started = timezone.now()
    attempt = bb_attempts.complete(claim.claim_id, ETH, {"_expectedVersion": -1})
    with _later():
        bb_attempts.attempts_resolve_due()

    response = _attempts(bb, claim.claim_id, address=BB)

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["docs", "bookmark", "total"]
    assert body["total"] == 1
    assert body["docs"] == [
        {
            "success": True,
            "attemptedAt": body["docs"][0]["attemptedAt"],
            "claimId": claim.claim_id,
            "bitbadgesAddress": BB,
            "claimAttemptId": attempt.attempt_id,
            "claimNumber": 0,
        }
    ]
    attempted_at = body["docs"][0]["attemptedAt"]
    assert isinstance(attempted_at, int)  # a number of milliseconds
    assert abs(attempted_at - started.timestamp() * 1000) < 5000


@pytest.mark.parametrize("asked", [BB, ETH, ETH_LOWER])
def test_the_address_filter_compares_as_bb1(bb, asked):
    claim = bb_claims.claim_create()
    _complete(claim, ETH, BB_2, BB)

    body = _attempts(bb, claim.claim_id, address=asked).json()

    assert body["total"] == 2
    assert {doc["bitbadgesAddress"] for doc in body["docs"]} == {BB}


def test_zero_x_and_bb1_get_the_same_answer(bb):
    claim = bb_claims.claim_create()
    _complete(claim, ETH, ETH_2)
    assert _attempts(bb, claim.claim_id, address=ETH).json() == (
        _attempts(bb, claim.claim_id, address=BB).json()
    )


def test_without_an_address_every_success_newest_first(bb):
    claim = bb_claims.claim_create()
    _complete(claim, BB)
    with _later(10):
        _complete(claim, BB_2)

    with _later(20):
        everyone = _attempts(bb, claim.claim_id).json()
        blank = _attempts(bb, claim.claim_id, address="").json()

    assert everyone == blank
    assert [doc["bitbadgesAddress"] for doc in everyone["docs"]] == [BB_2, BB]
    assert everyone["total"] == 2


def test_failed_rejected_and_pending_attempts_are_left_out(bb):
    claim = bb_claims.claim_create(max_uses=1, password="pw")
    body = {"_expectedVersion": -1, "pwd": {"password": "pw"}}
    bb_attempts.complete(claim.claim_id, BB, body)
    bb_attempts.complete(claim.claim_id, BB_2, body)  # fails at resolution: used up
    with pytest.raises(bb_base.BitBadgesError):
        bb_attempts.complete(claim.claim_id, BB, {"_expectedVersion": -1})  # rejected
    pending = _attempts(bb, claim.claim_id).json()
    with _later():
        bb_attempts.attempts_resolve_due()
        resolved = _attempts(bb, claim.claim_id).json()

    assert pending["docs"] == [] and pending["total"] == 0
    assert BitBadgesAttempt.objects.filter(status="failed").count() == 1
    assert [doc["bitbadgesAddress"] for doc in resolved["docs"]] == [BB]
    assert resolved["total"] == 1
    assert all("error" not in doc for doc in resolved["docs"])


def test_pages_of_25_with_an_opaque_bookmark(bb):
    claim = bb_claims.claim_create(max_uses=100)
    _complete(claim, *([BB] * 30 + [BB_2] * 3))

    first = _attempts(bb, claim.claim_id, address=BB).json()
    second = _attempts(bb, claim.claim_id, address=BB, bookmark=first["bookmark"]).json()
    third = _attempts(bb, claim.claim_id, address=BB, bookmark=second["bookmark"]).json()

    assert len(first["docs"]) == 25 and len(second["docs"]) == 5 and third["docs"] == []
    assert first["total"] == second["total"] == third["total"] == 30
    ids = [doc["claimAttemptId"] for doc in first["docs"] + second["docs"]]
    assert len(set(ids)) == 30
    numbers = sorted(doc["claimNumber"] for doc in first["docs"] + second["docs"])
    assert len(set(numbers)) == 30
    # The docs' bookmark: base64url of {"skip":25}, unpadded, even past the last page.
    assert first["bookmark"] == "eyJza2lwIjoyNX0"
    assert json.loads(base64.urlsafe_b64decode(second["bookmark"] + "==")) == {"skip": 50}


@pytest.mark.parametrize(
    "bookmark",
    ["garbage!", "e30", "eyJza2lwIjotMX0", "eyJza2lwIjoiMjUifQ", "x" * 300, "W10", "bnVsbA"],
)
def test_a_bookmark_not_handed_out_is_refused(bb, bookmark):
    # e30 = {}, eyJza2lwIjotMX0 = {"skip":-1}, ...IjoiMjUifQ = {"skip":"25"}, W10 = [],
    # bnVsbA = null
    claim = bb_claims.claim_create()
    response = _attempts(bb, claim.claim_id, bookmark=bookmark)
    assert response.status_code == 500
    assert response.json() == {"errorMessage": "Invalid bookmark"}


def test_unknown_and_malformed_claims(bb):
    unknown = _attempts(bb, "e" * 32)
    malformed = _attempts(bb, "not-hex")
    assert unknown.status_code == malformed.status_code == 500
    assert unknown.json() == {"errorMessage": "No doc found"}
    assert malformed.json() == {"errorMessage": "Invalid claimId format"}


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_bad_address(bb, address):
    claim = bb_claims.claim_create()
    response = _attempts(bb, claim.claim_id, address=address)
    assert response.status_code == 500
    assert response.json() == {"errorMessage": ADDRESS_ERROR}


def test_failed_attempts_are_for_the_manager(bb):
    """The OpenAPI: "If you are the manager and authenticated, you can also request failed
    attempts"; the sandbox has API keys only."""
    claim = bb_claims.claim_create()
    _complete(claim, BB)

    refused = _attempts(bb, claim.claim_id, includeErrors="true")
    other_values = [_attempts(bb, claim.claim_id, includeErrors=v) for v in ("false", "1", "True")]

    assert refused.status_code == 500
    assert refused.json() == {"errorMessage": NO_ERRORS}
    assert all(r.status_code == 200 and r.json()["total"] == 1 for r in other_values)


def test_a_claim_that_hides_its_state_refuses_everyone(bb):
    claim = bb_claims.claim_create(hide_current_state=True)
    _complete(claim, BB)

    for params in ({}, {"address": BB}, {"includeErrors": "true"}):
        response = _attempts(bb, claim.claim_id, **params)
        assert response.status_code == 500
        assert response.json() == {"errorMessage": HIDDEN}
    plugins = bb.get(f"/api/v0/claim/{claim.claim_id}").json()["claim"]["plugins"]
    num_uses = next(p for p in plugins if p["pluginId"] == "numUses")
    assert num_uses["publicParams"] == {"maxUses": 100, "hideCurrentState": True}


def test_only_get(client, bb):
    claim = bb_claims.claim_create()
    response = bb.post(f"/api/v0/claims/{claim.claim_id}/attempts", {})
    assert response.status_code == 404
    assert "Route not found" in response.json()["errorMessage"]

"""The sandbox serves a claim's life as BitBadges shapes it (docs/fidelity.md, "A claim's
life"): numUses maxUses / numUses / usedClaimNumbers, the halt plugin, transferTimes in
UNIX ms; and tests change it the way BitBadges' claim builder does (claim_life_set)."""

import datetime

import pytest
from django.utils import timezone

from sandbox.bitbadges import claims as bb_claims
from tests.sandbox.bitbadges_support import BB, BitBadgesTestClient

pytestmark = pytest.mark.django_db


def plugins_of(client, claim) -> tuple[dict, dict]:
    body = BitBadgesTestClient(client).get(f"/api/v0/claim/{claim.claim_id}").json()
    return {p["pluginId"]: p for p in body["claim"]["plugins"]}, body["claim"]


def test_uses_window_and_halt_as_bitbadges_shapes_them(client):
    claim = bb_claims.claim_create(max_uses=10)
    opens = timezone.now().replace(microsecond=0) + datetime.timedelta(days=1)
    bb_claims.claim_life_set(claim, num_uses=3, halted=True, window=(opens, None))
    plugins, doc = plugins_of(client, claim)
    assert doc["version"] == "1"  # an update bumps the version
    assert plugins["numUses"]["publicParams"] == {"maxUses": 10}
    assert plugins["numUses"]["publicState"] == {
        "numUses": 3,
        "usedClaimNumbers": [{"start": "0", "end": "2"}],  # a UintRange[]
    }
    assert plugins["halt"]["publicParams"] == {} and plugins["halt"]["publicState"] == {}
    window = plugins["transferTimes"]["publicParams"]["transferTimes"]
    assert window == [{"start": str(int(opens.timestamp() * 1000)), "end": str(2**64 - 1)}]


def test_a_halt_refuses_every_attempt_and_lifting_it_removes_the_plugin(client):
    claim = bb_claims.claim_create(max_uses=10, halted=True)
    bb = BitBadgesTestClient(client)
    refused = bb.complete(claim.claim_id, BB, simulate=True)
    assert "Claim halted" in refused.json()["errorMessage"]
    bb_claims.claim_life_set(claim, halted=False)
    plugins, _ = plugins_of(client, claim)
    assert "halt" not in plugins
    assert bb.complete(claim.claim_id, BB, simulate=True).status_code == 200


def test_a_hidden_state_is_an_empty_public_state(client):
    claim = bb_claims.claim_create(max_uses=5, hide_current_state=True)
    bb_claims.claim_life_set(claim, num_uses=2)
    plugins, _ = plugins_of(client, claim)
    assert plugins["numUses"]["publicParams"] == {"maxUses": 5, "hideCurrentState": True}
    assert plugins["numUses"]["publicState"] == {}

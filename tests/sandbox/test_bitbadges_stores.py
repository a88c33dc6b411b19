"""Dynamic stores: queued add/remove actions (the store lag), lookups, store-gated claims."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import stores as bb_stores
from tests.sandbox.bitbadges_support import (
    ADDRESS_ERROR,
    BB,
    BB_2,
    ETH,
    ETH_2,
    BitBadgesTestClient,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def bb(client):
    return BitBadgesTestClient(client)


@pytest.fixture
def store(db):
    return bb_stores.store_create(label="members", store_id="store-1", secret="shh")


def _later(seconds):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def _single(bb, action="add", address=ETH, store_id="store-1", secret="shh", **extra):
    body = {"dynamicDataId": store_id, "actionName": action, "payload": {"address": address}}
    if secret is not None:
        body["dataSecret"] = secret
    return bb.post("/api/v0/storeActions/single", {**body, **extra})


def _value(bb, key, store_id="store-1", secret="shh"):
    params = {"key": key}
    if secret is not None:
        params["dataSecret"] = secret
    return bb.get(f"/api/v0/dynamicStore/{store_id}/value", params)


def test_an_add_lands_after_the_lag(bb, store):
    response = _single(bb)

    assert response.status_code == 200 and response.json() == {}
    assert bb_stores.store_contains("store-1", BB) is False
    assert _value(bb, BB).json() == {"key": BB, "inStore": False}
    with _later(1.6):  # default lag 1.5 s
        assert _value(bb, ETH).json() == {"key": ETH, "inStore": True}
        assert _value(bb, BB).json()["inStore"] is True
        assert bb_stores.store_contains("store-1", ETH.lower()) is True
        assert _value(bb, BB_2).json()["inStore"] is False


def test_the_lag_comes_from_settings(bb, store, settings):
    settings.SANDBOX_BITBADGES_STORE_LAG = 0
    _single(bb, address=BB)
    assert bb_stores.store_contains("store-1", ETH) is True


def test_remove_and_batch_apply_in_order(bb, store, settings):
    settings.SANDBOX_BITBADGES_STORE_LAG = 0
    batch = bb.post(
        "/api/v0/storeActions/batch",
        {
            "dynamicDataId": "store-1",
            "dataSecret": "shh",
            "actions": [
                {"actionName": "add", "payload": {"address": ETH}},
                {"actionName": "add", "payload": {"address": ETH_2}},
                {"actionName": "remove", "payload": {"address": BB}},
                {"actionName": "add", "payload": {"address": BB}},  # added twice: one entry
            ],
        },
    )
    removed = _single(bb, "remove", BB_2)

    assert batch.status_code == removed.status_code == 200
    assert bb_stores.store_contains("store-1", BB) is True
    assert bb_stores.store_contains("store-1", BB_2) is False
    assert store.entries.count() == 1


def test_a_batch_with_one_bad_action_queues_nothing(bb, store, settings):
    settings.SANDBOX_BITBADGES_STORE_LAG = 0
    response = bb.post(
        "/api/v0/storeActions/batch",
        {
            "dynamicDataId": "store-1",
            "dataSecret": "shh",
            "actions": [
                {"actionName": "add", "payload": {"address": ETH}},
                {"actionName": "add", "payload": {"address": "0xnope"}},
            ],
        },
    )
    assert response.status_code == 400
    assert response.json() == {"errorMessage": ADDRESS_ERROR}
    assert bb_stores.store_contains("store-1", ETH) is False


def test_a_simulated_action_changes_nothing(bb, store, settings):
    settings.SANDBOX_BITBADGES_STORE_LAG = 0
    assert _single(bb, _isSimulation=True).status_code == 200
    assert bb_stores.store_contains("store-1", ETH) is False


# unconfirmed statuses: the OpenAPI lists 200/400/500 for the store routes; the texts are
# the documented claim-time ones.
@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"store_id": "nope"}, 500, "Dynamic data doc not found"),
        ({"store_id": "x" * 5000}, 500, "Dynamic data doc not found"),
        ({"secret": "wrong"}, 500, "Invalid data secret"),
        ({"secret": None}, 500, "Invalid data secret"),
        ({"secret": 42}, 500, "Invalid data secret"),
        ({"address": "alice"}, 400, ADDRESS_ERROR),
    ],
)
def test_store_action_errors(bb, store, kwargs, status, message):
    response = _single(bb, **kwargs)
    assert response.status_code == status
    assert response.json() == {"errorMessage": message}
    assert not store.actions.exists()


def test_unknown_action_and_non_address_payload(bb, store):
    unknown = _single(bb, "rename")
    by_username = bb.post(
        "/api/v0/storeActions/single",
        {
            "dynamicDataId": "store-1",
            "dataSecret": "shh",
            "actionName": "add",
            "payload": {"username": "octocat"},
        },
    )
    assert unknown.status_code == by_username.status_code == 400
    assert "add or remove" in unknown.json()["errorMessage"]
    assert "addresses only" in by_username.json()["errorMessage"]


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"store_id": "nope"}, 500, "Dynamic data doc not found"),
        ({"secret": "wrong"}, 500, "Invalid data secret"),
        ({"secret": None}, 500, "Invalid data secret"),
    ],
)
def test_value_errors(bb, store, kwargs, status, message):
    response = _value(bb, BB, **kwargs)
    assert response.status_code == status
    assert response.json() == {"errorMessage": message}


def test_value_needs_a_well_formed_key(bb, store):
    assert bb.get("/api/v0/dynamicStore/store-1/value", {"dataSecret": "shh"}).status_code == 400
    assert _value(bb, "0x1234").json() == {"errorMessage": ADDRESS_ERROR}


def test_the_legacy_route_with_the_secret_in_the_path(bb, store, settings):
    settings.SANDBOX_BITBADGES_STORE_LAG = 0
    added = bb.post("/api/v0/storeActions/add/store-1/shh", {"address": ETH})
    wrong = bb.post("/api/v0/storeActions/add/store-1/nope", {"address": ETH_2})
    email = bb.post("/api/v0/storeActions/add/store-1/shh", {"email": "a@example.com"})

    assert added.status_code == 200 and added.json() == {}
    assert wrong.status_code == 500
    assert wrong.json() == {"errorMessage": "Invalid data secret"}
    assert email.status_code == 400
    assert bb_stores.store_contains("store-1", BB) is True
    assert bb.post("/api/v0/storeActions/remove/store-1/shh", {"address": BB}).status_code == 200
    assert bb_stores.store_contains("store-1", BB) is False


def test_a_claim_gated_by_a_store(bb, store):
    claim = bb_claims.claim_create(store=store, max_uses_per_address=1)

    before = bb.complete(claim.claim_id, BB)
    _single(bb, address=ETH)
    right_after = bb.complete(claim.claim_id, BB)  # the add has not landed yet
    with _later(2):
        landed = bb.complete(claim.claim_id, BB)
    with _later(10):
        bb_attempts.attempts_resolve_due()
        again = bb.complete(claim.claim_id, ETH)

    for response in (before, right_after):
        assert response.status_code == 500
        assert response.json()["errorMessage"].endswith("(Whitelist) : User not in whitelist")
    assert landed.status_code == 200
    assert again.status_code == 500
    assert again.json()["errorMessage"].endswith("User already exceeded max uses")
    assert bb_attempts.completions(claim.claim_id, BB) == 1


def test_a_claim_whose_store_is_gone_or_whose_secret_changed(bb, store, settings):
    settings.SANDBOX_BITBADGES_STORE_LAG = 0
    claim = bb_claims.claim_create(store="store-1")
    _single(bb, address=BB)
    store.data_secret = "rotated"
    store.save()

    rotated = bb.complete(claim.claim_id, BB)
    store.delete()
    gone = bb.complete(claim.claim_id, BB)

    assert rotated.json()["errorMessage"].endswith("(Whitelist) : Invalid data secret")
    assert gone.json()["errorMessage"].endswith("(Whitelist) : Dynamic data doc not found")


def test_a_key_alone_cannot_see_the_store_of_a_claim(bb, store):
    """A server with an API key sees only the whitelist's public params (bitbadges-facts
    section 3): privateParams are emptied, and asking for them is refused."""
    claim = bb_claims.claim_create(store=store, max_uses_per_address=1)
    plugins = bb.get(f"/api/v0/claim/{claim.claim_id}").json()["claim"]["plugins"]
    refused = bb.get(f"/api/v0/claim/{claim.claim_id}", {"fetchPrivateParams": "true"})

    whitelist = next(p for p in plugins if p["pluginId"] == "whitelist")
    assert whitelist["publicParams"] == {"maxUsesPerAddress": 1}
    assert whitelist["privateParams"] == {}
    assert refused.status_code == 500
    # What the private params hold (the sandbox's own view, never served over HTTP).
    private = bb_claims.claim_json(claim, private=True)["plugins"]
    assert next(p for p in private if p["pluginId"] == "whitelist")["privateParams"] == {
        "useDynamicStore": True,
        "dynamicDataId": "store-1",
        "dataSecret": "shh",
    }

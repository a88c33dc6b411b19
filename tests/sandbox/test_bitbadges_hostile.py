"""Wrong, missing, oversized and hostile input: always a 4xx/5xx with BitBadges' JSON body
({"errorMessage": ...}), never Django's error page, and nothing recorded at the claim."""

import json
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import base as bb_base
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import stores as bb_stores
from sandbox.bitbadges.models import BitBadgesAttempt, BitBadgesStoreAction
from tests.sandbox.bitbadges_support import BB, PREFIX, BitBadgesTestClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def bb(client):
    return BitBadgesTestClient(client)


@pytest.fixture
def claim(db):
    return bb_claims.claim_create(password="pw")


@pytest.fixture
def store(db):
    return bb_stores.store_create(store_id="store-1", secret="shh")


def _bitbadges_error(response, statuses=None) -> str:
    assert 400 <= response.status_code < 600, response.status_code
    if statuses is not None:
        assert response.status_code in statuses, (response.status_code, response.content[:200])
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body.get("errorMessage"), str) and body["errorMessage"]
    assert set(body) == {"errorMessage"}
    return body["errorMessage"]


def _post_raw(client, path, data: bytes, content_type="application/json"):
    return client.post(
        PREFIX + path,
        data,
        content_type=content_type,
        headers={"x-api-key": BitBadgesTestClient(client).key},
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"{nope",
        b"\xff\xfe\x00garbage",
        b'{"_expectedVersion": NaN}',
        b'{"_expectedVersion": Infinity}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"_expectedVersion": -1',
    ],
    ids=["broken", "binary", "nan", "infinity", "deep-array", "deep-object", "truncated"],
)
@pytest.mark.parametrize("kind", ["complete", "simulate"])
def test_bodies_that_are_not_json(client, claim, raw, kind):
    response = _post_raw(client, f"/api/v0/claims/{kind}/{claim.claim_id}/{BB}", raw)
    assert _bitbadges_error(response, {400}).startswith("Invalid request payload. ")
    assert not BitBadgesAttempt.objects.exists()


def test_an_oversized_body(client, claim):
    size = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    raw = json.dumps({"_expectedVersion": -1, "pwd": {"password": "x" * size}}).encode()
    response = _post_raw(client, f"/api/v0/claims/complete/{claim.claim_id}/{BB}", raw)
    assert _bitbadges_error(response, {413}) == "request entity too large"
    assert not BitBadgesAttempt.objects.exists()


@pytest.mark.parametrize(
    "version",
    [1e300, 10**400, -(10**400), 0.5, -2],
    ids=["huge-float", "huge-int", "huge-negative", "fraction", "minus-two"],
)
def test_numbers_that_are_not_the_version(bb, claim, version):
    response = bb.complete(claim.claim_id, BB, {"pwd": {"password": "pw"}}, version=version)
    assert _bitbadges_error(response, {500}) == "Claim has been updated since last fetch"


def test_an_infinite_version_from_an_overflowing_literal(client, claim):
    # JSON.parse("1e999") is Infinity, a number: it is simply not the version.
    raw = b'{"_expectedVersion": 1e999}'
    response = _post_raw(client, f"/api/v0/claims/complete/{claim.claim_id}/{BB}", raw)
    assert _bitbadges_error(response, {500}) == "Claim has been updated since last fetch"


@pytest.mark.parametrize(
    "body",
    [
        {"pwd": "pw"},
        {"pwd": ["pw"]},
        {"pwd": {"password": 123}},
        {"pwd": {"password": None}},
        {"pwd": {"password": "pw" * 10_000}},
        {"pwd": {"password": "\x00"}},
        {"pwd": {"password": {"$ne": ""}}},
    ],
    ids=["string", "list", "number", "null", "long", "nul", "operator"],
)
def test_hostile_plugin_inputs(bb, claim, body):
    response = bb.complete(claim.claim_id, BB, body)
    assert _bitbadges_error(response, {500}).endswith("(Password) : Incorrect password")
    assert bb_attempts.completions(claim.claim_id) == 0


def test_a_nul_beside_the_right_password_is_queued_and_completes(bb, claim, settings):
    # PostgreSQL's JSON cannot hold NUL; BitBadges stores such inputs all the same.
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0
    response = bb.complete(claim.claim_id, BB, {"pwd": {"password": "pw", "note": "a\x00b"}})
    assert response.status_code == 200, response.content
    assert bb_attempts.completions(claim.claim_id) == 1


@pytest.mark.parametrize(
    "segment",
    ["%00", "%F0%9F%92%A5", "a" * 5000, "..%2F..%2Fetc", "%20", "'%20OR%201=1--"],
    ids=["nul", "emoji", "long", "traversal", "space", "sql"],
)
def test_hostile_path_segments(client, bb, claim, segment):
    responses = [
        bb.complete(segment, BB),
        bb.complete(claim.claim_id, segment),
        bb.complete(claim.claim_id, segment, simulate=True),
        bb.status(segment),
        bb.get(f"/api/v0/claim/{segment}"),
        bb.get(f"/api/v0/claims/{segment}/attempts"),
        bb.get(f"/api/v0/dynamicStore/{segment}/value", {"key": BB, "dataSecret": "x"}),
        bb.post(f"/api/v0/storeActions/add/{segment}/{segment}", {"address": BB}),
    ]
    for response in responses:
        _bitbadges_error(response, {400, 404, 500})
    assert not BitBadgesAttempt.objects.exists()


@pytest.mark.parametrize(
    "params",
    [
        {"address": "\x00"},
        {"address": "bb1" + "q" * 5000},
        {"bookmark": "\x00"},
        {"bookmark": "=" * 1000},
        {"includeErrors": "\x00"},
    ],
)
def test_hostile_attempts_queries(bb, claim, params):
    response = bb.get(f"/api/v0/claims/{claim.claim_id}/attempts", params)
    if response.status_code == 200:  # includeErrors other than "true" is simply false
        assert response.json()["docs"] == []
    else:
        _bitbadges_error(response, {500})


def test_too_many_query_fields(bb, claim):
    params = {f"f{i}": "x" for i in range(django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 10)}
    response = bb.get(f"/api/v0/claims/{claim.claim_id}/attempts", params)
    assert _bitbadges_error(response, {400}).startswith("Invalid request payload. ")


@pytest.mark.parametrize(
    "body",
    [
        [],
        "store",
        None,
        {"dynamicDataId": ["store-1"], "dataSecret": "shh", "actionName": "add", "payload": {}},
        {
            "dynamicDataId": "store-1\x00",
            "dataSecret": "shh",
            "actionName": "add",
            "payload": {"address": BB},
        },
        {
            "dynamicDataId": "store-1",
            "dataSecret": {"$gt": ""},
            "actionName": "add",
            "payload": {"address": BB},
        },
        {
            "dynamicDataId": "store-1",
            "dataSecret": "shh",
            "actionName": None,
            "payload": {"address": BB},
        },
        {"dynamicDataId": "store-1", "dataSecret": "shh", "actionName": "add", "payload": "bb1"},
        {
            "dynamicDataId": "store-1",
            "dataSecret": "shh",
            "actionName": "add",
            "payload": {"address": 7},
        },
        {
            "dynamicDataId": "store-1",
            "dataSecret": "shh",
            "actionName": "add",
            "payload": {"address": "x" * 10_000},
        },
    ],
    ids=[
        "array",
        "string",
        "null",
        "id-list",
        "id-nul",
        "secret-object",
        "action-null",
        "payload-string",
        "address-number",
        "address-long",
    ],
)
def test_hostile_store_actions(client, bb, store, body):
    raw = json.dumps(body).encode()
    single = _post_raw(client, "/api/v0/storeActions/single", raw)
    top = {"dynamicDataId": "store-1", "dataSecret": "shh"}
    if isinstance(body, dict):
        top.update({k: v for k, v in body.items() if k in top})
    batch = bb.post("/api/v0/storeActions/batch", {**top, "actions": [body]})
    _bitbadges_error(single, {400, 500})
    _bitbadges_error(batch, {400, 500})
    assert not BitBadgesStoreAction.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"claimsToFetch": [{"claimId": 5}]},
        {"claimsToFetch": [None]},
        {"claimIds": "all"},
        {"claimsToFetch": {"claimId": "ab"}},
    ],
)
def test_hostile_batch_fetches(bb, body):
    _bitbadges_error(bb.post("/api/v1/claims/fetch", body), {400})


@pytest.mark.parametrize("claim_id", ["\x00", "zz", "a" * 5000, "' OR 1=1 --"])
def test_malformed_ids_in_a_batch_fetch_are_simply_not_found(bb, claim_id):
    """IDX-2024 claims.ts:369-372 looks the ids up with $in: what is not there is absent."""
    claim = bb_claims.claim_create()
    response = bb.post(
        "/api/v1/claims/fetch",
        {"claimsToFetch": [{"claimId": claim_id}, {"claimId": claim.claim_id}]},
    )
    assert response.status_code == 200
    assert [c["claimId"] for c in response.json()["claims"]] == [claim.claim_id]


def test_a_long_claim_id_is_never_stored(bb):
    with pytest.raises(bb_base.BitBadgesError):
        bb_claims.claim_create(claim_id="a" * 65)
    assert _bitbadges_error(bb.complete("a" * 65, BB), {500}) == "No doc found"


def test_an_encoded_slash_in_an_address(client, bb, claim):
    response = bb.complete(claim.claim_id, quote("bb1/../x", safe=""))
    _bitbadges_error(response, {404, 500})

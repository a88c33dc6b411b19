"""The emulated BitBadges claims API: auth, routes, complete/simulate/status, fetches."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sandbox import bitbadges
from sandbox.models import BitBadgesAttempt
from tests.sandbox.test_bitbadges_support import (
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

NO_KEY = "Unauthorized request. This route is only accessible with an API key."
BAD_KEY = "Unauthorized request. Error validating API key."


@pytest.fixture
def bb(client):
    return BitBadgesTestClient(client)


@pytest.fixture
def claim(db):
    return bitbadges.claim_create(max_uses=10, password="s3cret", password_instance_id="pwd")


def _later(seconds=5):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


# --- Auth and routing ----------------------------------------------------------------

ROUTES = [
    ("POST", "/api/v0/claims/complete/{cid}/" + BB),
    ("POST", "/api/v0/claims/simulate/{cid}/" + BB),
    ("GET", "/api/v0/claims/status/" + "a" * 64),
    ("POST", "/api/v0/claims/status/" + "a" * 64),
    ("GET", "/api/v0/claims/success/{cid}/" + BB),
    ("GET", "/api/v0/claim/{cid}"),
    ("POST", "/api/v1/claims/fetch"),
    ("POST", "/api/v0/storeActions/single"),
    ("POST", "/api/v0/storeActions/batch"),
    ("GET", "/api/v0/dynamicStore/abc/value"),
    ("POST", "/api/v0/storeActions/add/abc/secret"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(("key", "message"), [(None, NO_KEY), ("wrong-key", BAD_KEY)])
def test_every_route_needs_the_api_key(client, claim, method, path, key, message):
    api = BitBadgesTestClient(client, key=key)
    path = path.format(cid=claim.claim_id)

    response = api.get(path) if method == "GET" else api.post(path, {"_expectedVersion": -1})

    assert response.status_code == 401
    assert response.json() == {"errorMessage": message, "unauthorized": True}
    assert bitbadges.complete_calls(claim.claim_id) == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v0/claims/complete/abc/" + BB),  # wrong method
        ("DELETE", "/api/v0/claim/abc"),
        ("GET", "/api/v0/nothing/here"),
        ("POST", "/api/v2/claims/fetch"),
    ],
)
def test_anything_else_is_a_json_404(client, bb, method, path):
    response = client.generic(method, "/sandbox/bitbadges" + path, headers={"x-api-key": bb.key})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "Route not found" in response.json()["errorMessage"]


# --- Complete, status ----------------------------------------------------------------


def test_complete_queues_an_attempt_that_succeeds_after_the_delay(bb, claim):
    response = bb.complete(claim.claim_id, ETH, {"pwd": {"password": "s3cret"}}, version=0)

    assert response.status_code == 200
    attempt_id = response.json()["claimAttemptId"]
    assert len(attempt_id) == 64 and int(attempt_id, 16) >= 0
    assert list(response.json()) == ["claimAttemptId"]
    # Pending for now (default shape: false-empty).
    assert bb.status(attempt_id).json() == {"success": False, "error": "", "bitbadgesAddress": BB}
    assert bitbadges.completions(claim.claim_id) == 0

    with _later(1.1):
        done = bb.status(attempt_id)
        posted = bb.status(attempt_id, method="POST")

    assert done.status_code == posted.status_code == 200
    assert done.json() == posted.json() == {"success": True, "error": "", "bitbadgesAddress": BB}
    assert bitbadges.completions(claim.claim_id) == 1
    assert bitbadges.completions(claim.claim_id, ETH_LOWER) == 1
    assert bitbadges.complete_calls(claim.claim_id, BB) == 1


def test_the_delay_comes_from_settings(bb, claim, settings):
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 30
    attempt_id = bb.complete(claim.claim_id, BB, {"pwd": {"password": "s3cret"}}).json()[
        "claimAttemptId"
    ]

    with _later(29):
        assert bb.status(attempt_id).json()["success"] is False
    with _later(31):
        assert bb.status(attempt_id).json()["success"] is True


def test_with_no_delay_the_next_request_resolves_it(bb, claim, settings):
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0
    attempt_id = bb.complete(claim.claim_id, BB, {"pwd": {"password": "s3cret"}}).json()[
        "claimAttemptId"
    ]
    assert bb.status(attempt_id).json() == {"success": True, "error": "", "bitbadgesAddress": BB}


@pytest.mark.parametrize(
    ("shape", "status", "body"),
    [
        ("no-doc", 500, {"errorMessage": "No doc found"}),
        ("false-empty", 200, {"success": False, "error": "", "bitbadgesAddress": BB}),
        ("missing", 200, {"bitbadgesAddress": BB}),
    ],
)
def test_every_pending_shape(bb, claim, settings, shape, status, body):
    settings.SANDBOX_BITBADGES_PENDING_SHAPE = shape
    attempt_id = bb.complete(claim.claim_id, ETH, {"pwd": {"password": "s3cret"}}).json()[
        "claimAttemptId"
    ]

    pending = bb.status(attempt_id)
    with _later():
        resolved = bb.status(attempt_id)

    assert (pending.status_code, pending.json()) == (status, body)
    assert resolved.status_code == 200
    assert resolved.json() == {"success": True, "error": "", "bitbadgesAddress": BB}


def test_an_unknown_attempt_is_no_doc(bb):
    response = bb.status("f" * 64)
    assert response.status_code == 404
    assert response.json() == {"errorMessage": "No doc found"}


def test_the_same_address_can_complete_twice_without_a_per_address_cap(bb, claim):
    for _ in range(2):
        assert bb.complete(claim.claim_id, BB, {"pwd": {"password": "s3cret"}}).status_code == 200
    with _later():
        assert bitbadges.attempts_resolve_due() == 2
    assert bitbadges.completions(claim.claim_id, ETH) == 2
    assert bb.get(f"/api/v0/claims/success/{claim.claim_id}/{ETH}").json() == {
        "successCount": 2,
        "claimNumbers": [0, 1],
    }


def test_a_claim_used_up_in_between_fails_at_resolution(bb):
    claim = bitbadges.claim_create(max_uses=1)
    first = bb.complete(claim.claim_id, BB).json()["claimAttemptId"]
    second = bb.complete(claim.claim_id, BB_2).json()["claimAttemptId"]  # simulation passes

    with _later():
        ok, refused = bb.status(first).json(), bb.status(second).json()

    assert ok == {"success": True, "error": "", "bitbadgesAddress": BB}
    assert refused == {
        "success": False,
        "error": "Error: One or more of the challenges were not satisfied (Number of Uses) : "
        "Overall max uses exceeded",
        "bitbadgesAddress": BB_2,
    }
    assert bitbadges.completions(claim.claim_id) == 1
    # Now the claim is used up, a complete is refused at once.
    third = bb.complete(claim.claim_id, ETH_2)
    assert third.status_code == 400
    assert "Overall max uses exceeded" in third.json()["errorMessage"]
    assert bitbadges.complete_calls(claim.claim_id) == 3


# --- Simulate ------------------------------------------------------------------------


def test_simulate_uses_nothing_up(bb):
    claim = bitbadges.claim_create(max_uses=1)

    responses = [bb.complete(claim.claim_id, BB, simulate=True) for _ in range(3)]
    with _later():
        status = bb.status("0" * 64)

    assert all(r.status_code == 200 for r in responses)
    assert responses[0].json() == {"claimAttemptId": "0" * 64}
    assert status.json()["success"] is True
    assert bitbadges.completions(claim.claim_id) == 0
    assert bitbadges.complete_calls(claim.claim_id) == 0
    assert not BitBadgesAttempt.objects.exists()


def test_simulate_reports_a_failure(bb, claim):
    response = bb.complete(claim.claim_id, BB, {"pwd": {"password": "nope"}}, simulate=True)
    assert response.status_code == 400
    assert response.json() == {
        "errorMessage": "One or more of the challenges were not satisfied (Password) : "
        "Incorrect password"
    }


# --- Version, ids, addresses ---------------------------------------------------------


@pytest.mark.parametrize("simulate", [False, True])
def test_expected_version_must_match_or_be_minus_one(bb, simulate):
    claim = bitbadges.claim_create(version=3)

    stale = bb.complete(claim.claim_id, BB, version=2, simulate=simulate)
    exact = bb.complete(claim.claim_id, BB, version=3, simulate=simulate)
    as_string = bb.complete(claim.claim_id, BB, version="3", simulate=simulate)  # older docs
    skipped = bb.complete(claim.claim_id, BB, version=-1, simulate=simulate)
    missing = bb.post(f"/api/v0/claims/complete/{claim.claim_id}/{BB}", {})

    assert stale.status_code == 400
    assert stale.json() == {"errorMessage": "Claim has been updated since last fetch"}
    assert exact.status_code == as_string.status_code == skipped.status_code == 200
    assert missing.status_code == 400
    assert "_expectedVersion" in missing.json()["errorMessage"]


def test_unknown_and_malformed_claim_ids(bb):
    unknown = bb.complete("ab" * 16, BB)
    malformed = bb.complete("not-a-claim-id", BB)
    malformed_get = bb.get("/api/v0/claim/zz-top")

    assert unknown.status_code == 404 and unknown.json() == {"errorMessage": "No doc found"}
    assert malformed.status_code == 400
    assert malformed.json() == {"errorMessage": "Invalid claimId format"}
    assert malformed_get.json() == {"errorMessage": "Invalid claimId format"}


def test_both_address_forms_are_one_account(bb):
    claim = bitbadges.claim_create(max_uses_per_address=1, whitelist=[ETH])
    assert bb.complete(claim.claim_id, ETH_LOWER).status_code == 200
    with _later():
        bitbadges.attempts_resolve_due()

    again = bb.complete(claim.claim_id, BB)
    success = bb.get(f"/api/v0/claims/success/{claim.claim_id}/{BB}").json()

    assert again.status_code == 400
    assert again.json()["errorMessage"].endswith("User already exceeded max uses")
    assert success == {"successCount": 1, "claimNumbers": [0]}


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_bad_addresses_are_refused(bb, claim, address):
    complete = bb.complete(claim.claim_id, address)
    success = bb.get(f"/api/v0/claims/success/{claim.claim_id}/{address}")

    assert complete.status_code == success.status_code == 400
    assert complete.json() == success.json() == {"errorMessage": ADDRESS_ERROR}
    assert bitbadges.complete_calls(claim.claim_id) == 0


def test_a_body_that_is_not_json_is_refused(bb, claim):
    response = bb.post(f"/api/v0/claims/complete/{claim.claim_id}/{BB}", raw="{nope")
    assert response.status_code == 400
    assert "errorMessage" in response.json()


# --- Reading claims ------------------------------------------------------------------


def test_get_claim_without_and_with_private_params(bb, claim):
    bb.complete(claim.claim_id, BB, {"pwd": {"password": "s3cret"}})
    with _later():
        bitbadges.attempts_resolve_due()

    public = bb.get(f"/api/v0/claim/{claim.claim_id}").json()["claim"]
    private = bb.get(
        f"/api/v0/claim/{claim.claim_id}",
        {"fetchPrivateParams": "true", "fetchAllClaimedUsers": "true"},
    ).json()["claim"]

    assert public["claimId"] == claim.claim_id
    assert public["version"] == "0" and isinstance(public["version"], str)
    assert public["_includesPrivateParams"] is False
    plugins = {p["instanceId"]: p for p in public["plugins"]}
    assert set(plugins) == {"numUses", "pwd"}
    assert plugins["numUses"]["publicParams"] == {"maxUses": 10}
    assert plugins["numUses"]["publicState"]["numUses"] == 1
    assert "claimedUsers" not in plugins["numUses"]["publicState"]
    assert plugins["pwd"]["pluginId"] == "password"
    assert plugins["pwd"]["privateParams"] == {}

    assert private["_includesPrivateParams"] is True
    by_id = {p["instanceId"]: p for p in private["plugins"]}
    assert by_id["pwd"]["privateParams"] == {"password": "s3cret"}
    assert by_id["numUses"]["publicState"]["claimedUsers"] == {BB: [0]}


def test_unknown_claim_get_is_404(bb):
    response = bb.get("/api/v0/claim/" + "c" * 32)
    assert response.status_code == 404
    assert response.json() == {"errorMessage": "No doc found"}


@pytest.mark.parametrize("version_path", ["/api/v1/claims/fetch", "/api/v0/claims/fetch"])
def test_batch_fetch(bb, claim, version_path):
    other = bitbadges.claim_create(halted=True, version=4)

    response = bb.post(
        version_path,
        {
            "claimsToFetch": [
                {"claimId": claim.claim_id, "fetchPrivateParams": True},
                {"claimId": other.claim_id},
                {"claimId": "d" * 32},  # unknown: left out
            ]
        },
    )

    assert response.status_code == 200
    claims = response.json()["claims"]
    assert [c["claimId"] for c in claims] == [claim.claim_id, other.claim_id]
    assert claims[0]["_includesPrivateParams"] is True
    assert claims[1]["version"] == "4"
    assert "halt" in [p["pluginId"] for p in claims[1]["plugins"]]


def test_batch_fetch_accepts_the_older_claim_ids_body_and_refuses_nonsense(bb, claim):
    older = bb.post("/api/v1/claims/fetch", {"claimIds": [claim.claim_id]})
    nonsense = bb.post("/api/v1/claims/fetch", {"claimsToFetch": "all"})

    assert [c["claimId"] for c in older.json()["claims"]] == [claim.claim_id]
    assert nonsense.status_code == 400


def test_success_check_for_an_address_that_never_claimed(bb, claim):
    response = bb.get(f"/api/v0/claims/success/{claim.claim_id}/{BB}")
    assert response.json() == {"successCount": 0, "claimNumbers": []}

"""The emulated BitBadges claims API: auth, routes, complete/simulate/status, fetches."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import credits as bb_credits
from sandbox.bitbadges import stores as bb_stores
from sandbox.bitbadges.models import BitBadgesAttempt, BitBadgesStoreEntry
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

NO_KEY = "Unauthorized request. This route is only accessible with an API key."
BAD_KEY = "Unauthorized request. Error validating API key."


@pytest.fixture
def bb(client):
    return BitBadgesTestClient(client)


@pytest.fixture
def claim(db):
    return bb_claims.claim_create(max_uses=10, password="s3cret", password_instance_id="pwd")


def _later(seconds=5):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


# --- Auth and routing ----------------------------------------------------------------

ROUTES = [
    ("POST", "/api/v0/claims/complete/{cid}/" + BB),
    ("POST", "/api/v0/claims/simulate/{cid}/" + BB),
    ("GET", "/api/v0/claims/status/" + "a" * 64),
    ("POST", "/api/v0/claims/status/" + "a" * 64),
    ("GET", "/api/v0/claims/success/{cid}/" + BB),  # when served
    ("GET", "/api/v0/claims/{cid}/attempts"),
    ("GET", "/api/v0/claim/{cid}"),
    ("POST", "/api/v1/claims/fetch"),
    ("POST", "/api/v0/storeActions/single"),
    ("POST", "/api/v0/storeActions/batch"),
    ("GET", "/api/v0/dynamicStore/abc/value"),
    ("POST", "/api/v0/storeActions/add/abc/secret"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(("key", "message"), [(None, NO_KEY), ("wrong-key", BAD_KEY)])
def test_every_route_needs_the_api_key(client, claim, settings, method, path, key, message):
    settings.SANDBOX_BITBADGES_SUCCESS_ROUTE = True
    api = BitBadgesTestClient(client, key=key)
    before = bb_credits.credits_remaining()
    path = path.format(cid=claim.claim_id)

    response = api.get(path) if method == "GET" else api.post(path, {"_expectedVersion": -1})

    assert response.status_code == 401
    # No "unauthorized" flag: no BitBadges source shows one on key errors.
    assert response.json() == {"errorMessage": message}
    assert bb_attempts.complete_calls(claim.claim_id) == 0
    assert bb_credits.credits_remaining() == before  # a refused key spends nothing


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v0/claims/complete/abc/" + BB),  # wrong method
        ("DELETE", "/api/v0/claim/abc"),
        ("GET", "/api/v0/nothing/here"),
        ("POST", "/api/v2/claims/fetch"),
        ("POST", "/api/v0/claims/abc/attempts"),
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
    assert bb_attempts.completions(claim.claim_id) == 0

    with _later(1.1):
        done = bb.status(attempt_id)
        posted = bb.status(attempt_id, method="POST")

    assert done.status_code == posted.status_code == 200
    assert done.json() == posted.json() == {"success": True, "error": "", "bitbadgesAddress": BB}
    assert bb_attempts.completions(claim.claim_id) == 1
    assert bb_attempts.completions(claim.claim_id, ETH_LOWER) == 1
    assert bb_attempts.complete_calls(claim.claim_id, BB) == 1


def test_the_delay_comes_from_settings(bb, claim, settings):
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 30
    attempt_id = bb.complete(claim.claim_id, BB, {"pwd": {"password": "s3cret"}}).json()[
        "claimAttemptId"
    ]

    with _later(29):
        assert bb.status(attempt_id).json()["success"] is False
    with _later(31):
        assert bb.status(attempt_id).json()["success"] is True


def test_with_no_delay_the_status_says_success_at_once(bb, claim, settings):
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0
    attempt_id = bb.complete(claim.claim_id, BB, {"pwd": {"password": "s3cret"}}).json()[
        "claimAttemptId"
    ]
    assert bb.status(attempt_id).json() == {"success": True, "error": "", "bitbadgesAddress": BB}


def test_with_no_delay_an_attempt_is_never_seen_pending(
    bb, claim, settings, django_assert_num_queries
):
    """Judged as it is queued: the claim's count and the attempt's number are there when
    complete answers, numbered in the order of the attempts' times."""
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0
    body = {"pwd": {"password": "s3cret"}}
    first = bb.complete(claim.claim_id, BB, body).json()["claimAttemptId"]
    second = bb.complete(claim.claim_id, BB_2, body).json()["claimAttemptId"]

    assert not BitBadgesAttempt.objects.filter(status="pending").exists()
    rows = {a.attempt_id: a for a in BitBadgesAttempt.objects.all()}
    assert (rows[first].claim_number, rows[second].claim_number) == (0, 1)
    assert rows[first].created_at < rows[second].created_at
    claim.refresh_from_db()
    assert claim.num_uses == 2
    # Nothing left due: a request's look for due work is one query, and it resolves nothing.
    with django_assert_num_queries(1):
        bb_attempts.tick()


def test_with_no_delay_an_attempt_is_judged_before_a_later_store_change(bb, settings):
    """Due at once means judged at once: a store removal that lands after the attempt was
    queued does not reach back to it (as a queued attempt is judged when it is due)."""
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0
    bb_stores.store_create(label="members", store_id="store-1", secret="shh")
    claim = bb_claims.claim_create(store="store-1")
    bb.post("/api/v0/storeActions/add/store-1/shh", {"address": BB})
    with _later(2):  # the add has landed
        bb.post("/api/v0/storeActions/remove/store-1/shh", {"address": BB})  # lands at +3.5 s
        attempt_id = bb.complete(claim.claim_id, BB, {}).json()["claimAttemptId"]
    with _later(10):
        status = bb.status(attempt_id).json()
        later = bb.complete(claim.claim_id, BB, {})

    assert status["success"] is True
    assert later.status_code == 500 and later.json()["errorMessage"].endswith(
        "User not in whitelist"
    )


def test_a_request_lands_due_store_actions_and_resolves_due_attempts(bb, claim, settings):
    """Whatever the request: a due store action lands and a due attempt resolves first."""
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 30
    bb_stores.store_create(label="members", store_id="store-1", secret="shh")
    attempt_id = bb.complete(claim.claim_id, BB, {"pwd": {"password": "s3cret"}}).json()[
        "claimAttemptId"
    ]
    bb.post("/api/v0/storeActions/add/store-1/shh", {"address": BB})
    with _later(31):
        bb.status("0" * 64)  # a request about something else (the simulated id)

    assert BitBadgesAttempt.objects.get(attempt_id=attempt_id).status == "success"
    assert BitBadgesStoreEntry.objects.filter(store__dynamic_data_id="store-1", address=BB).exists()


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
    assert response.status_code == 500
    assert response.json() == {"errorMessage": "No doc found"}


@pytest.mark.parametrize("attempt_id", ["not-hex", "z" * 64, "0x" + "a" * 62, "é"])
def test_a_malformed_attempt_id(bb, attempt_id):
    for method in ("GET", "POST"):
        response = bb.status(attempt_id, method=method)
        assert response.status_code == 500
        assert response.json() == {"errorMessage": "Invalid claimAttemptId format"}


def test_a_rejected_attempt_has_no_status(bb, claim):
    refused = bb.complete(claim.claim_id, BB, {"pwd": {"password": "nope"}})
    attempt = BitBadgesAttempt.objects.get(status="rejected")

    assert refused.status_code == 500
    assert bb.status(attempt.attempt_id).json() == {"errorMessage": "No doc found"}


def test_the_same_address_can_complete_twice_without_a_per_address_cap(bb, claim):
    for _ in range(2):
        assert bb.complete(claim.claim_id, BB, {"pwd": {"password": "s3cret"}}).status_code == 200
    with _later():
        assert bb_attempts.attempts_resolve_due() == 2
    assert bb_attempts.completions(claim.claim_id, ETH) == 2
    page = bb.get(f"/api/v0/claims/{claim.claim_id}/attempts", {"address": ETH}).json()
    assert page["total"] == 2
    assert sorted(doc["claimNumber"] for doc in page["docs"]) == [0, 1]


def test_a_claim_used_up_in_between_fails_at_resolution(bb):
    claim = bb_claims.claim_create(max_uses=1)
    first = bb.complete(claim.claim_id, BB).json()["claimAttemptId"]
    second = bb.complete(claim.claim_id, BB_2).json()["claimAttemptId"]  # simulation passes

    with _later():
        ok, refused = bb.status(first).json(), bb.status(second).json()

    assert ok == {"success": True, "error": "", "bitbadgesAddress": BB}
    assert refused == {
        "success": False,
        "error": "Error: One or more of the challenges were not satisfied (One Time Use) : "
        "Overall max uses exceeded",
        "bitbadgesAddress": BB_2,
    }
    assert bb_attempts.completions(claim.claim_id) == 1
    # Now the claim is used up, a complete is refused at once.
    third = bb.complete(claim.claim_id, ETH_2)
    assert third.status_code == 500
    assert "Overall max uses exceeded" in third.json()["errorMessage"]
    assert bb_attempts.complete_calls(claim.claim_id) == 3


# --- Simulate ------------------------------------------------------------------------


def test_simulate_uses_nothing_up(bb):
    claim = bb_claims.claim_create(max_uses=1)

    responses = [bb.complete(claim.claim_id, BB, simulate=True) for _ in range(3)]
    with _later():
        status = bb.status("0" * 64)

    assert all(r.status_code == 200 for r in responses)
    assert responses[0].json() == {"claimAttemptId": "0" * 64}
    assert status.json()["success"] is True
    assert bb_attempts.completions(claim.claim_id) == 0
    assert bb_attempts.complete_calls(claim.claim_id) == 0
    assert not BitBadgesAttempt.objects.exists()


def test_simulate_reports_a_failure(bb, claim):
    response = bb.complete(claim.claim_id, BB, {"pwd": {"password": "nope"}}, simulate=True)
    assert response.status_code == 500
    assert response.json() == {
        "errorMessage": "One or more of the challenges were not satisfied (Password) : "
        "Incorrect password"
    }


# --- Version, ids, addresses ---------------------------------------------------------


@pytest.mark.parametrize("simulate", [False, True])
def test_expected_version_must_match_or_be_minus_one(bb, simulate):
    claim = bb_claims.claim_create(version=3)

    stale = bb.complete(claim.claim_id, BB, version=2, simulate=simulate)
    exact = bb.complete(claim.claim_id, BB, version=3, simulate=simulate)
    as_float = bb.complete(claim.claim_id, BB, version=3.0, simulate=simulate)
    skipped = bb.complete(claim.claim_id, BB, version=-1, simulate=simulate)

    assert stale.status_code == 500
    assert stale.json() == {"errorMessage": "Claim has been updated since last fetch"}
    assert exact.status_code == as_float.status_code == skipped.status_code == 200


PAYLOAD = "Invalid request payload. "


@pytest.mark.parametrize("simulate", [False, True])
@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, [{"path": "$input._expectedVersion", "expected": "number"}]),
        (
            {"_expectedVersion": "0"},  # older docs sent a string: the SDK's typia refuses it
            [{"path": "$input._expectedVersion", "expected": "number", "value": "0"}],
        ),
        (
            {"_expectedVersion": True},
            [{"path": "$input._expectedVersion", "expected": "number", "value": True}],
        ),
        (
            {"_expectedVersion": None},
            [{"path": "$input._expectedVersion", "expected": "number", "value": None}],
        ),
        ([], [{"path": "$input._expectedVersion", "expected": "number"}]),
        ("s", [{"path": "$input", "expected": "{root}", "value": "s"}]),
        (7, [{"path": "$input", "expected": "{root}", "value": 7}]),
        (None, [{"path": "$input", "expected": "{root}", "value": None}]),
        (
            {"_expectedVersion": -1, "_specificInstanceIds": "pwd"},
            [
                {
                    "path": "$input._specificInstanceIds",
                    "expected": "(Array<string> | undefined)",
                    "value": "pwd",
                }
            ],
        ),
        (
            {"_expectedVersion": "1", "_specificInstanceIds": ["a", 2, None]},
            [
                {"path": "$input._expectedVersion", "expected": "number", "value": "1"},
                {"path": "$input._specificInstanceIds[1]", "expected": "string", "value": 2},
                {"path": "$input._specificInstanceIds[2]", "expected": "string", "value": None},
            ],
        ),
    ],
)
def test_payload_shape_errors_are_400_with_typia_errors(bb, claim, body, errors, simulate):
    """The errors bitbadgesjs-sdk 0.27.2's typia reports for these bodies (run with node),
    as IDX-2024 search.ts typiaError answers them."""
    kind = "simulate" if simulate else "complete"
    root = "iSimulateClaimPayload" if simulate else "iCompleteClaimPayload"
    expected = [
        {**error, "expected": error["expected"].replace("{root}", root)} for error in errors
    ]

    response = bb.post(f"/api/v0/claims/{kind}/{claim.claim_id}/{BB}", raw=json.dumps(body))

    assert response.status_code == 400
    message = response.json()["errorMessage"]
    assert message.startswith(PAYLOAD)
    assert json.loads(message[len(PAYLOAD) :]) == expected
    assert message[len(PAYLOAD) :] == json.dumps(expected, separators=(",", ":"))
    assert list(response.json()) == ["errorMessage"]
    assert bb_attempts.complete_calls(claim.claim_id) == 0  # it never reached the claim


def test_the_payload_is_checked_before_the_claim_id(bb):
    response = bb.post(f"/api/v0/claims/complete/not-hex/{BB}", {})
    assert response.status_code == 400
    assert response.json()["errorMessage"].startswith(PAYLOAD)


def test_unknown_and_malformed_claim_ids(bb):
    unknown = bb.complete("ab" * 16, BB)
    too_long = bb.complete("ab" * 40, BB)  # hex, longer than any claim id: not found
    malformed = bb.complete("not-a-claim-id", BB)
    malformed_simulate = bb.complete("not-a-claim-id", BB, simulate=True)
    malformed_get = bb.get("/api/v0/claim/zz-top")

    assert unknown.status_code == too_long.status_code == 500
    assert unknown.json() == too_long.json() == {"errorMessage": "No doc found"}
    for response in (malformed, malformed_simulate, malformed_get):
        assert response.status_code == 500
        assert response.json() == {"errorMessage": "Invalid claimId format"}


def test_both_address_forms_are_one_account(bb):
    claim = bb_claims.claim_create(max_uses_per_address=1, whitelist=[ETH])
    assert bb.complete(claim.claim_id, ETH_LOWER).status_code == 200
    with _later():
        bb_attempts.attempts_resolve_due()

    again = bb.complete(claim.claim_id, BB)
    attempts = bb.get(f"/api/v0/claims/{claim.claim_id}/attempts", {"address": BB}).json()

    assert again.status_code == 500
    assert again.json()["errorMessage"].endswith("User already exceeded max uses")
    assert attempts["total"] == 1 and attempts["docs"][0]["bitbadgesAddress"] == BB


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_bad_addresses_are_refused(bb, claim, address, settings):
    settings.SANDBOX_BITBADGES_SUCCESS_ROUTE = True
    complete = bb.complete(claim.claim_id, address)
    simulate = bb.complete(claim.claim_id, address, simulate=True)
    success = bb.get(f"/api/v0/claims/success/{claim.claim_id}/{address}")
    attempts = bb.get(f"/api/v0/claims/{claim.claim_id}/attempts", {"address": address})

    for response in (complete, simulate, success, attempts):
        assert response.status_code == 500
        assert response.json() == {"errorMessage": ADDRESS_ERROR}
    assert bb_attempts.complete_calls(claim.claim_id) == 0


def test_a_body_that_is_not_json_is_refused(bb, claim):
    response = bb.post(f"/api/v0/claims/complete/{claim.claim_id}/{BB}", raw="{nope")
    assert response.status_code == 400
    assert response.json() == {
        "errorMessage": "Invalid request payload. The request body is not valid JSON."
    }


# --- Reading claims ------------------------------------------------------------------


def test_get_claim_empties_private_params(bb, claim):
    bb.complete(claim.claim_id, BB, {"pwd": {"password": "s3cret"}})
    with _later():
        bb_attempts.attempts_resolve_due()

    public = bb.get(f"/api/v0/claim/{claim.claim_id}").json()["claim"]
    claimed = bb.get(f"/api/v0/claim/{claim.claim_id}", {"fetchAllClaimedUsers": "true"}).json()[
        "claim"
    ]

    assert public["claimId"] == claim.claim_id
    assert public["version"] == "0" and isinstance(public["version"], str)
    assert public["_includesPrivateParams"] is False
    plugins = {p["instanceId"]: p for p in public["plugins"]}
    assert set(plugins) == {"numUses", "pwd"}
    assert plugins["numUses"]["publicParams"] == {"maxUses": 10}
    assert plugins["numUses"]["publicState"]["numUses"] == 1
    assert "claimedUsers" not in plugins["numUses"]["publicState"]
    assert plugins["pwd"]["pluginId"] == "password"
    # Emptied, not omitted (IDX-2024 collections.ts:852-859).
    assert all(p["privateParams"] == {} for p in public["plugins"])
    by_id = {p["instanceId"]: p for p in claimed["plugins"]}
    assert by_id["numUses"]["publicState"]["claimedUsers"] == {BB: [0]}


@pytest.mark.parametrize("value", ["true"])
def test_private_params_need_a_session(bb, claim, value):
    response = bb.get(f"/api/v0/claim/{claim.claim_id}", {"fetchPrivateParams": value})
    assert response.status_code == 500
    assert response.json() == {"errorMessage": "You must be authenticated to fetch private params"}


@pytest.mark.parametrize("value", ["false", "1", "TRUE", ""])
def test_only_the_string_true_asks_for_private_params(bb, claim, value):
    """The SDK's FromQuery reads fetchPrivateParams === 'true'."""
    response = bb.get(f"/api/v0/claim/{claim.claim_id}", {"fetchPrivateParams": value})
    assert response.status_code == 200
    assert response.json()["claim"]["_includesPrivateParams"] is False


def test_unknown_claim_get_is_no_doc(bb):
    response = bb.get("/api/v0/claim/" + "c" * 32)
    assert response.status_code == 500
    assert response.json() == {"errorMessage": "No doc found"}


@pytest.mark.parametrize("version_path", ["/api/v1/claims/fetch", "/api/v0/claims/fetch"])
def test_batch_fetch(bb, claim, version_path):
    other = bb_claims.claim_create(halted=True, version=4)

    response = bb.post(
        version_path,
        {
            "claimsToFetch": [
                {"claimId": claim.claim_id, "fetchAllClaimedUsers": True},
                {"claimId": other.claim_id},
                {"claimId": "d" * 32},  # unknown: left out
            ]
        },
    )

    assert response.status_code == 200
    claims = response.json()["claims"]
    assert [c["claimId"] for c in claims] == [claim.claim_id, other.claim_id]
    assert claims[0]["_includesPrivateParams"] is False
    assert claims[1]["version"] == "4"
    assert "halt" in [p["pluginId"] for p in claims[1]["plugins"]]


def test_batch_fetch_refuses_an_item_asking_for_private_params(bb, claim):
    response = bb.post(
        "/api/v1/claims/fetch",
        {"claimsToFetch": [{"claimId": claim.claim_id, "fetchPrivateParams": True}]},
    )
    unknown = bb.post(
        "/api/v1/claims/fetch",
        {"claimsToFetch": [{"claimId": "d" * 32, "fetchPrivateParams": True}]},
    )

    assert response.status_code == 500
    assert response.json() == {"errorMessage": "You must be authenticated to fetch private params"}
    assert unknown.status_code == 200 and unknown.json() == {"claims": []}


def test_batch_fetch_accepts_the_older_claim_ids_body_and_refuses_nonsense(bb, claim):
    older = bb.post("/api/v1/claims/fetch", {"claimIds": [claim.claim_id]})
    nonsense = bb.post("/api/v1/claims/fetch", {"claimsToFetch": "all"})
    not_an_object = bb.post("/api/v1/claims/fetch", raw="[]")

    assert [c["claimId"] for c in older.json()["claims"]] == [claim.claim_id]
    assert nonsense.status_code == not_an_object.status_code == 400
    assert set(not_an_object.json()) == {"errorMessage"}


# --- The removed success route -------------------------------------------------------


def test_the_success_route_is_gone_by_default(client, bb, claim):
    before = bb_credits.credits_remaining()
    response = bb.get(f"/api/v0/claims/success/{claim.claim_id}/{BB}")
    unknown = client.get(f"/sandbox/bitbadges/api/v0/nothing/{BB}", headers={"x-api-key": bb.key})

    assert response.status_code == 404
    assert response["Content-Type"] == unknown["Content-Type"] == "application/json"
    assert response.json() == {
        "errorMessage": f"Route not found: GET /sandbox/bitbadges/api/v0/claims/success/"
        f"{claim.claim_id}/{BB}"
    }
    assert set(response.json()) == set(unknown.json())
    assert bb_credits.credits_remaining() == before  # an unknown route spends nothing


def test_the_success_route_when_switched_on_is_read_per_request(bb, claim, settings):
    bb.complete(claim.claim_id, BB, {"pwd": {"password": "s3cret"}})
    with _later():
        bb_attempts.attempts_resolve_due()
    path = f"/api/v0/claims/success/{claim.claim_id}/{ETH}"

    settings.SANDBOX_BITBADGES_SUCCESS_ROUTE = True
    served = bb.get(path)
    never = bb.get(f"/api/v0/claims/success/{claim.claim_id}/{ETH_2}")
    unknown = bb.get(f"/api/v0/claims/success/{'c' * 32}/{ETH}")
    settings.SANDBOX_BITBADGES_SUCCESS_ROUTE = False
    gone = bb.get(path)

    assert served.status_code == 200
    assert served.json() == {"successCount": 1, "claimNumbers": [0]}
    assert never.json() == {"successCount": 0, "claimNumbers": []}
    assert unknown.status_code == 500 and unknown.json() == {"errorMessage": "No doc found"}
    assert gone.status_code == 404

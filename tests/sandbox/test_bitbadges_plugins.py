"""Each emulated plugin: what passes, and the message a failure carries (at once and later)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from tests.sandbox.bitbadges_support import BB, BB_2, ETH, ETH_2, BitBadgesTestClient

pytestmark = pytest.mark.django_db

WRAP = "One or more of the challenges were not satisfied ({name}) : {message}"


@pytest.fixture
def bb(client):
    return BitBadgesTestClient(client)


def _later(seconds=5):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def _refused(response, name, message):
    assert response.status_code == 500, response.content
    assert response.json() == {"errorMessage": WRAP.format(name=name, message=message)}


def test_num_uses(bb):
    claim = bb_claims.claim_create(max_uses=2)
    for address in (BB, BB_2):
        assert bb.complete(claim.claim_id, address).status_code == 200
    with _later():
        assert bb_attempts.attempts_resolve_due() == 2

    _refused(bb.complete(claim.claim_id, ETH), "One Time Use", "Overall max uses exceeded")
    assert bb_attempts.completions(claim.claim_id) == 2
    assert bb_attempts.complete_calls(claim.claim_id) == 3


def test_password_with_its_instance_id(bb):
    claim = bb_claims.claim_create(password="open-sesame", password_instance_id="gate")

    wrong = bb.complete(claim.claim_id, BB, {"gate": {"password": "close-sesame"}})
    absent = bb.complete(claim.claim_id, BB)
    other_instance = bb.complete(claim.claim_id, BB, {"pwd": {"password": "open-sesame"}})
    not_an_object = bb.complete(claim.claim_id, BB, {"gate": "open-sesame"})
    right = bb.complete(claim.claim_id, BB, {"gate": {"password": "open-sesame"}})

    for response in (wrong, absent, other_instance, not_an_object):
        _refused(response, "Password", "Incorrect password")
    assert right.status_code == 200


def test_static_whitelist(bb):
    claim = bb_claims.claim_create(whitelist=[ETH])  # stored as bb1

    listed_bb = bb.complete(claim.claim_id, BB)
    listed_eth = bb.complete(claim.claim_id, ETH.lower())
    unlisted = bb.complete(claim.claim_id, ETH_2)

    assert listed_bb.status_code == listed_eth.status_code == 200
    _refused(unlisted, "Whitelist", "User not in whitelist")


def test_max_uses_per_address(bb):
    claim = bb_claims.claim_create(whitelist=[BB, BB_2], max_uses_per_address=1)
    first = bb.complete(claim.claim_id, BB).json()["claimAttemptId"]
    second = bb.complete(claim.claim_id, ETH).json()["claimAttemptId"]  # queued before

    with _later():
        ok, late = bb.status(first).json(), bb.status(second).json()

    assert ok["success"] is True
    assert late["success"] is False
    assert late["error"] == "Error: " + WRAP.format(
        name="Whitelist", message="User already exceeded max uses"
    )
    _refused(bb.complete(claim.claim_id, BB), "Whitelist", "User already exceeded max uses")
    assert bb.complete(claim.claim_id, BB_2).status_code == 200  # a different address


def test_halt(bb):
    claim = bb_claims.claim_create(halted=True)
    _refused(bb.complete(claim.claim_id, BB), "Halt Status", "Claim halted")
    _refused(bb.complete(claim.claim_id, BB, simulate=True), "Halt Status", "Claim halted")


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        (-60, 60, True),
        (60, 120, False),  # not open yet
        (-120, -60, False),  # closed
        (None, 60, True),
        (-60, None, True),
        (None, -1, False),
    ],
)
def test_time_window(bb, start, end, ok):
    now = timezone.now()
    window = (
        now + timedelta(seconds=start) if start is not None else None,
        now + timedelta(seconds=end) if end is not None else None,
    )
    claim = bb_claims.claim_create(window=window)

    response = bb.complete(claim.claim_id, BB)

    if ok:
        assert response.status_code == 200
    else:
        _refused(response, "Transfer Times", "We are currently outside the approved time window.")


def test_a_window_that_closes_before_resolution_fails_the_attempt(bb):
    claim = bb_claims.claim_create(window=(None, timezone.now() + timedelta(seconds=3)))
    attempt_id = bb.complete(claim.claim_id, BB).json()["claimAttemptId"]

    with _later(10):
        status = bb.status(attempt_id).json()

    assert status["success"] is False
    assert status["error"].endswith("We are currently outside the approved time window.")


def test_custom_instructions_always_pass(bb):
    claim = bb_claims.claim_create(instructions="Connect your GitHub on our site first.")

    response = bb.complete(claim.claim_id, BB)
    plugins = bb.get(f"/api/v0/claim/{claim.claim_id}").json()["claim"]["plugins"]

    assert response.status_code == 200
    instructions = next(p for p in plugins if p["pluginId"] == "custom-instructions")
    assert instructions["publicParams"] == {
        "instructions": "Connect your GitHub on our site first."
    }


def test_specific_instance_ids_limit_the_check_but_not_num_uses(bb):
    claim = bb_claims.claim_create(max_uses=1, password="pw", whitelist=[BB_2])

    only_numuses = bb.complete(
        claim.claim_id, BB, {"_specificInstanceIds": ["numUses"]}, simulate=True
    )
    with_password = bb.complete(
        claim.claim_id, BB, {"_specificInstanceIds": ["pwd"]}, simulate=True
    )

    assert only_numuses.status_code == 200
    _refused(with_password, "Password", "Incorrect password")


def test_a_password_changed_before_resolution_fails_the_attempt(bb):
    claim = bb_claims.claim_create(password="old")
    attempt_id = bb.complete(claim.claim_id, BB, {"pwd": {"password": "old"}}).json()[
        "claimAttemptId"
    ]
    claim.password = "new"
    claim.save()

    with _later():
        status = bb.status(attempt_id).json()

    assert status == {
        "success": False,
        "error": "Error: " + WRAP.format(name="Password", message="Incorrect password"),
        "bitbadgesAddress": BB,
    }

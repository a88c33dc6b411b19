"""SANDBOX_BITBADGES_WORDING ("docs" or "idx-2024") and the sign-in plugin initiatedBy."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import demo as bb_demo
from sandbox.bitbadges.models import BitBadgesClaim
from tests.sandbox.bitbadges_support import BB, BB_2, BitBadgesTestClient

pytestmark = pytest.mark.django_db

WRAP = "One or more of the challenges were not satisfied ({name}) : {message}"
SIGN_IN_DOCS = WRAP.format(
    name="Requires Proof of Address", message="Must be authenticated to claim"
)
SIGN_IN_IDX = "Authentication required with the Complete Claims scope"


@pytest.fixture
def bb(client):
    return BitBadgesTestClient(client)


def _later(seconds=5):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def _message(response):
    assert response.status_code == 500, response.content
    return response.json()["errorMessage"]


@pytest.mark.parametrize(
    ("wording", "expected"),
    [
        (None, "User not in whitelist"),
        ("docs", "User not in whitelist"),
        ("idx-2024", "User not in list of whitelisted users."),
        ("something-else", "User not in whitelist"),  # unknown: the default
    ],
)
def test_whitelist_wording(bb, settings, wording, expected):
    if wording:
        settings.SANDBOX_BITBADGES_WORDING = wording
    claim = bb_claims.claim_create(whitelist=[BB_2])
    assert _message(bb.complete(claim.claim_id, BB)) == WRAP.format(
        name="Whitelist", message=expected
    )


@pytest.mark.parametrize(
    ("wording", "expected"),
    [
        ("docs", "We are currently outside the approved time window."),
        ("idx-2024", "Invalid transfer time"),
    ],
)
def test_time_window_wording(bb, settings, wording, expected):
    settings.SANDBOX_BITBADGES_WORDING = wording
    claim = bb_claims.claim_create(window=(timezone.now() + timedelta(hours=1), None))
    assert _message(bb.complete(claim.claim_id, BB, simulate=True)) == WRAP.format(
        name="Transfer Times", message=expected
    )


def test_the_wording_is_read_on_every_request(bb, settings):
    claim = bb_claims.claim_create(whitelist=[])
    settings.SANDBOX_BITBADGES_WORDING = "idx-2024"
    first = _message(bb.complete(claim.claim_id, BB))
    settings.SANDBOX_BITBADGES_WORDING = "docs"
    second = _message(bb.complete(claim.claim_id, BB))
    assert first.endswith("User not in list of whitelisted users.")
    assert second.endswith("User not in whitelist")


def test_the_wording_at_resolution_time(bb, settings):
    """A queued attempt that fails later stores the text of the wording then in force."""
    settings.SANDBOX_BITBADGES_WORDING = "idx-2024"
    claim = bb_claims.claim_create(window=(None, timezone.now() + timedelta(seconds=2)))
    attempt_id = bb.complete(claim.claim_id, BB).json()["claimAttemptId"]
    with _later(10):
        status = bb.status(attempt_id).json()
    assert status["error"] == "Error: " + WRAP.format(
        name="Transfer Times", message="Invalid transfer time"
    )


# --- initiatedBy ---------------------------------------------------------------------


@pytest.mark.parametrize("simulate", [False, True])
@pytest.mark.parametrize(
    ("wording", "expected"),
    [(None, SIGN_IN_DOCS), ("docs", SIGN_IN_DOCS), ("idx-2024", SIGN_IN_IDX)],
)
def test_a_sign_in_claim_is_refused_with_a_key(bb, settings, wording, expected, simulate):
    if wording:
        settings.SANDBOX_BITBADGES_WORDING = wording
    claim = bb_claims.claim_create(requires_sign_in=True, password="pw")

    response = bb.complete(claim.claim_id, BB, {"pwd": {"password": "pw"}}, simulate=simulate)

    assert _message(response) == expected
    assert bb_attempts.completions(claim.claim_id) == 0
    assert bb_attempts.complete_calls(claim.claim_id) == (0 if simulate else 1)


def test_idx_2024_checks_sign_in_before_the_plugins(bb, settings):
    """IDX-2024 claims.ts:468-475 runs before the plugin loop; the docs' plugin error comes
    in plugin order (initiatedBy right after numUses)."""
    claim = bb_claims.claim_create(requires_sign_in=True, halted=True, max_uses=0)
    settings.SANDBOX_BITBADGES_WORDING = "idx-2024"
    idx = _message(bb.complete(claim.claim_id, BB))
    settings.SANDBOX_BITBADGES_WORDING = "docs"
    docs = _message(bb.complete(claim.claim_id, BB))

    assert idx == SIGN_IN_IDX
    assert docs == WRAP.format(name="One Time Use", message="Overall max uses exceeded")
    BitBadgesClaim.objects.filter(pk=claim.pk).update(max_uses=5)
    assert _message(bb.complete(claim.claim_id, BB)) == SIGN_IN_DOCS


def test_the_version_is_checked_before_sign_in(bb, settings):
    settings.SANDBOX_BITBADGES_WORDING = "idx-2024"
    claim = bb_claims.claim_create(requires_sign_in=True, version=2)
    assert _message(bb.complete(claim.claim_id, BB, version=1)) == (
        "Claim has been updated since last fetch"
    )


def test_specific_instance_ids_cannot_skip_sign_in(bb):
    claim = bb_claims.claim_create(requires_sign_in=True)
    response = bb.complete(claim.claim_id, BB, {"_specificInstanceIds": ["numUses"]}, simulate=True)
    assert _message(response) == SIGN_IN_DOCS


@pytest.mark.parametrize(
    ("wording", "expected"), [("docs", SIGN_IN_DOCS), ("idx-2024", SIGN_IN_IDX)]
)
def test_sign_in_turned_on_after_queuing_fails_the_attempt(bb, settings, wording, expected):
    settings.SANDBOX_BITBADGES_WORDING = wording
    claim = bb_claims.claim_create()
    attempt_id = bb.complete(claim.claim_id, BB).json()["claimAttemptId"]
    BitBadgesClaim.objects.filter(pk=claim.pk).update(requires_sign_in=True)

    with _later():
        status = bb.status(attempt_id).json()

    assert status["success"] is False
    assert status["error"] == "Error: " + expected


def test_the_plugin_in_the_claim_document(bb):
    claim = bb_claims.claim_create(requires_sign_in=True, password="pw")
    plugins = bb.get(f"/api/v0/claim/{claim.claim_id}").json()["claim"]["plugins"]

    assert [p["pluginId"] for p in plugins] == ["numUses", "initiatedBy", "password"]
    sign_in = plugins[1]
    assert sign_in == {
        "instanceId": "initiatedBy",
        "pluginId": "initiatedBy",
        "version": "0",
        "publicParams": {},
        "privateParams": {},
        "publicState": {},
    }
    assert bb_claims.plugin_ids(claim) == ["numUses", "initiatedBy", "pwd"]


def test_demo_claims_need_no_sign_in():
    for claim in (
        BitBadgesClaim.objects.get(claim_id=demo["claim_id"])
        for demo in bb_demo.demo_claims_ensure().values()
    ):
        assert not claim.requires_sign_in and not claim.hide_current_state

"""Claim attempt status: every pending shape, GET falling back to POST, and polling to a
deadline on an injected clock (so that no test waits)."""

import pytest
import responses
from responses import matchers

from claims import bitbadges
from claims.bitbadges import (
    AttemptStatus,
    AttemptTimeout,
    BitBadgesError,
    ClaimExhausted,
    ClaimRejected,
    InvalidResponse,
    Unauthorized,
    WrongPassword,
)
from tests.claims.bitbadges_support import (
    API,
    ATTEMPT,
    BB,
    STATUS_URL,
)

PENDING_SHAPES = [
    (500, {"errorMessage": "No doc found"}),  # IDX-2024: no status doc until resolved
    (404, {"errorMessage": "No doc found"}),
    (200, {"success": False, "error": ""}),  # the agent docs' loop condition
    (200, {"success": False, "error": None}),
    (200, {}),  # the docs poll until `success` appears
    (200, {"bitbadgesAddress": BB}),
]


@pytest.mark.parametrize(("status", "body"), PENDING_SHAPES)
def test_every_pending_shape_is_pending(client, mocked, clock, status, body):
    mocked.add(responses.GET, STATUS_URL, status=status, json=body)
    result = client.attempt_status(ATTEMPT)
    assert result.pending is True
    assert result.success is False
    assert result.error == ""
    assert result.attempt_id == ATTEMPT
    assert len(mocked.calls) == 1  # "No doc found" is an answer, not a failure to retry
    assert clock.sleeps == []


def test_a_resolved_success(client, mocked):
    mocked.add(
        responses.GET,
        STATUS_URL,
        json={"success": True, "error": "", "bitbadgesAddress": BB},
        match=[matchers.header_matcher({"x-api-key": "bb-api-key-never-shown-0123456789"})],
    )
    assert client.attempt_status(ATTEMPT) == AttemptStatus(ATTEMPT, False, True, "", BB)


def test_a_resolved_failure_is_returned_with_the_error_prefix_stripped(client, mocked):
    mocked.add(
        responses.GET,
        STATUS_URL,
        json={"success": False, "error": "Error: Incorrect password", "bitbadgesAddress": BB},
    )
    result = client.attempt_status(ATTEMPT)
    assert (result.pending, result.success, result.error) == (False, False, "Incorrect password")
    assert result.address == BB


@pytest.mark.parametrize("body", [{"success": "yes"}, ["x"], {"success": 1}])
def test_a_malformed_status_is_an_invalid_response(client, mocked, body):
    mocked.add(responses.GET, STATUS_URL, json=body)
    with pytest.raises(InvalidResponse):
        client.attempt_status(ATTEMPT)


@pytest.mark.parametrize(
    ("status", "body"), [(405, {"errorMessage": "Method not allowed"}), (404, "Cannot GET")]
)
def test_get_refused_falls_back_to_post_once_and_remembers(client, mocked, status, body):
    mocked.add(responses.GET, STATUS_URL, status=status, json=body)
    mocked.add(
        responses.POST,
        STATUS_URL,
        json={"success": True, "error": ""},
        match=[matchers.json_params_matcher({})],
    )
    assert client.attempt_status(ATTEMPT).success is True
    assert client.attempt_status(ATTEMPT).success is True
    assert [call.request.method for call in mocked.calls] == ["GET", "POST", "POST"]
    # Remembered for the API URL, so a new client (one per request) skips the GET too.
    other = bitbadges.BitBadgesClient(api_url=API, api_key="k", sleep=lambda s: None)
    other.attempt_status(ATTEMPT)
    assert mocked.calls[-1].request.method == "POST"


def test_no_status_route_at_all_is_a_configuration_error(client, mocked):
    mocked.add(responses.GET, STATUS_URL, status=404, body="Cannot GET")
    mocked.add(responses.POST, STATUS_URL, status=404, body="Cannot POST")
    with pytest.raises(BitBadgesError, match="BITBADGES_API_URL") as caught:
        client.attempt_status(ATTEMPT)
    assert caught.value.transient is False


def test_status_with_a_bad_key_is_unauthorized(client, mocked):
    mocked.add(
        responses.GET, STATUS_URL, status=401, json={"errorMessage": "Unauthorized request."}
    )
    with pytest.raises(Unauthorized):
        client.attempt_status(ATTEMPT)


# --- wait_for_attempt ----------------------------------------------------------------


def test_wait_polls_with_growing_intervals_until_success(client, mocked, clock):
    mocked.add(responses.GET, STATUS_URL, status=500, json={"errorMessage": "No doc found"})
    mocked.add(responses.GET, STATUS_URL, json={"success": False, "error": ""})
    mocked.add(responses.GET, STATUS_URL, json={})
    mocked.add(
        responses.GET, STATUS_URL, json={"success": True, "error": "", "bitbadgesAddress": BB}
    )
    result = client.wait_for_attempt(ATTEMPT, interval=2.0, deadline=30.0)
    assert result.success is True and result.address == BB
    assert len(mocked.calls) == 4
    assert clock.sleeps == [2.0, 3.0, 4.5]


def test_wait_intervals_are_capped(client, mocked, clock):
    mocked.add(responses.GET, STATUS_URL, json={"success": False, "error": ""})
    with pytest.raises(AttemptTimeout):
        client.wait_for_attempt(ATTEMPT, interval=2.0, deadline=120.0)
    assert max(clock.sleeps) == bitbadges.POLL_CAP
    assert sum(clock.sleeps) == pytest.approx(120.0)


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ("Error: Incorrect password", WrongPassword),
        (
            "Error: One or more of the challenges were not satisfied (Number of Uses) : "
            "Error: Overall max uses exceeded",
            ClaimExhausted,
        ),
        ("Error: Something unheard of", ClaimRejected),
    ],
)
def test_wait_raises_the_classified_rejection(client, mocked, error, cls):
    mocked.add(responses.GET, STATUS_URL, json={"success": False, "error": ""})
    mocked.add(responses.GET, STATUS_URL, json={"success": False, "error": error})
    with pytest.raises(cls) as caught:
        client.wait_for_attempt(ATTEMPT)
    assert type(caught.value) is cls
    assert not caught.value.message.startswith("Error:")
    assert caught.value.transient is False


def test_wait_times_out_at_the_deadline(client, mocked, clock):
    mocked.add(responses.GET, STATUS_URL, status=500, json={"errorMessage": "No doc found"})
    started = clock.now
    with pytest.raises(AttemptTimeout) as caught:
        client.wait_for_attempt(ATTEMPT, interval=2.0, deadline=10.0)
    assert clock.now - started == pytest.approx(10.0)  # never sleeps past the deadline
    assert caught.value.attempt_id == ATTEMPT
    assert caught.value.transient is True
    assert caught.value.outcome_unknown is True
    assert "still pending after 10 s" in str(caught.value)
    assert len(mocked.calls) == 5  # at 0, 2, 5, 9.5 and 10 s


def test_wait_tolerates_transient_errors_until_the_deadline(client, mocked, clock):
    mocked.add(responses.GET, STATUS_URL, status=503, json={"errorMessage": "down"})
    mocked.add(responses.GET, STATUS_URL, status=503, json={"errorMessage": "down"})
    mocked.add(responses.GET, STATUS_URL, status=503, json={"errorMessage": "down"})
    mocked.add(responses.GET, STATUS_URL, status=503, json={"errorMessage": "down"})
    mocked.add(responses.GET, STATUS_URL, json={"success": True, "error": ""})
    assert client.wait_for_attempt(ATTEMPT, deadline=60.0).success is True


def test_wait_that_only_saw_errors_says_so_at_the_deadline(client, mocked):
    mocked.add(responses.GET, STATUS_URL, status=503, json={"errorMessage": "down for upgrade"})
    with pytest.raises(AttemptTimeout, match="down for upgrade"):
        client.wait_for_attempt(ATTEMPT, deadline=5.0)


def test_wait_stops_at_a_permanent_error(client, mocked):
    mocked.add(
        responses.GET, STATUS_URL, status=401, json={"errorMessage": "Unauthorized request."}
    )
    with pytest.raises(Unauthorized):
        client.wait_for_attempt(ATTEMPT)
    assert len(mocked.calls) == 1


def test_wait_on_the_simulate_placeholder_succeeds_at_once(client, mocked, clock):
    placeholder = "0" * 64
    mocked.add(
        responses.GET,
        f"{API}/api/v0/claims/status/{placeholder}",
        json={"success": True, "error": ""},
    )
    assert client.wait_for_attempt(placeholder).success is True
    assert clock.sleeps == []

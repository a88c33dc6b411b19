"""Retries: only where they are safe, with backoff, honouring Retry-After; `complete` never
once its request may have reached BitBadges."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
import time_machine
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from claims.bitbadges import (
    MAX_RETRY_AFTER,
    ClaimExhausted,
    InvalidResponse,
    RateLimited,
    Unavailable,
)
from tests.claims.bitbadges_support import (
    API,
    ATTEMPT,
    ATTEMPTS_URL,
    CLAIM,
    CLAIM_URL,
    COMPLETE_URL,
    ETH,
    SIMULATE_URL,
    STATUS_URL,
    STORE_ACTION_URL,
    STORE_SECRET,
    STORE_VALUE_URL,
    claim_body,
    make_client,
)

THROTTLED = {"errorMessage": "Exceeded rate limit. Too many requests."}
DOWN = {"errorMessage": "Internal server error"}


def refused_connection() -> requests.ConnectionError:
    """What requests raises when the server refused the connection (nothing sent)."""
    reason = NewConnectionError(None, "Connection refused")
    return requests.ConnectionError(MaxRetryError(None, "/api", reason=reason))


def dropped_connection() -> requests.ConnectionError:
    """What requests raises when the connection died after the request went out."""
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    )


# The idempotent calls, each with a URL and a 200 answer.
IDEMPOTENT = [
    (
        "simulate",
        responses.POST,
        SIMULATE_URL,
        {"claimAttemptId": "0" * 64},
        lambda c: c.simulate(CLAIM, ETH),
    ),
    (
        "status",
        responses.GET,
        STATUS_URL,
        {"success": True, "error": ""},
        lambda c: c.attempt_status(ATTEMPT),
    ),
    (
        "success",
        responses.GET,
        ATTEMPTS_URL,
        {"docs": [], "total": 0},
        lambda c: c.success_count(CLAIM, ETH),
    ),
    ("get_claim", responses.GET, CLAIM_URL, claim_body(), lambda c: c.get_claim(CLAIM)),
    (
        "store_contains",
        responses.GET,
        STORE_VALUE_URL,
        {"inStore": True},
        lambda c: c.store_contains("store123", STORE_SECRET, ETH),
    ),
    (
        "store_add",
        responses.POST,
        STORE_ACTION_URL,
        {},
        lambda c: c.store_add("store123", STORE_SECRET, ETH),
    ),
    (
        "store_remove",
        responses.POST,
        STORE_ACTION_URL,
        {},
        lambda c: c.store_remove("store123", STORE_SECRET, ETH),
    ),
]
IDS = [case[0] for case in IDEMPOTENT]


# --- Idempotent calls ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "method", "url", "ok", "call"), IDEMPOTENT, ids=IDS)
def test_an_idempotent_call_is_retried_after_a_500(
    client, mocked, clock, name, method, url, ok, call
):
    mocked.add(method, url, status=500, json=DOWN)
    mocked.add(method, url, status=502, body="<html>Bad gateway</html>")
    mocked.add(method, url, json=ok)
    call(client)
    assert len(mocked.calls) == 3
    assert len(clock.sleeps) == 2
    # Exponential backoff with equal jitter: attempt n waits in [c/2, c], c = 0.5 * 2**n.
    assert 0.5 <= clock.sleeps[0] <= 1.0
    assert 1.0 <= clock.sleeps[1] <= 2.0


@pytest.mark.parametrize(("name", "method", "url", "ok", "call"), IDEMPOTENT, ids=IDS)
def test_an_idempotent_call_is_retried_after_a_timeout(client, mocked, name, method, url, ok, call):
    mocked.add(method, url, body=requests.exceptions.ReadTimeout("read timed out"))
    mocked.add(method, url, body=dropped_connection())
    mocked.add(method, url, json=ok)
    call(client)
    assert len(mocked.calls) == 3


def test_retries_stop_at_max_retries(client, mocked, clock):
    mocked.add(responses.GET, ATTEMPTS_URL, status=503, json=DOWN)
    with pytest.raises(Unavailable) as caught:
        client.success_count(CLAIM, ETH)
    assert len(mocked.calls) == 4  # one call and three retries
    assert len(clock.sleeps) == 3
    assert caught.value.status == 503
    assert caught.value.outcome_unknown is False  # a read acts on nothing


def test_a_timeout_after_every_retry_is_unavailable(client, mocked):
    mocked.add(responses.POST, SIMULATE_URL, body=requests.exceptions.ReadTimeout("timed out"))
    with pytest.raises(Unavailable) as caught:
        client.simulate(CLAIM, ETH)
    assert len(mocked.calls) == 4
    assert "did not answer within 5 s" in str(caught.value)
    assert "after 4 attempts" in str(caught.value)
    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, requests.exceptions.ReadTimeout)


def test_max_retries_zero_sends_once(mocked, clock):
    client = make_client(clock, max_retries=0)
    mocked.add(responses.GET, ATTEMPTS_URL, status=503, json=DOWN)
    with pytest.raises(Unavailable):
        client.success_count(CLAIM, ETH)
    assert len(mocked.calls) == 1


def test_a_store_add_that_timed_out_may_have_been_acted_on(client, mocked):
    mocked.add(responses.POST, STORE_ACTION_URL, body=requests.exceptions.ReadTimeout("t"))
    with pytest.raises(Unavailable) as caught:
        client.store_add("store123", STORE_SECRET, ETH)
    assert len(mocked.calls) == 4  # retried: adding twice is harmless
    assert caught.value.outcome_unknown is True


def test_a_known_claim_failure_in_a_500_ends_the_retries(client, mocked, clock):
    mocked.add(responses.POST, SIMULATE_URL, status=503, json=DOWN)
    mocked.add(
        responses.POST, SIMULATE_URL, status=500, json={"errorMessage": "Overall max uses exceeded"}
    )
    with pytest.raises(ClaimExhausted):
        client.simulate(CLAIM, ETH)
    assert len(mocked.calls) == 2


# --- complete ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_complete_is_not_retried_after_an_unrecognised_5xx(client, mocked, clock, status):
    mocked.add(responses.POST, COMPLETE_URL, status=status, json=DOWN)
    mocked.add(responses.POST, COMPLETE_URL, json={"claimAttemptId": ATTEMPT})
    with pytest.raises(Unavailable) as caught:
        client.complete(CLAIM, ETH)
    assert len(mocked.calls) == 1
    assert clock.sleeps == []
    assert caught.value.outcome_unknown is True
    assert caught.value.transient is True


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ReadTimeout("read timed out"),
        dropped_connection(),
        requests.exceptions.ChunkedEncodingError("connection broken"),
    ],
    ids=["read-timeout", "dropped", "chunked"],
)
def test_complete_is_not_retried_once_the_request_may_have_left(client, mocked, failure):
    mocked.add(responses.POST, COMPLETE_URL, body=failure)
    mocked.add(responses.POST, COMPLETE_URL, json={"claimAttemptId": ATTEMPT})
    with pytest.raises(Unavailable) as caught:
        client.complete(CLAIM, ETH)
    assert len(mocked.calls) == 1
    assert caught.value.outcome_unknown is True
    assert "check before trying again" in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [refused_connection(), requests.exceptions.ConnectTimeout("connect timed out")],
    ids=["refused", "connect-timeout"],
)
def test_complete_is_retried_when_nothing_was_sent(client, mocked, failure):
    mocked.add(responses.POST, COMPLETE_URL, body=failure)
    mocked.add(responses.POST, COMPLETE_URL, json={"claimAttemptId": ATTEMPT})
    assert client.complete(CLAIM, ETH) == ATTEMPT
    assert len(mocked.calls) == 2


@pytest.mark.parametrize(
    "failure",
    [refused_connection(), requests.exceptions.ConnectTimeout("connect timed out")],
    ids=["refused", "connect-timeout"],
)
def test_complete_that_never_connected_has_a_known_outcome(client, mocked, failure):
    mocked.add(responses.POST, COMPLETE_URL, body=failure)
    with pytest.raises(Unavailable) as caught:
        client.complete(CLAIM, ETH)
    assert len(mocked.calls) == 4
    assert caught.value.outcome_unknown is False
    assert "connect" in str(caught.value) or "reach" in str(caught.value)


@pytest.mark.parametrize("answer", [{"json": {"nope": 1}}, {"body": "<html>ok</html>"}])
def test_an_unreadable_answer_to_complete_has_an_unknown_outcome(client, mocked, answer):
    mocked.add(responses.POST, COMPLETE_URL, **answer)
    with pytest.raises(InvalidResponse) as caught:
        client.complete(CLAIM, ETH)
    assert len(mocked.calls) == 1
    assert caught.value.outcome_unknown is True
    assert "check before trying again" in str(caught.value)


def test_an_unreadable_answer_to_simulate_has_a_known_outcome(client, mocked):
    mocked.add(responses.POST, SIMULATE_URL, json={"nope": 1})
    with pytest.raises(InvalidResponse) as caught:
        client.simulate(CLAIM, ETH)
    assert caught.value.outcome_unknown is False


# --- 429 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "ok", "call"),
    [
        (
            responses.POST,
            COMPLETE_URL,
            {"claimAttemptId": ATTEMPT},
            lambda c: c.complete(CLAIM, ETH),
        ),
        *[case[1:] for case in IDEMPOTENT],
    ],
)
def test_a_429_is_retried_for_every_call_after_retry_after(
    client, mocked, clock, method, url, ok, call
):
    mocked.add(method, url, status=429, json=THROTTLED, headers={"Retry-After": "2"})
    mocked.add(method, url, json=ok)
    call(client)
    assert clock.sleeps == [2.0]
    assert len(mocked.calls) == 2


def test_a_429_without_retry_after_backs_off(client, mocked, clock):
    mocked.add(responses.GET, ATTEMPTS_URL, status=429, json=THROTTLED)
    mocked.add(responses.GET, ATTEMPTS_URL, json={"docs": [], "total": "0"})
    assert client.success_count(CLAIM, ETH) == 0
    assert len(clock.sleeps) == 1 and 0.5 <= clock.sleeps[0] <= 1.0


def test_retry_after_as_an_http_date(client, mocked, clock):
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    when = format_datetime(now + timedelta(seconds=7), usegmt=True)
    mocked.add(
        responses.GET, ATTEMPTS_URL, status=429, json=THROTTLED, headers={"Retry-After": when}
    )
    mocked.add(responses.GET, ATTEMPTS_URL, json={"docs": [], "total": 1})
    with time_machine.travel(now, tick=False):
        assert client.success_count(CLAIM, ETH) == 1
    assert clock.sleeps == [7.0]


@pytest.mark.parametrize("retry_after", [str(int(MAX_RETRY_AFTER) + 1), "3600"])
def test_a_long_retry_after_raises_at_once(client, mocked, clock, retry_after):
    mocked.add(
        responses.POST,
        COMPLETE_URL,
        status=429,
        json=THROTTLED,
        headers={"Retry-After": retry_after},
    )
    with pytest.raises(RateLimited) as caught:
        client.complete(CLAIM, ETH)
    assert len(mocked.calls) == 1
    assert clock.sleeps == []
    assert caught.value.retry_after == float(retry_after)
    assert caught.value.transient is True
    assert f"Try again in {retry_after} s" in str(caught.value)


def test_a_429_after_every_retry_is_rate_limited(client, mocked, clock):
    mocked.add(responses.GET, CLAIM_URL, status=429, json=THROTTLED, headers={"Retry-After": "1"})
    with pytest.raises(RateLimited) as caught:
        client.get_claim(CLAIM)
    assert len(mocked.calls) == 4
    assert clock.sleeps == [1.0, 1.0, 1.0]
    assert caught.value.retry_after == 1.0
    assert caught.value.message == THROTTLED["errorMessage"]


def test_the_request_goes_to_the_configured_host_only(client, mocked):
    mocked.add(responses.GET, CLAIM_URL, status=302, headers={"Location": "https://evil.test/"})
    with pytest.raises(InvalidResponse):
        client.get_claim(CLAIM)
    assert [call.request.url for call in mocked.calls] == [CLAIM_URL]
    assert API in CLAIM_URL

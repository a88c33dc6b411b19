"""Retries: only where they are safe, with backoff, honouring Retry-After; and bad bodies."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
import time_machine
from urllib3.exceptions import MaxRetryError, NewConnectionError

from connections import pipedream
from connections.pipedream import InvalidResponse, PipedreamClient, RateLimited, Unavailable
from tests.connections.pipedream_support import (
    ACCOUNTS_URL,
    APPS_URL,
    OAUTH_URL,
    RUN_URL,
    TOKENS_URL,
    account_body,
    app_body,
    calls_to,
    connect_token_body,
    make_client,
    mock_api,
    oauth_body,
)

THROTTLED = {"error": "Throttled"}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps) -> PipedreamClient:
    return make_client(sleep=sleeps.append)


@pytest.fixture
def mocked():
    with mock_api() as rsps:
        yield rsps


def refused_connection() -> requests.ConnectionError:
    """What requests raises when the server refused the connection (nothing sent)."""
    reason = NewConnectionError(None, "Connection refused")
    return requests.ConnectionError(MaxRetryError(None, "/v1", reason=reason))


# --- 429 -----------------------------------------------------------------------------


def test_a_429_is_retried_after_retry_after(client, mocked, sleeps):
    url = f"{ACCOUNTS_URL}/apn_abc123"
    mocked.add(responses.GET, url, status=429, json=THROTTLED, headers={"Retry-After": "2"})
    mocked.add(responses.GET, url, json=account_body())
    assert client.get_account("apn_abc123")["id"] == "apn_abc123"
    assert sleeps == [2.0]
    assert len(calls_to(mocked, url)) == 2


def test_a_429_is_retried_even_for_a_post(client, mocked, sleeps):
    # A throttled request was not processed, so sending the POST again is safe.
    mocked.add(responses.POST, TOKENS_URL, status=429, json=THROTTLED, headers={"Retry-After": "1"})
    mocked.add(responses.POST, TOKENS_URL, json=connect_token_body())
    client.create_connect_token(external_user_id="u")
    assert sleeps == [1.0]


def test_retry_after_as_an_http_date(client, mocked, sleeps):
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    when = format_datetime(now + timedelta(seconds=7), usegmt=True)
    mocked.add(responses.GET, APPS_URL, status=429, json=THROTTLED, headers={"Retry-After": when})
    mocked.add(responses.GET, APPS_URL, json={"data": [app_body()], "page_info": {}})
    with time_machine.travel(now, tick=False):
        client.list_apps()
    assert sleeps == [pytest.approx(7.0)]


def test_a_429_without_retry_after_backs_off(client, mocked, sleeps):
    mocked.add(responses.GET, APPS_URL, status=429, json=THROTTLED)
    mocked.add(responses.GET, APPS_URL, json={"data": [], "page_info": {}})
    client.list_apps()
    assert len(sleeps) == 1
    assert 0.5 <= sleeps[0] <= 1.0


def test_a_persistent_429_is_rate_limited(client, mocked, sleeps):
    mocked.add(responses.GET, APPS_URL, status=429, json=THROTTLED, headers={"Retry-After": "3"})
    with pytest.raises(RateLimited) as caught:
        client.list_apps()
    assert caught.value.retry_after == 3.0
    assert caught.value.status == 429
    assert caught.value.message == "Throttled"
    assert sleeps == [3.0, 3.0, 3.0]
    assert len(calls_to(mocked, APPS_URL)) == 4  # max_retries=3
    assert str(caught.value) == (
        "Pipedream is rate limiting this project (429 Too Many Requests) while trying to "
        "list apps: Throttled. Try again in 3 s"
    )


def test_a_long_retry_after_is_not_slept_through(client, mocked, sleeps):
    mocked.add(responses.GET, APPS_URL, status=429, json=THROTTLED, headers={"Retry-After": "300"})
    with pytest.raises(RateLimited) as caught:
        client.list_apps()
    assert caught.value.retry_after == 300.0
    assert sleeps == []
    assert len(calls_to(mocked, APPS_URL)) == 1


# --- 5xx -----------------------------------------------------------------------------


def test_a_503_on_get_is_retried_with_exponential_backoff(client, mocked, sleeps):
    for _ in range(3):
        mocked.add(responses.GET, APPS_URL, status=503, body="upstream busy")
    mocked.add(responses.GET, APPS_URL, json={"data": [app_body()], "page_info": {}})
    assert client.list_apps() == [app_body()]
    assert len(sleeps) == 3
    # Equal jitter: attempt n sleeps between half and all of min(8, 0.5 * 2**n).
    for sleep, ceiling in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert ceiling / 2 <= sleep <= ceiling


def test_a_persistent_503_on_get_is_unavailable(client, mocked, sleeps):
    mocked.add(responses.GET, APPS_URL, status=503, json={"error": "maintenance"})
    with pytest.raises(Unavailable) as caught:
        client.list_apps()
    assert caught.value.status == 503
    assert caught.value.message == "maintenance"
    assert len(sleeps) == 3
    assert len(calls_to(mocked, APPS_URL)) == 4


def test_a_503_on_delete_is_retried(client, mocked, sleeps):
    url = f"{ACCOUNTS_URL}/apn_abc123"
    mocked.add(responses.DELETE, url, status=503)
    mocked.add(responses.DELETE, url, status=204)
    client.delete_account("apn_abc123")
    assert len(sleeps) == 1


def test_a_503_on_create_token_is_not_retried(client, mocked, sleeps):
    mocked.add(responses.POST, TOKENS_URL, status=503, body="Service Unavailable")
    with pytest.raises(Unavailable) as caught:
        client.create_connect_token(external_user_id="u")
    assert len(calls_to(mocked, TOKENS_URL)) == 1
    assert sleeps == []
    assert str(caught.value).startswith(
        "Pipedream is unavailable (503 Service Unavailable) while trying to create a Connect token"
    )


def test_a_500_on_run_action_is_not_retried(client, mocked, sleeps):
    mocked.add(responses.POST, RUN_URL, status=500, json={"error": "boom"})
    with pytest.raises(Unavailable):
        client.run_action(action_id="a", external_user_id="u")
    assert len(calls_to(mocked, RUN_URL)) == 1


def test_the_oauth_token_request_is_retried_on_503(client, sleeps):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, OAUTH_URL, status=503)
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body())
        assert client.access_token()
    assert len(sleeps) == 1


def test_max_retries_zero_means_one_attempt(sleeps):
    client = make_client(max_retries=0, sleep=sleeps.append)
    with mock_api() as rsps:
        rsps.add(responses.GET, APPS_URL, status=503)
        with pytest.raises(Unavailable):
            client.list_apps()
        assert len(calls_to(rsps, APPS_URL)) == 1
    assert sleeps == []


# --- Timeouts and connection errors --------------------------------------------------


def test_a_read_timeout_on_get_is_retried(client, mocked, sleeps):
    mocked.add(responses.GET, APPS_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    mocked.add(responses.GET, APPS_URL, json={"data": [], "page_info": {}})
    assert client.list_apps() == []
    assert len(sleeps) == 1


def test_a_hang_surfaces_as_unavailable(client, mocked, sleeps):
    def hang(request):
        raise requests.exceptions.ReadTimeout("read timed out")

    mocked.add_callback(responses.GET, APPS_URL, callback=hang)
    with pytest.raises(Unavailable) as caught:
        client.list_apps()
    assert len(sleeps) == 3
    assert str(caught.value) == (
        "Pipedream at api.pipedream.com did not answer within 5 s while trying to list apps: "
        "ReadTimeout (after 4 attempts)"
    )
    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, requests.exceptions.ReadTimeout)


def test_a_read_timeout_on_create_token_is_not_retried(client, mocked, sleeps):
    # The token may have been created: sending again could create a second one.
    mocked.add(responses.POST, TOKENS_URL, body=requests.exceptions.ReadTimeout("timed out"))
    with pytest.raises(Unavailable, match="did not answer within 5 s"):
        client.create_connect_token(external_user_id="u")
    assert len(calls_to(mocked, TOKENS_URL)) == 1
    assert sleeps == []


def test_a_connect_timeout_on_create_token_is_retried(client, mocked, sleeps):
    # Nothing reached Pipedream, so a POST is safe to send again.
    mocked.add(responses.POST, TOKENS_URL, body=requests.exceptions.ConnectTimeout("timed out"))
    mocked.add(responses.POST, TOKENS_URL, json=connect_token_body())
    client.create_connect_token(external_user_id="u")
    assert len(sleeps) == 1


def test_a_refused_connection_on_run_action_is_retried(client, mocked, sleeps):
    mocked.add(responses.POST, RUN_URL, body=refused_connection())
    mocked.add(responses.POST, RUN_URL, json={"exports": {}, "os": [], "ret": 1})
    assert client.run_action(action_id="a", external_user_id="u")["ret"] == 1
    assert len(sleeps) == 1


def test_a_dropped_connection_on_run_action_is_not_retried(client, mocked, sleeps):
    # "Connection aborted" may come after the action ran: do not run it twice.
    mocked.add(responses.POST, RUN_URL, body=requests.ConnectionError("Connection aborted."))
    with pytest.raises(Unavailable, match="Could not reach Pipedream at api.pipedream.com"):
        client.run_action(action_id="a", external_user_id="u")
    assert len(calls_to(mocked, RUN_URL)) == 1
    assert sleeps == []


def test_a_timed_out_workflow_post_is_not_retried(client, mocked, sleeps, settings):
    # Listed whatever PIPEDREAM_WORKFLOW_ENDPOINTS the environment gives.
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = ("en1",)
    url = "https://en1.m.pipedream.net/"
    mocked.add(responses.POST, url, body=requests.exceptions.ReadTimeout("timed out"))
    with pytest.raises(Unavailable):
        client.invoke_workflow(url, external_user_id="u", body={})
    assert len(calls_to(mocked, url)) == 1


def test_a_connection_error_in_the_oauth_request_is_unavailable(client, sleeps):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, OAUTH_URL, body=requests.ConnectionError("Connection aborted."))
        with pytest.raises(Unavailable, match="while trying to obtain an OAuth token"):
            client.access_token()
        assert len(rsps.calls) == 4  # the token request is idempotent
    assert len(sleeps) == 3


# --- Bodies that are not what we expect ----------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["<html><body>Gateway</body></html>", '{"token": "ctok_', ""],
)
def test_a_2xx_that_is_not_json_is_an_invalid_response(client, mocked, body):
    mocked.add(responses.POST, TOKENS_URL, body=body, content_type="text/html")
    with pytest.raises(InvalidResponse) as caught:
        client.create_connect_token(external_user_id="u")
    text = str(caught.value)
    assert text.startswith(
        "Pipedream's answer is not the JSON expected (200 OK) while trying to create a Connect "
        "token: expected JSON, got text/html with "
    )
    assert caught.value.status == 200


@pytest.mark.parametrize("missing", ["token", "expires_at", "connect_link_url"])
def test_a_connect_token_response_without_a_field_is_invalid(client, mocked, missing):
    body = connect_token_body()
    del body[missing]
    mocked.add(responses.POST, TOKENS_URL, json=body)
    with pytest.raises(InvalidResponse, match=f"the field\\(s\\) {missing} are missing"):
        client.create_connect_token(external_user_id="u")


def test_a_connect_token_response_with_a_bad_date_is_invalid(client, mocked):
    mocked.add(responses.POST, TOKENS_URL, json={**connect_token_body(), "expires_at": "soon"})
    with pytest.raises(InvalidResponse, match="'soon' is not an ISO-8601 date-time") as caught:
        client.create_connect_token(external_user_id="u")
    assert caught.value.body["token"] == "[redacted]"


def test_backoff_is_capped():
    for attempt in range(1, 12):
        assert pipedream.PipedreamClient._backoff(attempt) <= pipedream.BACKOFF_CAP

"""The OAuth access token: fetched once, shared through the cache, refreshed in time."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine
from django.core.cache import cache

from connections.pipedream import InvalidResponse, PipedreamClient, Unauthorized
from tests.connections.pipedream_support import (
    OAUTH_TOKEN,
    OAUTH_URL,
    SECRET,
    TOKENS_URL,
    calls_to,
    connect_token_body,
    make_client,
    mock_api,
    oauth_body,
    sent_json,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def client() -> PipedreamClient:
    return make_client()


@pytest.fixture
def mocked():
    with mock_api() as rsps:
        yield rsps


def test_oauth_request_is_json_with_the_environment_and_no_authorization(client, mocked):
    assert client.access_token() == OAUTH_TOKEN
    (call,) = calls_to(mocked, OAUTH_URL)
    assert sent_json(call) == {
        "grant_type": "client_credentials",
        "client_id": "client-id",
        "client_secret": SECRET,
    }
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.headers["x-pd-environment"] == "development"
    assert "Authorization" not in call.request.headers
    assert call.request.req_kwargs["timeout"] == (5.0, 5.0)


def test_a_hundred_connect_tokens_cost_one_oauth_request(client, mocked):
    mocked.add(responses.POST, TOKENS_URL, json=connect_token_body())
    for n in range(100):
        client.create_connect_token(external_user_id=f"user-{n}")
    assert len(calls_to(mocked, TOKENS_URL)) == 100
    assert len(calls_to(mocked, OAUTH_URL)) == 1


def test_clients_built_per_request_share_the_cached_token(mocked):
    for _ in range(5):
        assert make_client().access_token() == OAUTH_TOKEN
    assert len(calls_to(mocked, OAUTH_URL)) == 1


def test_the_cache_key_hides_the_secret_and_changes_with_it(mocked):
    client = make_client()
    client.access_token()
    assert SECRET not in client._token_key
    assert "client-id" not in client._token_key
    other = make_client(client_secret="a-rotated-secret")
    assert other._token_key != client._token_key
    other.access_token()
    assert len(calls_to(mocked, OAUTH_URL)) == 2


def test_the_token_is_refreshed_two_minutes_before_it_expires(client, mocked):
    with time_machine.travel(T0, tick=False) as traveller:
        client.access_token()
        traveller.move_to(T0 + timedelta(seconds=3600 - 121))
        client.access_token()
        assert len(calls_to(mocked, OAUTH_URL)) == 1
        traveller.move_to(T0 + timedelta(seconds=3600 - 119))
        client.access_token()
        assert len(calls_to(mocked, OAUTH_URL)) == 2


def test_a_short_lived_token_is_refreshed_at_half_its_life(client):
    with responses.RequestsMock() as rsps, time_machine.travel(T0, tick=False) as traveller:
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("short", expires_in=60))
        client.access_token()
        traveller.move_to(T0 + timedelta(seconds=29))
        client.access_token()
        assert len(rsps.calls) == 1
        traveller.move_to(T0 + timedelta(seconds=31))
        client.access_token()
        assert len(rsps.calls) == 2


def test_force_refresh_fetches_a_new_token(client):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("first"))
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("second"))
        assert client.access_token() == "first"
        assert client.access_token(force_refresh=True) == "second"
        assert client.access_token() == "second"


def test_eight_threads_at_expiry_fetch_one_token(mocked):
    mocked.remove(responses.POST, OAUTH_URL)

    def slow_token(request):
        time.sleep(0.05)  # long enough for every thread to pile up behind the fetch
        return 200, {}, '{"access_token": "t", "token_type": "Bearer", "expires_in": 3600}'

    mocked.add_callback(responses.POST, OAUTH_URL, callback=slow_token)
    mocked.add(responses.POST, TOKENS_URL, json=connect_token_body())
    clients = [make_client() for _ in range(8)]  # as if 8 requests, each with its own client
    barrier = threading.Barrier(8)
    errors = []

    def mint(each: PipedreamClient) -> None:
        barrier.wait()
        try:
            each.create_connect_token(external_user_id="u")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=mint, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert len(calls_to(mocked, OAUTH_URL)) == 1
    assert len(calls_to(mocked, TOKENS_URL)) == 8


def test_a_waiter_takes_the_token_another_process_fetched(mocked):
    # Another process holds the cache lock; when it stores the token, we use it.
    client = make_client()
    cache.add(f"{client._token_key}:lock", "1", timeout=30)
    polls = []

    def sleep(seconds):
        polls.append(seconds)
        if len(polls) == 3:
            cache.set(client._token_key, {"access_token": "theirs", "refresh_at": time.time() + 60})

    client._sleep = sleep
    assert client.access_token() == "theirs"
    assert len(polls) == 3
    assert calls_to(mocked, OAUTH_URL) == []


def test_a_waiter_takes_over_when_the_lock_holder_failed(mocked):
    client = make_client()
    lock_key = f"{client._token_key}:lock"
    cache.add(lock_key, "1", timeout=30)
    polls = []

    def sleep(seconds):
        polls.append(seconds)
        cache.delete(lock_key)  # the holder gave up without storing a token

    client._sleep = sleep
    assert client.access_token() == OAUTH_TOKEN
    assert len(polls) == 1
    assert len(calls_to(mocked, OAUTH_URL)) == 1
    assert cache.get(lock_key) is None, "the lock is released after the fetch"


def test_the_lock_is_released_when_the_fetch_fails(client):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, OAUTH_URL, status=401, json={"error": "invalid client secret"})
        with pytest.raises(Unauthorized):
            client.access_token()
    assert cache.get(f"{client._token_key}:lock") is None


def test_a_401_fetches_a_fresh_token_and_retries_once(client):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("stale"))
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("fresh"))
        rsps.add(responses.POST, TOKENS_URL, status=401, json={"error": "token revoked"})
        rsps.add(responses.POST, TOKENS_URL, json=connect_token_body())
        client.create_connect_token(external_user_id="u")
        assert len(calls_to(rsps, OAUTH_URL)) == 2
        auth = [c.request.headers["Authorization"] for c in calls_to(rsps, TOKENS_URL)]
    assert auth == ["Bearer stale", "Bearer fresh"]
    assert client.access_token() == "fresh"


def test_a_second_401_is_unauthorized(client):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("one"))
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("two"))
        rsps.add(responses.POST, TOKENS_URL, status=401, json={"error": "unauthorized"})
        with pytest.raises(Unauthorized) as caught:
            client.create_connect_token(external_user_id="u")
        assert len(calls_to(rsps, OAUTH_URL)) == 2
        assert len(calls_to(rsps, TOKENS_URL)) == 2
    assert caught.value.status == 401
    assert "one" not in str(caught.value) and "two" not in str(caught.value)


def test_a_401_does_not_drop_a_token_another_caller_just_refreshed(client):
    # Caller A was refused token "old" while caller B had already stored "new".
    cache.set(client._token_key, {"access_token": "new", "refresh_at": time.time() + 60})
    client._forget_token("old")
    assert client.access_token() == "new"


def test_refused_credentials_say_which_settings_to_check(client):
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            OAUTH_URL,
            status=401,
            json={"error": "invalid_client", "error_description": "invalid client secret"},
        )
        with pytest.raises(Unauthorized) as caught:
            client.access_token()
        assert len(rsps.calls) == 1, "bad credentials are not retried"
    assert str(caught.value) == (
        "Pipedream refused the credentials (401 Unauthorized) while trying to obtain an "
        "OAuth token: invalid client secret. Check PIPEDREAM_CLIENT_ID and "
        "PIPEDREAM_CLIENT_SECRET"
    )
    assert caught.value.code == "invalid_client"
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"token_type": "Bearer", "expires_in": 3600}, "access_token is missing"),
        ({"access_token": "x", "token_type": "Bearer"}, "expires_in is missing"),
        ({"access_token": "x", "expires_in": "soon"}, "expires_in is missing or not a number"),
        (["not", "an", "object"], "access_token is missing"),
    ],
)
def test_a_token_response_without_its_fields_is_invalid(client, body, match):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, OAUTH_URL, json=body)
        with pytest.raises(InvalidResponse, match=match) as caught:
            client.access_token()
    if isinstance(body, dict) and "access_token" in body:
        assert caught.value.body["access_token"] == "[redacted]"


def test_a_token_response_that_is_not_json_does_not_quote_the_body(client):
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            OAUTH_URL,
            body="access_token=secret-looking&expires_in=3600",
            content_type="application/x-www-form-urlencoded",
        )
        with pytest.raises(InvalidResponse) as caught:
            client.access_token()
    assert "secret-looking" not in str(caught.value)
    assert caught.value.body is None
    assert "application/x-www-form-urlencoded" in str(caught.value)

"""Who may call the read API: a bearer key with the operation's scope, within its limit.

401 (with WWW-Authenticate: Bearer) without a key, with a malformed header or a key that
is not ours; 403 for a revoked or expired key or a missing scope; 429 with Retry-After
past the key's limit, and for an address that sent too many bad keys (then even a right
key gets 429, so the limit cannot be used to test guesses). A logged-in session is never
a key. Every answer is checked against the OpenAPI description.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.models import ApiKey, Scope
from tests.api.api_support import ApiClient, make_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/members/completions"


@pytest.fixture
def params(alice):
    return {"host_id": "host-alice-0001"}


def test_a_valid_key_reads_a_members_completions(api, params):
    response = api.get(URL, params)
    assert response.status_code == 200
    assert response.json()["member"]["host_id"] == "host-alice-0001"


def test_without_a_key_401_says_bearer_and_what_to_do(api, params):
    response = api.get(URL, params, key="")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"] == "missing_key"
    assert "Authorization: Bearer" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token cck_0123456789_" + "a" * 43,
        "Bearer cck_0123456789_" + "a" * 43,  # our shape, no such key
        "Bearer cck_0123456789_" + "a" * 42 + "\u00e9",
        "Bearer " + "x" * 10_000,
        "Bearer cck_\x00",
    ],
)
def test_a_malformed_or_unknown_key_is_401_invalid_token(api, params, header):
    response = api.get(URL, params, key="", headers={"authorization": header})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'
    assert response.json()["error"] == "invalid_key"


def test_a_key_with_one_character_changed_is_401(api, key, params):
    whole = key[0]
    wrong = whole[:-1] + ("A" if whole[-1] != "A" else "B")
    assert api.get(URL, params, key=wrong).status_code == 401
    assert api.get(URL, params, key=whole).status_code == 200


def test_the_scheme_is_case_insensitive(api, key, params):
    response = api.get(URL, params, key="", headers={"authorization": f"bearer {key[0]}"})
    assert response.status_code == 200


def test_a_revoked_key_is_403(api, key, params):
    ApiKey.objects.filter(pk=key[1].pk).update(revoked_at=timezone.now())
    response = api.get(URL, params)
    assert response.status_code == 403
    assert response.json()["error"] == "revoked_key"
    assert "revoked" in response.json()["detail"]


def test_an_expired_key_is_403_and_one_expiring_later_works(client, params):
    soon = timezone.now() + datetime.timedelta(hours=1)
    later, _ = make_key(expires_at=soon)
    assert ApiClient(client, later).get(URL, params).status_code == 200
    past = timezone.now() - datetime.timedelta(seconds=1)
    gone, _ = make_key(expires_at=past)
    response = ApiClient(client, gone).get(URL, params)
    assert response.status_code == 403
    assert response.json()["error"] == "expired_key"


def test_a_key_without_the_scope_is_403_and_says_which(client, params):
    accounts_only, _ = make_key(scopes=[Scope.ACCOUNTS_READ])
    api = ApiClient(client, accounts_only)
    response = api.get(URL, params)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert "completions:read" in response.json()["detail"]
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert api.get("/api/v1/members/accounts", params).status_code == 200


def test_past_its_limit_a_key_gets_429_with_retry_after(api, settings, params, client):
    settings.API_RATE_LIMIT = (3, 60)
    for _ in range(3):
        assert api.get(URL, params).status_code == 200
    response = api.get(URL, params)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"] == "rate_limited"
    # Per key: another key is not held back.
    other, _ = make_key()
    assert ApiClient(client, other).get(URL, params).status_code == 200


def test_an_address_sending_bad_keys_is_blocked_even_with_a_right_key(api, settings, params):
    settings.API_AUTH_FAILURE_RATE_LIMIT = (3, 600)
    bad = "cck_0123456789_" + "a" * 43
    for _ in range(3):
        assert api.get(URL, params, key=bad).status_code == 401
    refused = api.get(URL, params, key=bad)
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_failed_keys"
    assert 590 <= int(refused["Retry-After"]) <= 600
    right = api.get(URL, params)  # the right key: refused the same way
    assert right.status_code == 429
    assert right.json()["error"] == "too_many_failed_keys"
    # Another address is not blocked.
    assert api.get(URL, params, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_a_missing_header_does_not_count_as_a_bad_key(api, settings, params):
    settings.API_AUTH_FAILURE_RATE_LIMIT = (2, 600)
    for _ in range(5):
        assert api.get(URL, params, key="").status_code == 401
    assert api.get(URL, params).status_code == 200


def test_a_logged_in_session_is_not_a_key(admin_client, params):
    response = ApiClient(admin_client).get(URL, params)
    assert response.status_code == 401
    assert response.json()["error"] == "missing_key"


def test_last_used_is_written_at_most_once_a_minute(api, key, params):
    assert key[1].last_used_at is None
    with CaptureQueriesContext(connection) as first:
        assert api.get(URL, params).status_code == 200
    used = ApiKey.objects.get(pk=key[1].pk).last_used_at
    assert used is not None
    with CaptureQueriesContext(connection) as second:
        for _ in range(3):
            assert api.get(URL, params).status_code == 200
    writes = [q["sql"] for q in second.captured_queries if q["sql"].startswith("UPDATE")]
    assert writes == []
    assert any(q["sql"].startswith("UPDATE") for q in first.captured_queries)
    ApiKey.objects.filter(pk=key[1].pk).update(last_used_at=used - datetime.timedelta(minutes=2))
    assert api.get(URL, params).status_code == 200
    assert ApiKey.objects.get(pk=key[1].pk).last_used_at > used


OPERATIONS = [
    ("/api/v1/members/completions", Scope.COMPLETIONS_READ, Scope.ACCOUNTS_READ),
    ("/api/v1/members/accounts", Scope.ACCOUNTS_READ, Scope.COMPLETIONS_READ),
    ("/api/v1/claims/github-starter/completions", Scope.COMPLETIONS_READ, Scope.ACCOUNTS_READ),
]


@pytest.mark.parametrize(("url", "needed", "other"), OPERATIONS)
def test_every_operation_needs_its_own_scope(client, params, claim, url, needed, other):
    lacking, _ = make_key(scopes=[other])
    refused = ApiClient(client, lacking).get(url, params)
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert f'scope="{needed}"' in refused["WWW-Authenticate"]
    holding, _ = make_key(scopes=[needed])
    assert ApiClient(client, holding).get(url, params).status_code == 200
    nothing, _ = make_key(scopes=[])
    assert ApiClient(client, nothing).get(url, params).status_code == 403


def test_a_revoked_key_that_goes_on_calling_is_held_to_the_limit(api, key, settings, params):
    settings.API_RATE_LIMIT = (2, 60)
    ApiKey.objects.filter(pk=key[1].pk).update(revoked_at=timezone.now())
    assert [api.get(URL, params).status_code for _ in range(3)] == [403, 403, 429]

"""The Connect proxy: url_64, query, upstream headers, retries, how errors read, logs,
Pipedream's 30 s limit and its 504, relative URLs for apps whose base URL depends on
the account (pipedream.com/docs/connect/api-proxy).

Every test answers through `responses`; nothing reaches the network. How the client
tells an upstream error from Pipedream refusing the call is documented on
PipedreamClient.proxy: Pipedream's ErrorResponse shape raises, anything else is the
upstream's answer and is returned.
"""

import base64
import dataclasses
import logging

import pytest
import requests
import responses
from responses import matchers

from connections.pipedream import (
    BadRequest,
    InvalidResponse,
    NotFound,
    PipedreamClient,
    ProxyResponse,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from connections.pipedream.proxy import MAX_PROXY_URL, ProxyTimeout, base_url_depends_on_account
from tests.connections.pipedream_support import (
    API,
    OAUTH_URL,
    PROJECT,
    calls_to,
    make_client,
    mock_api,
    oauth_body,
    sent_json,
)

PROXY_BASE = f"{API}/v1/connect/{PROJECT}/proxy"
USER = "user-1"
ACCOUNT = "apn_abc123"
IDS = {"external_user_id": USER, "account_id": ACCOUNT}
# 43 characters: its base64 needs `==` padding and holds a `_` (URL-safe alphabet).
REPOS = "https://api.github.com/repos/o/r?per_page=5"
REPOS_64 = "aHR0cHM6Ly9hcGkuZ2l0aHViLmNvbS9yZXBvcy9vL3I_cGVyX3BhZ2U9NQ=="
GITHUB_404 = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


def proxy_url(upstream: str) -> str:
    return f"{PROXY_BASE}/{base64.urlsafe_b64encode(upstream.encode()).decode()}"


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


# --- The request ---------------------------------------------------------------------


def test_get_encodes_the_url_with_padding_and_sends_the_ids_in_the_query(client, mocked):
    url = f"{PROXY_BASE}/{REPOS_64}"
    mocked.add(responses.GET, url, json=[{"id": 1}], match=[matchers.query_param_matcher(IDS)])
    answer = client.proxy("GET", REPOS, external_user_id=USER, account_id=ACCOUNT)
    assert answer == ProxyResponse(
        status=200, headers={"Content-Type": "application/json"}, body=[{"id": 1}]
    )
    assert answer.ok
    (call,) = calls_to(mocked, url)
    segment = call.request.path_url.split("?")[0].rsplit("/", 1)[1]
    assert segment == REPOS_64
    assert segment.endswith("==") and "+" not in segment and "/" not in segment
    assert base64.urlsafe_b64decode(segment).decode() == REPOS
    headers = call.request.headers
    assert headers["Authorization"].startswith("Bearer ")
    assert headers["x-pd-environment"] == "development"
    assert call.request.body is None


def test_params_go_into_the_upstream_url_not_pipedreams_query(client, mocked):
    upstream = "https://api.github.com/search/issues?q=is%3Aopen&page=2&draft=false"
    url = proxy_url(upstream)
    mocked.add(responses.GET, url, json={}, match=[matchers.query_param_matcher(IDS)])
    client.proxy(
        "get",
        "https://api.github.com/search/issues?q=is%3Aopen",
        external_user_id=USER,
        account_id=ACCOUNT,
        params={"page": 2, "draft": False, "skipped": None},
    )
    assert len(calls_to(mocked, url)) == 1


def test_params_alone_make_the_query_string_and_the_fragment_is_dropped(client, mocked):
    url = proxy_url("https://api.example.com/items?tag=a%20b&tag=c")
    mocked.add(responses.GET, url, json={})
    client.proxy(
        "GET",
        "https://api.example.com/items#top",
        external_user_id=USER,
        account_id=ACCOUNT,
        params={"tag": ["a b", "c"]},
    )
    assert len(calls_to(mocked, url)) == 1


def test_upstream_headers_are_prefixed(client, mocked):
    url = proxy_url("https://api.notion.com/v1/users/me")
    mocked.add(responses.GET, url, json={})
    client.proxy(
        "GET",
        "https://api.notion.com/v1/users/me",
        external_user_id=USER,
        account_id=ACCOUNT,
        headers={"Notion-Version": "2022-06-28", "Accept": "application/json"},
    )
    (call,) = calls_to(mocked, url)
    headers = call.request.headers
    assert headers["x-pd-proxy-Notion-Version"] == "2022-06-28"
    assert headers["x-pd-proxy-Accept"] == "application/json"
    assert "Notion-Version" not in headers
    assert headers["Accept"] == "application/json"  # ours, to Pipedream


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_json_body_is_forwarded(client, mocked, method):
    upstream = "https://api.github.com/repos/o/r/issues"
    mocked.add(method, proxy_url(upstream), status=201, json={"number": 7})
    answer = client.proxy(
        method, upstream, external_user_id=USER, account_id=ACCOUNT, json_body={"title": "Hi"}
    )
    assert (answer.status, answer.body) == (201, {"number": 7})
    (call,) = calls_to(mocked, proxy_url(upstream))
    assert sent_json(call) == {"title": "Hi"}
    assert call.request.headers["Content-Type"] == "application/json"


def test_delete_with_an_empty_answer(client, mocked):
    upstream = "https://api.github.com/repos/o/r/issues/7/lock"
    mocked.add(responses.DELETE, proxy_url(upstream), status=204)
    answer = client.proxy("DELETE", upstream, external_user_id=USER, account_id=ACCOUNT)
    assert (answer.status, answer.body) == (204, None)


def test_a_text_answer_is_returned_as_text(client, mocked):
    upstream = "https://api.example.com/readme"
    mocked.add(responses.GET, proxy_url(upstream), body="# Hello", content_type="text/markdown")
    answer = client.proxy("GET", upstream, external_user_id=USER, account_id=ACCOUNT)
    assert answer.body == "# Hello"
    assert answer.headers["Content-Type"] == "text/markdown"


def test_a_problem_json_answer_is_parsed(client, mocked):
    upstream = "https://api.example.com/thing"
    mocked.add(
        responses.GET,
        proxy_url(upstream),
        body='{"title": "gone"}',
        content_type="application/problem+json",
        status=410,
    )
    answer = client.proxy("GET", upstream, external_user_id=USER, account_id=ACCOUNT)
    assert (answer.status, answer.body, answer.ok) == (410, {"title": "gone"}, False)


def test_proxy_response_is_frozen():
    answer = ProxyResponse(status=200, headers={}, body=None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.status = 500


# --- Refused before anything is sent -----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/a",
        "javascript:alert(1)",
        "/relative/path",
        "relative/path",
        "//evil.example.com/x",
        "http://example.com/x",
        "http://localhost.evil.example.com/x",
        "http://127.0.0.1.nip.io/x",
        "https://user:pass@api.example.com/x",
        "http://127.0.0.1@evil.example.com/x",
        "https:///no-host",
        "https://api.example.com:notaport/x",
        "https://api.example.com/a b",
        "https://api.example.com/\r\nHost: evil",
        "data:text/plain,hi",
        "",
    ],
)
def test_hostile_urls_are_refused_before_any_request(client, url):
    with responses.RequestsMock() as rsps:  # any request, even for a token, fails
        with pytest.raises(ValueError):
            client.proxy("GET", url, external_user_id=USER, account_id=ACCOUNT)
        assert len(rsps.calls) == 0


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "CONNECT", "GETT", ""])
def test_other_methods_are_refused(client, method):
    with responses.RequestsMock() as rsps:
        with pytest.raises(ValueError, match="GET, POST, PUT, PATCH, DELETE"):
            client.proxy(method, REPOS, external_user_id=USER, account_id=ACCOUNT)
        assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Bad Name": "x"},
        {"x-pd-proxy-Accept": "x"},
        {"X-Thing": "a\r\nInjected: 1"},
        {"": "x"},
    ],
)
def test_bad_upstream_headers_are_refused(client, headers):
    with responses.RequestsMock() as rsps:
        with pytest.raises(ValueError):
            client.proxy("GET", REPOS, external_user_id=USER, account_id=ACCOUNT, headers=headers)
        assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "upstream", ["http://127.0.0.1:8000/sandbox/upstream/user", "http://localhost/user"]
)
def test_plain_http_is_allowed_for_the_sandbox(client, mocked, upstream):
    mocked.add(responses.GET, proxy_url(upstream), json={"login": "octocat"})
    answer = client.proxy("GET", upstream, external_user_id=USER, account_id=ACCOUNT)
    assert answer.body == {"login": "octocat"}


# --- Upstream errors are answers; Pipedream's refusals raise --------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, GITHUB_404),
        (401, {"message": "Bad credentials"}),
        (422, {"message": "Validation Failed", "errors": [{"code": "missing"}]}),
        (403, {"error": "forbidden", "scope": "repo"}),  # extra keys: not ErrorResponse
        (400, "plain text from upstream"),
    ],
)
def test_an_upstream_error_is_returned_for_the_caller(client, mocked, status, body):
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    mocked.add(responses.GET, f"{PROXY_BASE}/{REPOS_64}", status=status, **kwargs)
    answer = client.proxy("GET", REPOS, external_user_id=USER, account_id=ACCOUNT)
    assert (answer.status, answer.body, answer.ok) == (status, body, False)


def test_pipedream_refusing_the_account_raises_bad_request(client, mocked):
    # PipedreamHQ/pipedream#18638: the account belongs to another user or environment.
    mocked.add(
        responses.GET,
        f"{PROXY_BASE}/{REPOS_64}",
        status=400,
        json={"error": {"account": ["account and user mismatch"]}},
    )
    with pytest.raises(BadRequest) as caught:
        client.proxy("GET", REPOS, external_user_id=USER, account_id=ACCOUNT)
    assert caught.value.message == "account: account and user mismatch"
    assert caught.value.operation == "proxy GET api.github.com/repos/o/r"
    assert "per_page" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "error_class"),
    [
        (400, {"error": "App record not found"}, BadRequest),
        (404, {"error": "record not found"}, NotFound),
        (404, {"error": "not found", "code": "E_NOT_FOUND", "details": {}}, NotFound),
        (500, {"error": "internal"}, Unavailable),
    ],
)
def test_pipedream_error_bodies_raise_the_error_family(client, mocked, status, body, error_class):
    mocked.add(responses.POST, f"{PROXY_BASE}/{REPOS_64}", status=status, json=body)
    with pytest.raises(error_class) as caught:
        client.proxy("POST", REPOS, external_user_id=USER, account_id=ACCOUNT, json_body={})
    assert type(caught.value) is error_class
    assert caught.value.status == status


def test_a_pipedream_401_fetches_a_new_token_once_then_raises(client):
    url = f"{PROXY_BASE}/{REPOS_64}"
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("first"))
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("second"))
        rsps.add(responses.GET, url, status=401, json={"error": "invalid token"})
        with pytest.raises(Unauthorized):
            client.proxy("GET", REPOS, external_user_id=USER, account_id=ACCOUNT)
        sent = [c.request.headers["Authorization"] for c in calls_to(rsps, url)]
    assert sent == ["Bearer first", "Bearer second"]


def test_a_429_is_retried_after_retry_after(client, mocked, sleeps):
    url = f"{PROXY_BASE}/{REPOS_64}"
    mocked.add(
        responses.POST, url, status=429, json={"error": "Throttled"}, headers={"Retry-After": "2"}
    )
    mocked.add(responses.POST, url, status=201, json={"ok": True})
    answer = client.proxy("POST", REPOS, external_user_id=USER, account_id=ACCOUNT, json_body={})
    assert answer.status == 201
    assert sleeps == [2.0]


def test_a_429_with_a_long_retry_after_raises_rate_limited(client, mocked, sleeps):
    mocked.add(
        responses.GET,
        f"{PROXY_BASE}/{REPOS_64}",
        status=429,
        json={"error": "Throttled"},
        headers={"Retry-After": "300"},
    )
    with pytest.raises(RateLimited) as caught:
        client.proxy("GET", REPOS, external_user_id=USER, account_id=ACCOUNT)
    assert caught.value.retry_after == 300.0
    assert sleeps == []


# --- Retries: none once the call may have reached the upstream ------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_no_method_is_retried_after_an_upstream_5xx(client, mocked, sleeps, method):
    # Each try counts against the project's proxy rate limit; the caller decides.
    url = f"{PROXY_BASE}/{REPOS_64}"
    mocked.add(method, url, status=503, body="busy")
    mocked.add(method, url, json={"ok": True})
    answer = client.proxy(method, REPOS, external_user_id=USER, account_id=ACCOUNT)
    assert answer.status == 503
    assert len(calls_to(mocked, url)) == 1
    assert sleeps == []


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_a_read_timeout_is_a_proxy_timeout_never_sent_again(client, mocked, sleeps, method):
    url = f"{PROXY_BASE}/{REPOS_64}"
    mocked.add(method, url, body=requests.ReadTimeout("slow"))
    mocked.add(method, url, json={"ok": True})
    with pytest.raises(ProxyTimeout, match="not sent again") as caught:
        client.proxy(method, REPOS, external_user_id=USER, account_id=ACCOUNT)
    assert len(calls_to(mocked, url)) == 1
    assert sleeps == []
    assert "Pipedream allows 30 s" in str(caught.value)
    assert caught.value.outcome_unknown is (method in ("POST", "PATCH"))
    assert isinstance(caught.value, Unavailable)  # the engine checks again later


@pytest.mark.parametrize(
    "body",
    [
        {"json": {"error": "Gateway Timeout"}},  # Pipedream's shape
        {"body": "<html><body>504 Gateway Time-out</body></html>"},
        {"body": ""},
    ],
)
def test_a_504_is_pipedreams_30_s_limit_whatever_its_body_and_never_retried(
    client, mocked, sleeps, body
):
    url = f"{PROXY_BASE}/{REPOS_64}"
    mocked.add(responses.GET, url, status=504, **body)
    mocked.add(responses.GET, url, json={"ok": True})
    with pytest.raises(ProxyTimeout) as caught:
        client.proxy("GET", REPOS, external_user_id=USER, account_id=ACCOUNT)
    assert caught.value.status == 504
    assert "30 s limit (504)" in str(caught.value)
    assert "api.github.com/repos/o/r" in str(caught.value)
    assert len(calls_to(mocked, url)) == 1
    assert sleeps == []


def test_the_client_waits_past_pipedreams_30_s_for_a_proxy_answer(mocked):
    client = make_client(timeout=5.0, proxy_timeout=35.0)
    url = f"{PROXY_BASE}/{REPOS_64}"
    mocked.add(responses.GET, url, json={"ok": True})
    client.proxy("GET", REPOS, external_user_id=USER, account_id=ACCOUNT)
    (call,) = calls_to(mocked, url)
    assert call.request.req_kwargs["timeout"] == (5.0, 35.0)


def test_the_proxy_timeout_comes_from_the_settings(settings):
    settings.PIPEDREAM_PROXY_TIMEOUT = 33.0
    assert PipedreamClient.from_settings().proxy_timeout == 33.0


def test_a_call_that_never_left_is_sent_again(client, mocked, sleeps):
    url = f"{PROXY_BASE}/{REPOS_64}"
    mocked.add(responses.GET, url, body=requests.ConnectTimeout("no connection"))
    mocked.add(responses.GET, url, json={"ok": True})
    answer = client.proxy("GET", REPOS, external_user_id=USER, account_id=ACCOUNT)
    assert answer.body == {"ok": True}
    assert len(calls_to(mocked, url)) == 2


def test_json_that_does_not_parse_is_an_invalid_response_and_not_quoted(client, mocked):
    mocked.add(
        responses.GET,
        f"{PROXY_BASE}/{REPOS_64}",
        body='{"email": "alice@example.com"',
        content_type="application/json; charset=utf-8",
    )
    with pytest.raises(InvalidResponse, match="not JSON") as caught:
        client.proxy("GET", REPOS, external_user_id=USER, account_id=ACCOUNT)
    assert "alice@example.com" not in str(caught.value)
    assert caught.value.body is None


# --- Logs ----------------------------------------------------------------------------


def test_logs_keep_method_host_and_path_only(client, mocked, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="connections.pipedream")
    upstream = "https://api.github.com/search/users?q=alice%40example.com"
    mocked.add(responses.GET, proxy_url(upstream), status=503, json={"secret": "member-data"})
    client.proxy(
        "GET",
        "https://api.github.com/search/users",
        external_user_id=USER,
        account_id=ACCOUNT,
        params={"q": "alice@example.com"},
        headers={"X-Member-Token": "header-value-never-logged"},
    )
    lines = [record.getMessage() for record in caplog.records]
    where = f"api.pipedream.com/v1/connect/{PROJECT}/proxy [api.github.com/search/users]"
    assert any(line.startswith(f"Pipedream GET {where} -> 503") for line in lines), lines
    encoded = base64.urlsafe_b64encode(upstream.encode()).decode()
    for private in ("alice", "member-data", "header-value-never-logged", encoded, encoded[:20]):
        assert private not in caplog.text


# --- Relative URLs: apps whose base URL depends on the account --------------------------

# Pipedream's app API, `connect` (pipedream.com/docs/connect/api-proxy, "Understanding
# the Connect object"): GitLab's base URL comes from the account, Slack's does not.
GITLAB = {
    "proxy_enabled": True,
    "allowed_domains": ["gitlab.com"],
    "base_proxy_target_url": "https://{{custom_fields.base_api_url}}",
}
SLACK = {
    "proxy_enabled": True,
    "allowed_domains": ["slack.com"],
    "base_proxy_target_url": "https://slack.com",
}


def test_which_apps_have_a_base_url_from_the_account():
    assert base_url_depends_on_account(GITLAB)
    assert not base_url_depends_on_account(SLACK)
    assert not base_url_depends_on_account(None)
    assert not base_url_depends_on_account({"base_proxy_target_url": None})


def test_a_relative_path_is_sent_as_it_is_for_an_app_whose_base_url_is_the_accounts(client, mocked):
    url = proxy_url("/api/v4/user?per_page=5")
    mocked.add(responses.GET, url, json={"username": "alice"})
    answer = client.proxy(
        "GET",
        "/api/v4/user",
        params={"per_page": 5},
        external_user_id=USER,
        account_id=ACCOUNT,
        app_connect=GITLAB,
    )
    assert answer.body == {"username": "alice"}
    assert len(calls_to(mocked, url)) == 1


@pytest.mark.parametrize("app_connect", [None, SLACK, {}])
def test_a_relative_path_is_refused_with_a_sentence_for_any_other_app(client, app_connect):
    with responses.RequestsMock() as rsps:
        with pytest.raises(ValueError, match="only for an app whose base URL depends on the"):
            client.proxy(
                "GET",
                "/api/user",
                external_user_id=USER,
                account_id=ACCOUNT,
                app_connect=app_connect,
            )
        assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("//evil.example.com/api/v4/user", "names another host"),
        ("/api/v4/../../admin", ". or .. segments"),
        ("/api/v4/%2e%2e/admin", ". or .. segments"),
        ("/api/v4/%2E%2E/admin", ". or .. segments"),
        ("/api/./v4", ". or .. segments"),
        ("/api\\..\\admin", "backslash"),
        ("https://evil.example.com/api/v4/user", "give a path starting with /"),
        ("https://gitlab.com.evil.example.com/x", "allowed domains are gitlab.com"),
        ("https://gitlab.com/api/v4/../../x", ". or .. segments"),
        ("/" + "a" * MAX_PROXY_URL, "the limit is 4096"),
    ],
)
def test_hostile_urls_for_an_account_based_app_are_refused(client, url, says):
    with responses.RequestsMock() as rsps:
        with pytest.raises(ValueError, match=says):
            client.proxy("GET", url, external_user_id=USER, account_id=ACCOUNT, app_connect=GITLAB)
        assert len(rsps.calls) == 0


def test_huge_params_are_refused_before_any_request(client):
    with responses.RequestsMock() as rsps:
        with pytest.raises(ValueError, match="with its parameters is"):
            client.proxy(
                "GET",
                REPOS,
                params={"q": "x" * MAX_PROXY_URL},
                external_user_id=USER,
                account_id=ACCOUNT,
            )
        assert len(rsps.calls) == 0


def test_an_absolute_url_must_be_on_the_apps_allowed_domains(client, mocked):
    with pytest.raises(ValueError, match="does not call evil.example.com"):
        client.proxy(
            "GET",
            "https://evil.example.com/api/team.info",
            external_user_id=USER,
            account_id=ACCOUNT,
            app_connect=SLACK,
        )
    upstream = "https://slack.com/api/team.info"
    mocked.add(responses.GET, proxy_url(upstream), json={"ok": True})
    answer = client.proxy(
        "GET", upstream, external_user_id=USER, account_id=ACCOUNT, app_connect=SLACK
    )
    assert answer.body == {"ok": True}

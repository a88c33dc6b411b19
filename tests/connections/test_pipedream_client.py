"""The Pipedream client's endpoints: paths, headers, bodies, parsing and errors.

Every test answers through `responses`; nothing reaches the network. The payload
builders are in pipedream_support.py, shared with the other test_pipedream_* modules and
with the contract tests, which check them against Pipedream's published description.
"""

import logging
from datetime import UTC, datetime

import pytest
import requests
import responses
from django.test import override_settings
from responses import matchers

from connections import pipedream
from connections.pipedream import (
    BadRequest,
    ConnectToken,
    InvalidResponse,
    NotConfigured,
    NotFound,
    PipedreamClient,
    PipedreamError,
    RateLimited,
    Unauthorized,
    Unavailable,
    connect_link_url,
)
from connections.pipedream.actions import WorkflowNotAllowed
from tests.connections.pipedream_support import (
    ACCOUNTS_URL,
    API,
    APPS_URL,
    CTOK,
    OAUTH_TOKEN,
    PROJECT,
    RUN_URL,
    SECRET,
    TOKENS_URL,
    VALIDATE_URL,
    account_body,
    app_body,
    calls_to,
    connect_token_body,
    make_client,
    mock_api,
    oauth_body,
    page_body,
    run_action_body,
    sent_json,
    validate_body,
)

# --- Fixtures ------------------------------------------------------------------------


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


# --- Settings ------------------------------------------------------------------------


@override_settings(
    PIPEDREAM_API_URL="http://127.0.0.1:8000/sandbox/pipedream",
    PIPEDREAM_CLIENT_ID="id-from-settings",
    PIPEDREAM_CLIENT_SECRET="secret-from-settings",
    PIPEDREAM_PROJECT_ID="proj_fromsettings",
    PIPEDREAM_PROJECT_ENVIRONMENT="production",
    PIPEDREAM_TIMEOUT=2.5,
    PIPEDREAM_MAX_RETRIES=1,
)
def test_from_settings_reads_settings_at_call_time_and_keeps_the_path_prefix():
    client = PipedreamClient.from_settings()
    assert client.api_url == "http://127.0.0.1:8000/sandbox/pipedream"
    assert (client.project_id, client.environment) == ("proj_fromsettings", "production")
    assert (client.timeout, client.max_retries) == (2.5, 1)
    base = "http://127.0.0.1:8000/sandbox/pipedream"
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{base}/v1/oauth/token", json=oauth_body())
        rsps.add(
            responses.POST, f"{base}/v1/connect/proj_fromsettings/tokens", json=connect_token_body()
        )
        client.create_connect_token(external_user_id="u1")
        assert rsps.calls[1].request.headers["x-pd-environment"] == "production"


@pytest.mark.parametrize(
    "setting",
    [
        "PIPEDREAM_API_URL",
        "PIPEDREAM_CLIENT_ID",
        "PIPEDREAM_CLIENT_SECRET",
        "PIPEDREAM_PROJECT_ID",
        "PIPEDREAM_PROJECT_ENVIRONMENT",
    ],
)
def test_from_settings_names_the_missing_setting(setting):
    with override_settings(**{setting: ""}), pytest.raises(NotConfigured) as caught:
        pipedream.get_client()
    assert caught.value.message == f"{setting} is not set"
    assert str(caught.value).startswith(f"{setting} is not set")
    assert isinstance(caught.value, PipedreamError)


@override_settings(PIPEDREAM_CLIENT_ID="", PIPEDREAM_CLIENT_SECRET="")
def test_from_settings_names_every_missing_setting():
    with pytest.raises(NotConfigured, match="PIPEDREAM_CLIENT_ID, PIPEDREAM_CLIENT_SECRET are"):
        PipedreamClient.from_settings()


def test_get_client_shares_one_session():
    first, second = pipedream.get_client(), pipedream.get_client()
    assert first is not second
    assert first._session is second._session


# --- Connect tokens ------------------------------------------------------------------


def test_create_connect_token_sends_what_pipedream_expects(client, mocked):
    mocked.add(responses.POST, TOKENS_URL, json=connect_token_body())
    token = client.create_connect_token(
        external_user_id="user-1",
        allowed_origins=["https://claims.example.com"],
        success_redirect_uri="https://claims.example.com/connect/done/?ok=1",
        error_redirect_uri="https://claims.example.com/connect/done/?ok=0",
        webhook_uri="https://claims.example.com/connect/webhook/?s=abc",
        expires_in=3600,
    )
    assert token == ConnectToken(
        token=CTOK,
        expires_at=datetime(2026, 1, 1, 4, 0, tzinfo=UTC),
        connect_link_url=connect_token_body()["connect_link_url"],
    )
    assert token.expires_at.tzinfo is not None
    (call,) = calls_to(mocked, TOKENS_URL)
    headers = call.request.headers
    assert headers["Authorization"] == f"Bearer {OAUTH_TOKEN}"
    assert headers["x-pd-environment"] == "development"
    assert headers["Content-Type"] == "application/json"
    assert call.request.req_kwargs["timeout"] == (5.0, 5.0)
    assert sent_json(call) == {
        "external_user_id": "user-1",
        "project_id": PROJECT,
        "allowed_origins": ["https://claims.example.com"],
        "success_redirect_uri": "https://claims.example.com/connect/done/?ok=1",
        "error_redirect_uri": "https://claims.example.com/connect/done/?ok=0",
        "webhook_uri": "https://claims.example.com/connect/webhook/?s=abc",
        "expires_in": 3600,
    }


def test_create_connect_token_omits_options_left_unset(client, mocked):
    mocked.add(responses.POST, TOKENS_URL, json=connect_token_body())
    client.create_connect_token(external_user_id="user-1")
    (call,) = calls_to(mocked, TOKENS_URL)
    assert sent_json(call) == {"external_user_id": "user-1", "project_id": PROJECT}


def test_connect_token_as_json():
    token = ConnectToken(CTOK, datetime(2026, 1, 1, tzinfo=UTC), "https://x/?token=t")
    assert token.as_json() == {
        "token": CTOK,
        "expires_at": "2026-01-01T00:00:00+00:00",
        "connect_link_url": "https://x/?token=t",
    }


def test_a_path_prefix_in_the_api_url_is_kept(sleeps):
    base = "http://testserver/sandbox/pipedream/"
    client = make_client(api_url=base, sleep=sleeps.append)
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST, "http://testserver/sandbox/pipedream/v1/oauth/token", json=oauth_body()
        )
        rsps.add(
            responses.POST,
            f"http://testserver/sandbox/pipedream/v1/connect/{PROJECT}/tokens",
            json=connect_token_body(),
        )
        client.create_connect_token(external_user_id="user-1")


def test_validate_connect_token_sends_no_credentials(client):
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            VALIDATE_URL,
            json=validate_body(),
            match=[matchers.query_param_matcher({"app_id": "github", "account_id": "apn_abc123"})],
        )
        result = client.validate_connect_token(CTOK, app="github", account_id="apn_abc123")
        headers = rsps.calls[0].request.headers
    assert result["success"] is True
    assert result["app"]["name_slug"] == "github"
    assert "Authorization" not in headers
    assert headers["x-pd-environment"] == "development"


def test_validate_connect_token_reports_failure_without_raising(client):
    message = "The Pipedream Connect token is invalid. Please generate a new one and try again."
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, VALIDATE_URL, json=validate_body(success=False, error=message))
        result = client.validate_connect_token(CTOK, app="github")
    assert result["success"] is False
    assert result["error"] == message


def test_validate_connect_token_accepts_a_failure_sent_as_4xx(client):
    # Whether Pipedream answers a bad token with 200 or a 4xx is unconfirmed.
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, VALIDATE_URL, status=400, json=validate_body(False, "expired"))
        result = client.validate_connect_token(CTOK, app="github")
    assert result == validate_body(False, "expired")


def test_validate_connect_token_raises_on_a_plain_4xx(client):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, VALIDATE_URL, status=404, json={"error": "App not found"})
        with pytest.raises(NotFound) as caught:
            client.validate_connect_token(CTOK, app="nope")
    assert CTOK not in str(caught.value)


def test_validate_connect_token_keeps_the_token_out_of_logs(client, caplog):
    caplog.set_level(logging.DEBUG, logger="connections.pipedream")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, VALIDATE_URL, json=validate_body())
        client.validate_connect_token(CTOK, app="github")
    assert caplog.records, "each call is logged"
    assert "/v1/connect/tokens/ctok_[redacted]/validate" in caplog.text
    assert CTOK not in caplog.text


# --- Accounts and users --------------------------------------------------------------


def test_iter_accounts_follows_every_page(client, mocked):
    base = {"external_user_id": "user-1", "app": "github", "include_credentials": "true"}
    pages = [
        ({}, page_body([account_body("apn_a1"), account_body("apn_a2")], "YXBuX2Ey")),
        ({"after": "YXBuX2Ey"}, page_body([account_body("apn_a3")], "YXBuX2Ez")),
        ({"after": "YXBuX2Ez"}, page_body([account_body("apn_a4")], "")),
    ]
    for extra, body in pages:
        mocked.add(
            responses.GET,
            ACCOUNTS_URL,
            json=body,
            match=[matchers.query_param_matcher({**base, **extra})],
        )
    accounts = client.list_accounts(
        external_user_id="user-1", app="github", include_credentials=True
    )
    assert [a["id"] for a in accounts] == ["apn_a1", "apn_a2", "apn_a3", "apn_a4"]
    assert len(calls_to(mocked, ACCOUNTS_URL)) == 3
    for call in calls_to(mocked, ACCOUNTS_URL):
        assert "app_id" not in call.request.url  # Pipedream filters on `app`


def test_iter_accounts_stops_at_a_null_cursor_and_is_lazy(client, mocked):
    mocked.add(responses.GET, ACCOUNTS_URL, json=page_body([account_body("apn_a1")], None))
    iterator = client.iter_accounts(oauth_app_id="oa_abc", limit=50)
    assert calls_to(mocked, ACCOUNTS_URL) == []
    assert [a["id"] for a in iterator] == ["apn_a1"]
    (call,) = calls_to(mocked, ACCOUNTS_URL)
    assert call.request.params == {"oauth_app_id": "oa_abc", "limit": "50"}


def test_iter_accounts_refuses_a_cursor_that_comes_back(client, mocked):
    mocked.add(responses.GET, ACCOUNTS_URL, json=page_body([account_body("apn_a1")], "c1"))
    with pytest.raises(InvalidResponse, match="came back twice"):
        client.list_accounts()


def test_iter_accounts_refuses_a_body_without_data(client, mocked):
    mocked.add(responses.GET, ACCOUNTS_URL, json={"accounts": []})
    with pytest.raises(InvalidResponse, match="list `data`"):
        client.list_accounts()


def test_get_account_returns_the_bare_account(client, mocked):
    mocked.add(
        responses.GET,
        f"{ACCOUNTS_URL}/apn_abc123",
        json=account_body(),
        match=[matchers.query_param_matcher({"include_credentials": "true"})],
    )
    assert client.get_account("apn_abc123", include_credentials=True) == account_body()


def test_get_account_unwraps_the_legacy_data_wrapper(client, mocked):
    mocked.add(responses.GET, f"{ACCOUNTS_URL}/apn_abc123", json={"data": account_body()})
    assert client.get_account("apn_abc123")["id"] == "apn_abc123"


def test_get_account_without_an_id_is_an_invalid_response(client, mocked):
    mocked.add(responses.GET, f"{ACCOUNTS_URL}/apn_abc123", json={"name": "x"})
    with pytest.raises(InvalidResponse, match="id are missing"):
        client.get_account("apn_abc123")


def test_delete_account(client, mocked):
    mocked.add(responses.DELETE, f"{ACCOUNTS_URL}/apn_abc123", status=204)
    assert client.delete_account("apn_abc123") is None


def test_delete_account_that_is_gone_raises_not_found(client, mocked):
    mocked.add(
        responses.DELETE, f"{ACCOUNTS_URL}/apn_gone", status=404, json={"error": "record not found"}
    )
    with pytest.raises(NotFound) as caught:
        client.delete_account("apn_gone")
    assert caught.value.status == 404
    assert caught.value.message == "record not found"
    assert caught.value.operation == "delete account apn_gone"
    assert str(caught.value) == (
        "Pipedream found nothing there (404 Not Found) while trying to delete account "
        "apn_gone: record not found"
    )


def test_delete_external_user_quotes_the_id(client, mocked):
    url = f"{API}/v1/connect/{PROJECT}/users/a%2Fb%20c"
    mocked.add(responses.DELETE, url, status=204)
    assert client.delete_external_user("a/b c") is None
    assert len(calls_to(mocked, url)) == 1


# --- Apps ----------------------------------------------------------------------------


def test_list_apps_passes_filters(client, mocked):
    mocked.add(
        responses.GET,
        APPS_URL,
        json=page_body([app_body("github"), app_body("gitlab", "GitLab")]),
        match=[
            matchers.query_param_matcher(
                {"q": "git", "has_actions": "true", "has_triggers": "false", "sort_key": "name"}
            )
        ],
    )
    apps = client.list_apps(q="git", has_actions=True, has_triggers=False, sort_key="name")
    assert [app["name_slug"] for app in apps] == ["github", "gitlab"]


def test_get_app_unwraps_data(client, mocked):
    mocked.add(responses.GET, f"{APPS_URL}/github", json={"data": app_body()})
    assert client.get_app("github") == app_body()


# --- Actions and workflows -----------------------------------------------------------


def test_run_action(client, mocked):
    mocked.add(responses.POST, RUN_URL, json=run_action_body())
    props = {"gitlab": {"authProvisionId": "apn_abc123"}, "projectId": 42}
    result = client.run_action(
        action_id="gitlab-list-commits", external_user_id="user-1", configured_props=props
    )
    assert result == run_action_body()
    (call,) = calls_to(mocked, RUN_URL)
    assert sent_json(call) == {
        "id": "gitlab-list-commits",
        "external_user_id": "user-1",
        "configured_props": props,
    }
    assert call.request.headers["Authorization"] == f"Bearer {OAUTH_TOKEN}"


def test_run_action_fills_missing_keys(client, mocked):
    mocked.add(responses.POST, RUN_URL, json={"ret": 1})
    assert client.run_action(action_id="a", external_user_id="u") == {
        "ret": 1,
        "exports": {},
        "os": [],
        "stash_id": None,
    }


@pytest.fixture
def listed(settings):
    """The endpoints these tests call, listed whatever PIPEDREAM_WORKFLOW_ENDPOINTS the
    environment gives (a shell may list only the sandbox's)."""
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = ("en123abc", "en1")


def test_invoke_workflow_sends_the_user_and_environment(client, mocked, listed):
    url = "https://en123abc.m.pipedream.net/hook"
    mocked.add(responses.POST, url, json={"ok": True})
    assert client.invoke_workflow(url, external_user_id="user-1", body={"claim": "x"}) == {
        "ok": True
    }
    (call,) = calls_to(mocked, url)
    headers = call.request.headers
    assert headers["Authorization"] == f"Bearer {OAUTH_TOKEN}"
    assert headers["X-PD-External-User-ID"] == "user-1"
    assert headers["X-PD-Environment"] == "development"
    assert headers["Content-Type"] == "application/json"
    assert sent_json(call) == {"claim": "x"}
    assert call.request.req_kwargs["timeout"] == (5.0, 5.0)


def test_invoke_workflow_expands_an_endpoint_id_and_returns_text(client, mocked, listed):
    mocked.add(responses.GET, "https://en123abc.m.pipedream.net/", body="done")
    assert client.invoke_workflow("en123abc", external_user_id="u", method="get") == "done"


def test_invoke_workflow_error_carries_the_workflow_message(client, mocked, listed):
    text = (
        "Pipedream Connect Error: Required account for hubspot not found for external "
        "user ID abc-123 in development"
    )
    mocked.add(responses.POST, "https://en1.m.pipedream.net/", status=400, body=text)
    with pytest.raises(BadRequest) as caught:
        client.invoke_workflow("https://en1.m.pipedream.net/", external_user_id="abc-123")
    assert caught.value.message == text


def test_invoke_workflow_needs_an_absolute_url(client, mocked):
    with pytest.raises(WorkflowNotAllowed, match="not a Pipedream workflow's HTTP trigger"):
        client.invoke_workflow("/relative", external_user_id="u")
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://eo-anything.m.pipedream.net/", "eo-anything is not listed"),
        ("eo-anything", "eo-anything is not listed"),
        ("https://en123abc.m.pipedream.net:8443/", "gives a port"),
        ("https://en123abc.m.pipedream.net:443/", "gives a port"),
        ("https://u:p@en123abc.m.pipedream.net/", "a user name"),
        ("http://en123abc.m.pipedream.net/", "over https only"),
        ("https://en123abc.m.pipedream.net.evil.test/", "not a Pipedream workflow"),
        ("https://evil.test/en123abc.m.pipedream.net", "not a Pipedream workflow"),
        (f"{API}/workflows/en123abc/", "not a Pipedream workflow"),  # sandbox off
    ],
)
def test_invoke_workflow_sends_nothing_outside_the_allowed_endpoints(
    client, mocked, settings, url, why
):
    settings.SANDBOX = False
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = ["en123abc"]
    with pytest.raises(WorkflowNotAllowed) as caught:
        client.invoke_workflow(url, external_user_id="u", body={})
    assert why in str(caught.value)
    assert "listed in PIPEDREAM_WORKFLOW_ENDPOINTS: en123abc" in str(caught.value)
    assert not caught.value.transient and not caught.value.outcome_unknown
    assert isinstance(caught.value, PipedreamError)
    assert len(mocked.calls) == 0  # not even the OAuth token was asked for


def test_invoke_workflow_with_no_endpoint_listed_says_what_the_operator_must_do(
    client, mocked, settings
):
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = []
    with pytest.raises(WorkflowNotAllowed, match="needs the operator to list") as caught:
        client.invoke_workflow("https://en123abc.m.pipedream.net/", external_user_id="u")
    assert "PIPEDREAM_WORKFLOW_ENDPOINTS" in str(caught.value)
    assert len(mocked.calls) == 0


def test_invoke_workflow_calls_a_listed_endpoint_with_any_path_and_query(client, mocked, settings):
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = ["en123abc"]
    url = "https://en123abc.m.pipedream.net/claims/hook?source=site"
    mocked.add(responses.POST, url, json={"ok": True})
    assert client.invoke_workflow(url, external_user_id="u", body={}) == {"ok": True}
    assert len(calls_to(mocked, url.split("?")[0])) == 1


def test_invoke_workflow_calls_the_sandboxs_workflows_only_in_sandbox_mode(
    client, mocked, settings
):
    settings.SANDBOX = True
    settings.PIPEDREAM_API_URL = API
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = ["en-sandbox-github"]
    url = f"{API}/workflows/en-sandbox-github/"
    mocked.add(responses.POST, url, json={"ok": True})
    assert client.invoke_workflow(url, external_user_id="u", body={}) == {"ok": True}
    for refused in (
        f"{API}/workflows/en-not-listed/",
        f"{API}/workflows/en-sandbox-github/../../v1/oauth/token",
        f"{API}/v1/oauth/token",
    ):
        with pytest.raises(WorkflowNotAllowed):
            client.invoke_workflow(refused, external_user_id="u", body={})
    assert len(mocked.calls) == 2  # the token and the one allowed call


# --- Connect Link --------------------------------------------------------------------


def test_connect_link_url_appends_the_app():
    base = f"https://pipedream.com/_static/connect.html?token={CTOK}&connectLink=true"
    assert connect_link_url(base, app="github") == f"{base}&app=github"


def test_connect_link_url_encodes_and_adds_reconnect_options():
    base = f"https://pipedream.com/_static/connect.html?token={CTOK}&connectLink=true&app=old"
    url = connect_link_url(base, app="a b&c", oauth_app_id="oa_123", account_id="apn_9")
    assert url == (
        f"https://pipedream.com/_static/connect.html?token={CTOK}&connectLink=true"
        "&app=a%20b%26c&oauthAppId=oa_123&accountId=apn_9"
    )


# --- Errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequest),
        (422, BadRequest),
        (401, Unauthorized),
        (403, Unauthorized),
        (404, NotFound),
        (429, RateLimited),
        (500, Unavailable),
        (502, Unavailable),
        (409, PipedreamError),
    ],
)
def test_status_codes_map_to_the_error_family(client, mocked, status, error_class):
    mocked.add(responses.GET, f"{APPS_URL}/github", status=status, json={"error": "nope"})
    with pytest.raises(error_class) as caught:
        client.get_app("github")
    assert type(caught.value) is error_class
    assert caught.value.status == status
    assert caught.value.message == "nope"
    assert caught.value.body == {"error": "nope"}


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        ({"error": "record not found"}, "record not found", None),
        ({"error": "bad", "code": "E_BAD", "details": {}}, "bad", "E_BAD"),
        (
            {"error": {"account": ["account and user mismatch"]}},
            "account: account and user mismatch",
            None,
        ),
        (
            {"error": "invalid_request", "error_description": "external_user_id is required"},
            "external_user_id is required",
            "invalid_request",
        ),
        ({"message": "something else"}, "something else", None),
        ("plain   text\nerror", "plain text error", None),
        ("<html><body>Bad Gateway</body></html>", "(an HTML page)", None),
    ],
)
def test_error_message_comes_from_pipedream(client, mocked, body, message, code):
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    mocked.add(responses.POST, TOKENS_URL, status=400, **kwargs)
    with pytest.raises(BadRequest) as caught:
        client.create_connect_token(external_user_id="u")
    assert caught.value.message == message
    assert caught.value.code == code
    assert caught.value.operation == "create a Connect token"
    assert str(caught.value).startswith(
        "Pipedream rejected the request (400 Bad Request) while trying to create a Connect token"
    )


def test_secrets_echoed_by_pipedream_never_reach_the_message(client, mocked):
    mocked.add(
        responses.POST,
        TOKENS_URL,
        status=400,
        json={"error": f"bad {SECRET} / {OAUTH_TOKEN} / {CTOK}", "token": CTOK},
    )
    with pytest.raises(BadRequest) as caught:
        client.create_connect_token(external_user_id="u")
    for text in (str(caught.value), repr(caught.value.body)):
        assert SECRET not in text
        assert OAUTH_TOKEN not in text
        assert CTOK not in text


def test_calls_are_logged_without_secrets(client, mocked, caplog):
    caplog.set_level(logging.DEBUG, logger="connections.pipedream")
    mocked.add(responses.POST, TOKENS_URL, json=connect_token_body())
    mocked.add(
        responses.GET, f"{ACCOUNTS_URL}/apn_x", status=404, json={"error": "record not found"}
    )
    client.create_connect_token(external_user_id="u")
    with pytest.raises(NotFound):
        client.get_account("apn_x")
    lines = [record.getMessage() for record in caplog.records]
    assert any(
        line.startswith("Pipedream POST api.pipedream.com/v1/oauth/token -> 200") for line in lines
    )
    assert any(
        f"POST api.pipedream.com/v1/connect/{PROJECT}/tokens -> 200 in" in line for line in lines
    )
    assert any(
        f"GET api.pipedream.com/v1/connect/{PROJECT}/accounts/apn_x -> 404" in line
        for line in lines
    )
    for secret in (SECRET, OAUTH_TOKEN, CTOK):
        assert secret not in caplog.text


def test_request_exception_outside_timeouts_is_unavailable_and_not_retried(client, mocked, sleeps):
    mocked.add(
        responses.GET, f"{APPS_URL}/github", body=requests.exceptions.TooManyRedirects("loop")
    )
    with pytest.raises(Unavailable, match="TooManyRedirects"):
        client.get_app("github")
    assert sleeps == []

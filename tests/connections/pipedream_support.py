"""Pipedream client test helpers: settings, payload builders (faithful to the published
description: the contract tests check them) and a `responses` mock of the API.

Shared by the test_pipedream_* modules, the connections and ops tests and tests/contract."""

import json
from contextlib import contextmanager

import responses

from connections.pipedream import PipedreamClient

API = "https://api.pipedream.com"
PROJECT = "proj_test123"
SECRET = "client-secret-never-shown"
OAUTH_TOKEN = "oauth-access-token-never-shown"
CTOK = "ctok_0123456789abcdef0123456789abcdef"
OAUTH_URL = f"{API}/v1/oauth/token"
TOKENS_URL = f"{API}/v1/connect/{PROJECT}/tokens"
ACCOUNTS_URL = f"{API}/v1/connect/{PROJECT}/accounts"
APPS_URL = f"{API}/v1/connect/apps"
RUN_URL = f"{API}/v1/connect/{PROJECT}/actions/run"
VALIDATE_URL = f"{API}/v1/connect/tokens/{CTOK}/validate"


def oauth_body(token: str = OAUTH_TOKEN, expires_in: int = 3600) -> dict:
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


def connect_token_body(token: str = CTOK) -> dict:
    return {
        "token": token,
        "expires_at": "2026-01-01T04:00:00.000Z",
        "connect_link_url": f"https://pipedream.com/_static/connect.html?token={token}&connectLink=true",
    }


def app_body(slug: str = "github", name: str = "GitHub") -> dict:
    return {
        "id": f"app_{slug}",
        "name_slug": slug,
        "name": name,
        "auth_type": "oauth",
        "description": f"{name}, for tests",
        "img_src": f"https://assets.pipedream.net/s.v0/app_{slug}/logo/orig",
        "custom_fields_json": "[]",
        "categories": ["Developer Tools"],
        "featured_weight": 5000,
    }


def account_body(account_id: str = "apn_abc123", external_id: str = "user-1") -> dict:
    return {
        "id": account_id,
        "name": "octocat",
        "external_id": external_id,
        "healthy": True,
        "dead": False,
        "app": app_body(),
        "created_at": "2025-08-01T04:04:03.000Z",
        "updated_at": "2025-08-01T04:04:03.000Z",
        "authorized_scopes": [],
        "credentials": None,
        "error": None,
    }


def page_body(items: list[dict], end_cursor: str | None = None) -> dict:
    return {
        "data": items,
        "page_info": {
            "count": len(items),
            "total_count": len(items),
            "start_cursor": None,
            "end_cursor": end_cursor,
        },
    }


def validate_body(success: bool = True, error: str | None = None) -> dict:
    # A failure omits `app` rather than sending null: the description's
    # `nullable` beside `allOf` rejects null (see tests/contract).
    return {
        "success": success,
        "error": error,
        **({"app": app_body()} if success else {}),
        "oauth_app_id": None,
        "project_app_name": "Connect & Claim",
        "project_environment": "development",
        "project_id": PROJECT,
        "project_support_email": None,
        "success_redirect_uri": None,
        "error_redirect_uri": None,
    }


def run_action_body() -> dict:
    return {
        "exports": {"$summary": "Retrieved 2 commits"},
        "os": [{"k": "console.log", "ts": 1754020000000.0, "msg": "listing commits"}],
        "ret": [{"id": "c1"}, {"id": "c2"}],
        "stash_id": None,
    }


def make_client(api_url: str = API, **overrides) -> PipedreamClient:
    options = dict(
        api_url=api_url,
        client_id="client-id",
        client_secret=SECRET,
        project_id=PROJECT,
        environment="development",
        timeout=5.0,
        max_retries=3,
        sleep=lambda seconds: None,
    )
    options.update(overrides)
    return PipedreamClient(**options)


@contextmanager
def mock_api():
    """`responses` with the OAuth token endpoint answering; nothing reaches the network."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body())
        yield rsps


def calls_to(rsps, url: str) -> list:
    return [call for call in rsps.calls if call.request.url.split("?")[0] == url]


def sent_json(call) -> dict:
    return json.loads(call.request.body)

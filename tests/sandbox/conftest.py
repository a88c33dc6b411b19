"""Fixtures for the sandbox tests: an authenticated API client, tokens, accounts."""

import pytest

from sandbox.pipedream import services
from tests.sandbox.contract_support import CREDENTIALS, PROJECT_ID, PipedreamClient


@pytest.fixture(autouse=True)
def _sandbox_settings(settings):
    """No faults from a developer's environment; webhook retries without waiting."""
    settings.SANDBOX_FAULTS = {}
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0, 0)
    settings.SANDBOX_WEBHOOK_TIMEOUT = 5


@pytest.fixture
def anonymous_api(client):
    """The API without a bearer (x-pd-environment: development still sent)."""
    return PipedreamClient(client)


@pytest.fixture
def access_token(anonymous_api, db) -> str:
    response = anonymous_api.post("/v1/oauth/token", json_body=CREDENTIALS)
    assert response.status_code == 200
    return response.json()["access_token"]


@pytest.fixture
def api(client, access_token) -> PipedreamClient:
    """The API as the site's server calls it: OAuth bearer, development environment."""
    return PipedreamClient(client, token=access_token)


@pytest.fixture
def mint(api):
    """Create a Connect token through the API: mint("user-1", webhook_uri=...) -> body."""

    def mint(external_user_id: str = "user-1", *, environment="development", **fields):
        response = api.with_token(api.token, environment).post(
            "/v1/connect/{pid}/tokens", json_body={"external_user_id": external_user_id, **fields}
        )
        assert response.status_code == 200, response.content
        return response.json()

    return mint


@pytest.fixture
def make_account(db):
    """Create an account directly (no HTTP): make_account("user-1", "github", "octo-pro")."""

    def make(
        external_user_id: str = "user-1",
        app: str = "github",
        name: str = "",
        *,
        environment: str = "development",
    ):
        _, token = services.connect_token_create(
            project_id=PROJECT_ID, environment=environment, external_user_id=external_user_id
        )
        return services.account_connect(token=token, app_slug=app, name=name)

    return make

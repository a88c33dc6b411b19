"""Invoking a workflow for an external user: OAuth bearer, user header, required account."""

import pytest

from sandbox.pipedream import services
from sandbox.pipedream.catalogue import DEMO_GUILD_ID

pytestmark = pytest.mark.django_db

URL = "/workflows/en-sandbox-github/"


def _invoke(api, url=URL, *, user="user-1", environment="development", **kwargs):
    headers = {"X-PD-External-User-ID": user, "X-PD-Environment": environment}
    return api.with_token(kwargs.pop("token", api.token), None).post(
        url, json_body={"claim": "demo"}, headers=headers
    )


def test_a_user_with_the_account_gets_200(api, make_account):
    account = make_account("user-1", "github", "octo-pro")

    response = _invoke(api)

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["account"]["id"] == account.account_id
    assert body["result"]["user"]["public_repos"] >= 25
    assert body["body"] == {"claim": "demo"}


def test_without_the_account_it_says_which_is_missing(api, make_account):
    make_account("user-1", "slack")
    make_account("user-1", "github", environment="production")

    response = _invoke(api)

    assert response.status_code == 400
    assert response.json()["error"] == (
        "Pipedream Connect Error: Required account for github not found for external user ID "
        "user-1 in development"
    )


def test_a_dead_account_does_not_count(api, make_account):
    services.account_set_health(make_account("user-1", "github"), state="dead")
    assert _invoke(api).status_code == 400


def test_the_discord_workflow_reports_membership(api, make_account):
    make_account("user-1", "discord", "gamer-pro")
    response = _invoke(api, "/workflows/en-sandbox-discord")
    assert response.json()["result"]["member"] is True
    assert response.json()["result"]["guild_id"] == DEMO_GUILD_ID


def test_it_needs_a_valid_oauth_bearer(api, mint, make_account):
    make_account("user-1", "github")

    assert _invoke(api, token=None).status_code == 401
    assert _invoke(api, token="nonsense").status_code == 401
    assert _invoke(api, token=mint("user-1")["token"]).status_code == 401


def test_it_needs_the_external_user_header(api):
    response = api.post(URL, json_body={}, headers={"x-pd-environment": "development"})
    assert response.status_code == 400
    assert "X-PD-External-User-ID" in response.json()["error"]


def test_unknown_workflow_is_404(api):
    assert _invoke(api, "/workflows/en-nothing-here/").status_code == 404

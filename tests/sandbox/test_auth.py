"""OAuth client credentials, bearer checks, the project in the path and x-pd-environment."""

import datetime

import pytest
import time_machine

from sandbox.pipedream.models import OAuthAccessToken, hash_secret
from tests.sandbox.contract_support import CREDENTIALS

pytestmark = pytest.mark.django_db


def test_client_credentials_give_an_hour_long_bearer(anonymous_api):
    response = anonymous_api.post("/v1/oauth/token", json_body=CREDENTIALS)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    stored = OAuthAccessToken.objects.get()
    # Stored hashed, never in clear.
    assert stored.token_hash == hash_secret(body["access_token"])
    assert body["access_token"] not in str(OAuthAccessToken.objects.values_list())


def test_form_encoded_token_request_is_accepted(anonymous_api):
    response = anonymous_api.post("/v1/oauth/token", form=CREDENTIALS)
    assert response.status_code == 200
    assert response.json()["access_token"]


@pytest.mark.parametrize(
    "change",
    [{"client_secret": "wrong"}, {"client_id": "someone-else"}],
    ids=["wrong-secret", "wrong-client-id"],
)
def test_wrong_client_credentials_are_refused(anonymous_api, change):
    response = anonymous_api.post("/v1/oauth/token", json_body={**CREDENTIALS, **change})

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid client credentials."}
    assert not OAuthAccessToken.objects.exists()


def test_other_grant_types_and_missing_fields_are_bad_requests(anonymous_api):
    other = anonymous_api.post(
        "/v1/oauth/token", json_body={**CREDENTIALS, "grant_type": "password"}
    )
    missing = anonymous_api.post("/v1/oauth/token", json_body={"grant_type": "client_credentials"})
    not_json = anonymous_api.post("/v1/oauth/token", headers={"Content-Type": "application/json"})

    assert other.status_code == 400
    assert "client_credentials" in other.json()["error"]
    assert missing.status_code == 400
    assert not_json.status_code == 400


def test_no_bearer_or_an_unknown_one_is_401(api):
    none = api.with_token(None).get("/v1/connect/{pid}/accounts")
    unknown = api.with_token("not-a-token-we-issued").get("/v1/connect/{pid}/accounts")
    unknown_ctok = api.with_token("ctok_" + "0" * 32).get("/v1/connect/{pid}/accounts")

    assert none.status_code == unknown.status_code == unknown_ctok.status_code == 401
    assert "expired" in unknown.json()["error"]


def test_an_expired_bearer_is_401(api):
    assert api.get("/v1/connect/{pid}/accounts").status_code == 200
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=3601)
    with time_machine.travel(later, tick=False):
        response = api.get("/v1/connect/{pid}/accounts")
    assert response.status_code == 401


@pytest.mark.parametrize("environment", [None, "staging"], ids=["missing", "invalid"])
def test_x_pd_environment_is_required_and_checked(api, environment):
    response = api.with_token(api.token, environment).get("/v1/connect/{pid}/accounts")

    assert response.status_code == 400
    assert "x-pd-environment" in response.json()["error"]
    assert "development" in response.json()["error"]


def test_another_project_is_404(api):
    response = api.get("/v1/connect/proj_someoneelse/accounts")

    assert response.status_code == 404
    assert "proj_someoneelse" in response.json()["error"]


def test_projectless_routes_need_a_connect_token(api):
    response = api.get("/v1/connect/accounts")

    assert response.status_code == 400
    assert "project ID is required" in response.json()["error"]


def test_token_creation_refuses_a_connect_token_as_bearer(api, mint):
    ctok = mint("user-1")["token"]
    response = api.with_token(ctok).post(
        "/v1/connect/{pid}/tokens", json_body={"external_user_id": "user-1"}
    )
    assert response.status_code == 401


def test_unknown_api_paths_and_methods_answer_json(api):
    missing = api.get("/v1/nothing/here")
    wrong_method = api.request("PUT", "/v1/connect/{pid}/accounts")

    assert missing.status_code == 404
    assert missing.json()["error"].startswith("No route for GET")
    assert wrong_method.status_code == 405
    assert wrong_method["Allow"] == "GET, POST"


def test_preflight_allows_the_browser_client(client):
    response = client.options(
        "/sandbox/pipedream/v1/connect/accounts",
        headers={
            "Origin": "https://site.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, x-pd-environment",
        },
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://site.example"
    assert "x-pd-environment" in response["Access-Control-Allow-Headers"]

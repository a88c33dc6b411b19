"""Connect tokens: minting, expiry, one use, and the validate endpoint."""

import datetime
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from sandbox.pipedream import services
from sandbox.pipedream.models import ConnectToken, hash_secret
from tests.sandbox.contract_support import PROJECT_ID

pytestmark = pytest.mark.django_db

INVALID = "The Pipedream Connect token is invalid. Please generate a new one and try again."
APP_NOT_FOUND = "App not found. Please check your app id."


def _parse(moment: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(moment.replace("Z", "+00:00"))


def test_minting_a_token(mint):
    now = datetime.datetime.now(datetime.UTC)
    body = mint(
        "user-1",
        allowed_origins=["https://site.example", "http://localhost:8000/"],
        success_redirect_uri="https://site.example/done?ok=1",
        error_redirect_uri="https://site.example/done?ok=0",
        webhook_uri="https://site.example/hook",
        scope="connect:accounts:read",
    )

    assert re.fullmatch(r"ctok_[0-9a-f]{32}", body["token"])
    assert body["expires_at"].endswith("Z")
    assert abs((_parse(body["expires_at"]) - now).total_seconds() - 14400) < 5
    link = urlsplit(body["connect_link_url"])
    assert link.scheme == "http" and link.netloc == "testserver"
    assert link.path == "/sandbox/pipedream/_static/connect.html"
    assert parse_qs(link.query) == {"token": [body["token"]], "connectLink": ["true"]}

    token = ConnectToken.objects.get()
    assert token.token_hash == hash_secret(body["token"])
    assert token.external_user_id == "user-1"
    assert token.environment == "development"
    assert token.project_id == PROJECT_ID
    # Origins normalised to bare origins (they go into the hosted page's CSP).
    assert token.allowed_origins == ["https://site.example", "http://localhost:8000"]
    assert token.webhook_uri == "https://site.example/hook"
    assert token.scope == "connect:accounts:read"


def test_token_is_bound_to_the_environment_of_the_request(mint):
    mint("user-1", environment="production")
    assert ConnectToken.objects.get().environment == "production"


def test_a_shorter_expiry_is_honoured(mint):
    now = datetime.datetime.now(datetime.UTC)
    body = mint("user-1", expires_in=600)
    assert abs((_parse(body["expires_at"]) - now).total_seconds() - 600) < 5


def test_project_id_and_external_id_in_the_body_are_ignored(mint):
    # The published schema requires project_id in the body; the docs and SDKs do not send
    # it. Both readings work.
    body = mint("user-1", project_id="proj_other", external_id="user-1")
    assert ConnectToken.objects.get().project_id == PROJECT_ID
    assert body["token"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"external_user_id": ""}, "external_user_id is required"),
        ({"external_user_id": "x" * 251}, "at most 250"),
        ({"expires_in": 14401}, "between 1 and 14400"),
        ({"expires_in": 0}, "between 1 and 14400"),
        ({"expires_in": -5}, "between 1 and 14400"),
        ({"expires_in": "60"}, "integer"),
        ({"allowed_origins": "https://site.example"}, "array of strings"),
        ({"allowed_origins": ["https://site.example/path"]}, "is not an origin"),
        ({"allowed_origins": ["https://a.example; script-src *"]}, "is not an origin"),
        ({"success_redirect_uri": "/relative"}, "absolute http(s) URL"),
        ({"webhook_uri": "ftp://site.example/hook"}, "absolute http(s) URL"),
        ({"allow_progressive_scopes": "yes"}, "true or false"),
    ],
)
def test_bad_token_requests_are_400(api, fields, message):
    body = {"external_user_id": "user-1", **fields}
    response = api.post("/v1/connect/{pid}/tokens", json_body=body)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not ConnectToken.objects.exists()


def _validate(anonymous_api, ctok, **params):
    response = anonymous_api.with_token(None, None).get(
        f"/v1/connect/tokens/{ctok}/validate", params=params
    )
    assert response.status_code == 200
    return response.json()


def test_validate_a_good_token(anonymous_api, mint):
    ctok = mint("user-1", success_redirect_uri="https://site.example/ok")["token"]

    body = _validate(anonymous_api, ctok, app_id="github", oauth_app_id="oa_abc123")

    assert body["success"] is True
    assert body["error"] is None
    assert body["app"]["name_slug"] == "github"
    assert body["app"]["img_src"] == "http://testserver/static/sandbox/logos/github.svg"
    assert body["project_id"] == PROJECT_ID
    assert body["project_environment"] == "development"
    assert body["oauth_app_id"] == "oa_abc123"
    assert body["success_redirect_uri"] == "https://site.example/ok"
    assert body["error_redirect_uri"] is None


def test_validate_accepts_an_app_id_as_well_as_a_slug(anonymous_api, mint, client):
    ctok = mint("user-1")["token"]
    app_id = _validate(anonymous_api, ctok, app_id="slack")["app"]["id"]

    assert _validate(anonymous_api, ctok, app_id=app_id)["app"]["name_slug"] == "slack"


def test_validate_an_unknown_app(anonymous_api, mint):
    ctok = mint("user-1")["token"]
    assert _validate(anonymous_api, ctok, app_id="myspace") == {
        "success": False,
        "error": APP_NOT_FOUND,
    }


def test_validate_an_unknown_token(anonymous_api):
    body = _validate(anonymous_api, "ctok_" + "ab" * 16, app_id="github")
    assert body == {"success": False, "error": INVALID}


def test_validate_an_expired_token(anonymous_api, mint):
    ctok = mint("user-1", expires_in=60)["token"]
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        body = _validate(anonymous_api, ctok, app_id="github")
    assert body == {"success": False, "error": INVALID}


def test_validate_a_used_token(anonymous_api, mint):
    ctok = mint("user-1")["token"]
    services.account_connect(token=services.connect_token_lookup(ctok), app_slug="github")

    assert _validate(anonymous_api, ctok, app_id="github") == {"success": False, "error": INVALID}


def test_validate_a_reconnect_of_someone_elses_account(anonymous_api, mint, make_account):
    theirs = make_account("user-2", "github")
    mine = make_account("user-1", "github")
    ctok = mint("user-1")["token"]

    ok = _validate(anonymous_api, ctok, app_id="github", account_id=mine.account_id)
    not_mine = _validate(anonymous_api, ctok, app_id="github", account_id=theirs.account_id)

    assert ok["success"] is True
    assert not_mine["success"] is False
    assert "Account not found" in not_mine["error"]


def test_a_token_connects_one_account_only(mint):
    token = services.connect_token_lookup(mint("user-1")["token"])
    services.account_connect(token=token, app_slug="github")

    with pytest.raises(services.ConnectError, match="already been used"):
        services.account_connect(token=token, app_slug="github")


def test_an_expired_token_connects_nothing(mint):
    token = services.connect_token_lookup(mint("user-1", expires_in=60)["token"])
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=61)
    with (
        time_machine.travel(later, tick=False),
        pytest.raises(services.ConnectError, match="expired"),
    ):
        services.account_connect(token=token, app_slug="github")

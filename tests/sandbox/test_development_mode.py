"""Development mode as Pipedream has it: ten external users, then CONNECTION_ERROR; and the
newest account of an app is the one a workflow runs with."""

import datetime
import json
import re
from urllib.parse import urlencode

import pytest
import responses
from django.utils import timezone

from sandbox.pipedream import services, webhooks
from sandbox.pipedream.models import Account, ExternalUser
from tests.sandbox.contract_support import PROJECT_ID

pytestmark = pytest.mark.django_db

HOOK = "https://site.example/connect/webhook/?s=signed-session"
ORIGIN = "https://site.example"
LIMIT_TEXT = "You've hit your limit on the number of external users you can connect."


def page_url(ctok: str, app: str = "github", *, link=False) -> str:
    params = {"token": ctok, "app": app}
    if link:
        params["connectLink"] = "true"
    return f"/sandbox/pipedream/_static/connect.html?{urlencode(params)}"


def pd_messages(response) -> list[dict]:
    match = re.search(
        rb'<script id="pd-data" type="application/json">(.*?)</script>', response.content
    )
    assert match, "the page carries no pd-data"
    return json.loads(match.group(1))["messages"]


def delivered() -> list[dict]:
    with responses.RequestsMock() as mock:
        mock.post(re.compile(r"https://site\.example/.*"), status=200)
        webhooks.wait_for_deliveries()
        return [json.loads(call.request.body) for call in mock.calls]


def connect(client, mint, user: str, *, environment="development", link=False):
    ctok = mint(user, environment=environment, allowed_origins=[ORIGIN], webhook_uri=HOOK)
    return client.post(page_url(ctok["token"], link=link), {"action": "allow"})


def test_the_eleventh_external_user_in_development_gets_connection_error(client, mint):
    for n in range(services.DEVELOPMENT_USER_LIMIT):
        assert connect(client, mint, f"user-{n}").status_code == 200
    assert len(delivered()) == 10

    response = connect(client, mint, "user-10")

    assert pd_messages(response) == [{"type": "error", "error": LIMIT_TEXT}, {"type": "close"}]
    assert LIMIT_TEXT in response.content.decode()
    [hook] = delivered()
    assert hook["event"] == "CONNECTION_ERROR"
    assert hook["error"] == LIMIT_TEXT
    assert hook["environment"] == "development"
    assert not ExternalUser.objects.filter(external_id="user-10").exists()
    assert not Account.objects.filter(user__external_id="user-10").exists()


def test_connect_link_past_the_limit_goes_to_the_error_redirect(client, mint):
    for n in range(10):
        connect(client, mint, f"user-{n}", link=True)
    ctok = mint("user-10", webhook_uri=HOOK, error_redirect_uri=f"{ORIGIN}/done/?result=error")

    response = client.post(page_url(ctok["token"], link=True), {"action": "allow"})

    assert response.status_code == 302
    assert response["Location"] == f"{ORIGIN}/done/?result=error"
    assert [h["error"] for h in delivered() if h["event"] == "CONNECTION_ERROR"] == [LIMIT_TEXT]


def test_known_users_still_connect_and_a_deleted_one_frees_a_place(api, client, mint):
    for n in range(10):
        connect(client, mint, f"user-{n}")

    again = connect(client, mint, "user-3")  # a second account for one of the ten
    assert pd_messages(again)[0]["type"] == "success"
    assert Account.objects.filter(user__external_id="user-3").count() == 2

    deleted = api.delete("/v1/connect/{pid}/users/user-0")
    assert deleted.status_code in (200, 204)
    assert pd_messages(connect(client, mint, "user-10"))[0]["type"] == "success"


def test_production_has_no_limit(client, mint):
    for n in range(12):
        response = connect(client, mint, f"user-{n}", environment="production")
        assert pd_messages(response)[0]["type"] == "success"
    assert (
        ExternalUser.objects.filter(project_id=PROJECT_ID, environment="production").count() == 12
    )


def test_a_workflow_runs_with_the_newest_account_of_the_app(api, make_account):
    older = make_account("user-1", "github", "octo-old")
    Account.objects.filter(pk=older.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=1)
    )
    newer = make_account("user-1", "github", "octo-new")
    services.account_set_health(newer, state="unhealthy")

    response = api.with_token(api.token, None).post(
        "/workflows/en-sandbox-github/",
        json_body={},
        headers={"X-PD-External-User-ID": "user-1", "X-PD-Environment": "development"},
    )

    assert response.status_code == 200
    assert response.json()["account"]["id"] == newer.account_id

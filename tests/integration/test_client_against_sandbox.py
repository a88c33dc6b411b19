"""The real client against the sandbox over real HTTP: the two halves agree.

The client's unit tests use `responses`; the sandbox's use Django's test client. Here
neither is faked: `connections.pipedream` talks HTTP to the sandbox served by
`live_server`, the way the app talks to Pipedream in development.
"""

import io
import re

import pytest
import requests
from django.core.management import call_command

from connections import pipedream
from sandbox.pipedream.models import Account

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(live_server, settings):
    settings.PUBLIC_URL = live_server.url
    settings.PIPEDREAM_API_URL = f"{live_server.url}/sandbox/pipedream"
    settings.PIPEDREAM_CONNECT_URL = f"{live_server.url}/sandbox/pipedream"
    settings.SANDBOX_FAULTS = {}
    return live_server


def allow(link: str, name: str = "octocat") -> requests.Response:
    """Press Allow on the hosted page, as a member's browser would."""
    page = requests.get(link, timeout=10)
    assert page.status_code == 200, page.text[:500]
    return requests.post(
        link, data={"action": "allow", "name": name}, timeout=10, allow_redirects=False
    )


def test_every_operation_round_trips(sandbox):
    client = pipedream.get_client()
    user = "member-7f3a"

    token = client.create_connect_token(
        external_user_id=user, success_redirect_uri=f"{sandbox.url}/connect/done/"
    )
    assert re.fullmatch(r"ctok_[0-9a-f]{32}", token.token)
    assert token.connect_link_url.startswith(
        f"{sandbox.url}/sandbox/pipedream/_static/connect.html"
    )
    assert client.validate_connect_token(token.token, app="github")["success"] is True
    assert client.validate_connect_token(token.token, app="no-such-app")["success"] is False

    github = client.get_app("github")
    assert github["name_slug"] == "github"
    slugs = {app["name_slug"] for app in client.list_apps(limit=2)}  # several pages
    assert {"github", "slack", "google_sheets", "discord"} <= slugs

    response = allow(pipedream.connect_link_url(token.connect_link_url, app="github"))
    assert response.status_code == 302
    assert response.headers["Location"] == f"{sandbox.url}/connect/done/"
    # The token was for one account only.
    assert client.validate_connect_token(token.token, app="github")["success"] is False

    accounts = client.list_accounts(external_user_id=user)
    assert [a["app"]["name_slug"] for a in accounts] == ["github"]
    account = client.get_account(accounts[0]["id"])
    assert account["external_id"] == user
    assert account["healthy"] is True and account["name"] == "octocat"

    result = client.run_action(
        action_id="github-get-current-user",
        external_user_id=user,
        configured_props={"github": {"authProvisionId": account["id"]}},
    )
    assert isinstance(result["ret"]["user"]["public_repos"], int)

    client.delete_account(account["id"])
    with pytest.raises(pipedream.NotFound):
        client.get_account(account["id"])
    client.delete_external_user(user)
    assert client.list_accounts(external_user_id=user) == []


def test_accounts_list_follows_every_page(sandbox):
    client = pipedream.get_client()
    for n in range(7):
        token = client.create_connect_token(external_user_id="pager")
        allow(pipedream.connect_link_url(token.connect_link_url, app="slack"), name=f"team-{n}")
    assert Account.objects.filter(user__external_id="pager").count() == 7
    accounts = client.list_accounts(external_user_id="pager", limit=3)
    assert sorted(a["name"] for a in accounts) == [f"team-{n}" for n in range(7)]


def test_workflow_invocation_for_an_external_user(sandbox):
    client = pipedream.get_client()
    workflow = next(
        url
        for url in (f"{sandbox.url}/sandbox/pipedream/workflows/{eid}/" for eid in _workflow_ids())
    )
    with pytest.raises(pipedream.BadRequest) as info:
        client.invoke_workflow(workflow, external_user_id="nobody-here")
    assert "Required account" in str(info.value)


def _workflow_ids():
    from sandbox.pipedream.catalogue import WORKFLOWS

    return list(WORKFLOWS)


def test_wrong_secret_is_refused_with_401(sandbox, settings):
    settings.PIPEDREAM_CLIENT_SECRET = "not-the-secret"
    with pytest.raises(pipedream.Unauthorized) as info:
        pipedream.get_client().access_token()
    assert info.value.status == 401


def test_pipedream_check_prints_a_working_connect_link(sandbox):
    out = io.StringIO()
    call_command("pipedream_check", "--app", "github", stdout=out, no_color=True)
    output = out.getvalue()
    assert "All 5 steps passed." in output
    link = re.search(r"^  (http\S+)$", output, re.M).group(1)
    page = requests.get(link, timeout=10)
    assert page.status_code == 200
    assert "GitHub" in page.text and "Allow" in page.text


def test_pipedream_check_with_a_wrong_secret_names_the_oauth_step(sandbox, settings):
    settings.PIPEDREAM_CLIENT_SECRET = "wrong"
    out = io.StringIO()
    with pytest.raises(Exception) as info:
        call_command("pipedream_check", stdout=out, no_color=True)
    assert "(OAuth token) failed" in str(info.value)
    assert "401" in str(info.value)

"""The client's trigger and proxy calls against the sandbox over real HTTP."""

import pytest

from connections import pipedream
from sandbox.pipedream import services as pd_sandbox
from sandbox.pipedream import triggers as sandbox_triggers
from sandbox.pipedream import webhooks as sandbox_webhooks
from sandbox.pipedream.models import DeployedTrigger

pytestmark = pytest.mark.django_db(transaction=True)

USER = "member-3c1d"


@pytest.fixture
def client(live_server, settings):
    settings.PIPEDREAM_API_URL = f"{live_server.url}/sandbox/pipedream"
    settings.SANDBOX_FAULTS = {}
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0, 0)
    return pipedream.get_client()


def account(name: str) -> str:
    _, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox", environment="development", external_user_id=USER
    )
    return pd_sandbox.account_connect(token=token, app_slug="github", name=name).account_id


def test_deploy_list_pause_and_delete_a_trigger(client, live_server):
    account_id = account("octo")
    deployed = client.deploy_trigger(
        trigger_id="github-new-star",
        external_user_id=USER,
        configured_props={
            "github": {"authProvisionId": account_id},
            "repoFullname": "octo/hello-world",
        },
        webhook_url=f"{live_server.url}/nowhere/",
        emit_on_deploy=False,
    )
    assert deployed["id"].startswith("dc_") and deployed["active"] is True
    assert deployed["webhook_signing_key"]
    assert [t["id"] for t in client.list_deployed_triggers(external_user_id=USER)] == [
        deployed["id"]
    ]
    assert client.pause_deployed_trigger(deployed["id"], external_user_id=USER)["active"] is False
    assert sandbox_triggers.emit(deployed["id"]) is None  # a paused trigger emits nothing
    with pytest.raises(pipedream.NotFound):
        client.get_deployed_trigger(deployed["id"], external_user_id="someone-else")

    client.delete_deployed_trigger(deployed["id"], external_user_id=USER)
    assert not DeployedTrigger.objects.exists()
    with pytest.raises(pipedream.NotFound):
        client.delete_deployed_trigger(deployed["id"], external_user_id=USER)
    sandbox_webhooks.wait_for_deliveries()


def test_the_proxy_answers_from_the_members_account(client):
    pro, new = account("octo-pro"), account("newbie")
    user = client.proxy("GET", "https://api.github.com/user", external_user_id=USER, account_id=pro)
    assert user.status == 200 and user.body["public_repos"] >= 25
    fresh = client.proxy(
        "GET", "https://api.github.com/user", external_user_id=USER, account_id=new
    )
    assert fresh.body["public_repos"] < 5
    starred = client.proxy(
        "GET",
        "https://api.github.com/user/starred/octo-org/octo-repo",
        external_user_id=USER,
        account_id=new,
    )
    assert starred.status == 404  # GitHub's "not starred", relayed as it came
    with pytest.raises(pipedream.BadRequest):
        client.proxy(
            "GET", "https://api.github.com/user", external_user_id="stranger", account_id=pro
        )

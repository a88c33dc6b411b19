"""Pipedream's official Python SDK (`pipedream` on PyPI, pinned in the dev extra) drives the
sandbox over HTTP as it would drive api.pipedream.com: it authenticates with the client
credentials, retrieves github-get-current-user and finds its app prop, runs it, retrieves
github-new-star, loads the remote options of `repoFullname`, reloads the props, deploys
the trigger with the dynamic props id, lists it and deletes it.

Every answer goes through the SDK's own models (pydantic), so a field the SDK cannot
read fails here.
"""

import httpx
import pytest
from pipedream import Pipedream

from sandbox.credentials import SANDBOX_CREDENTIALS
from sandbox.pipedream import services
from sandbox.pipedream.models import DeployedTrigger

pytestmark = pytest.mark.django_db(transaction=True)

USER = "member-1"


@pytest.fixture
def account(db):
    """A GitHub account of the external user, connected in development."""
    _, token = services.connect_token_create(
        project_id=SANDBOX_CREDENTIALS["project_id"],
        environment="development",
        external_user_id=USER,
    )
    return services.account_connect(token=token, app_slug="github", name="octo-pro")


@pytest.fixture
def pd(live_server):
    """The SDK pointed at the sandbox served by live_server; no kept-alive connection
    (it would pin a live_server thread past the test)."""
    http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=10)
    client = Pipedream(
        client_id=SANDBOX_CREDENTIALS["client_id"],
        client_secret=SANDBOX_CREDENTIALS["client_secret"],
        project_id=SANDBOX_CREDENTIALS["project_id"],
        project_environment="development",
        base_url=f"{live_server.url}/sandbox/pipedream",
        httpx_client=http,
        max_retries=0,
    )
    yield client
    http.close()


def _app_prop(component) -> str:
    [prop] = [p for p in component.configurable_props if p.type == "app"]
    return prop.name


def test_the_sdk_retrieves_and_runs_get_current_user(pd, account):
    component = pd.components.retrieve("github-get-current-user")
    app_prop = _app_prop(component)

    result = pd.actions.run(
        id=component.key,
        external_user_id=USER,
        configured_props={app_prop: {"authProvisionId": account.account_id}},
    )

    assert (component.key, component.version, app_prop) == (
        "github-get-current-user",
        "0.0.1",
        "github",
    )
    assert set(result.ret) == {"user", "organizations", "teams"}
    assert result.ret["user"]["login"] == "octo-pro"
    assert result.ret["user"]["public_repos"] >= 25
    assert result.exports["$summary"] == "Retrieved GitHub user octo-pro"


def test_the_sdk_configures_deploys_lists_and_deletes_github_new_star(pd, account):
    component = pd.triggers.retrieve("github-new-star")
    app_prop = _app_prop(component)
    [repo_prop] = [p for p in component.configurable_props if p.name == "repoFullname"]
    configured = {app_prop: {"authProvisionId": account.account_id}}

    options = pd.triggers.configure_prop(
        id=component.key,
        external_user_id=USER,
        prop_name="repoFullname",
        configured_props=configured,
    )
    repo = options.string_options[0]
    configured["repoFullname"] = repo
    reloaded = pd.triggers.reload_props(
        id=component.key, external_user_id=USER, configured_props=configured
    )
    deployed = pd.triggers.deploy(
        id=component.key,
        external_user_id=USER,
        configured_props=configured,
        dynamic_props_id=reloaded.dynamic_props.id,
        emit_on_deploy=False,
    )
    listed = list(pd.deployed_triggers.list(external_user_id=USER))
    pd.deployed_triggers.delete(deployed.id, external_user_id=USER)
    after = list(pd.deployed_triggers.list(external_user_id=USER))

    assert repo_prop.remote_options is True and repo_prop.reload_props is True
    assert options.string_options == account.profile["repos"]
    assert repo == "octo-pro/hello-world"
    names = [p.name for p in reloaded.dynamic_props.configurable_props]
    assert names == ["github", "repoFullname", "db", "http"]  # the account owns the repo
    assert reloaded.dynamic_props.id.startswith("dyp_")
    assert deployed.id.startswith("dc_") and deployed.component_key == "github-new-star"
    assert [t.id for t in listed] == [deployed.id]
    assert after == []
    assert not DeployedTrigger.objects.exists()


def test_the_sdk_lists_components_by_app(pd):
    actions = [c.key for c in pd.actions.list(app="github")]
    triggers = [c.key for c in pd.triggers.list(q="star")]

    assert actions == [
        "github-get-current-user",
        "github-get-repository",
        "github-list-organizations",
    ]
    assert triggers == ["github-new-star"]

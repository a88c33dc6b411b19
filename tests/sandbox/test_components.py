"""The component API: list, retrieve, configure (remote options), props reload, and the
definitions run and deploy follow. Every answer is contract-checked against the published
description (tests/sandbox/contract_support.py); bad input is a Pipedream-shaped 4xx."""

import json

import pytest

from sandbox.pipedream import components
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from sandbox.pipedream.models import DeployedTrigger
from tests.sandbox import contract_support as contract
from tests.sandbox.triggers_support import corrected_validate_response

pytestmark = pytest.mark.django_db

LIST = "/v1/connect/{pid}/components"


def _keys(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [c["key"] for c in response.json()["data"]]


def _configure(api, account, prop_name, kind="components", **props):
    app_prop = {"google_sheets": "googleSheets"}.get(account.app_slug, account.app_slug)
    key = {
        "github": "github-new-star",
        "discord": "discord-get-message",
        "google_sheets": "google_sheets-new-row-added-polling",
    }[account.app_slug]
    return api.post(
        f"/v1/connect/{{pid}}/{kind}/configure",
        json_body={
            "id": props.pop("id", key),
            "external_user_id": account.user.external_id,
            "prop_name": prop_name,
            "configured_props": {app_prop: {"authProvisionId": account.account_id}, **props},
            **props.pop("extra", {}),
        },
    )


def _reload(api, account, **props):
    return api.post(
        "/v1/connect/{pid}/triggers/props",
        json_body={
            "id": "github-new-star",
            "external_user_id": account.user.external_id,
            "configured_props": {"github": {"authProvisionId": account.account_id}, **props},
        },
    )


# --- List ----------------------------------------------------------------------------


def test_lists_every_component_and_filters_them(api):
    everything = api.get(LIST)
    actions = api.get("/v1/connect/{pid}/actions", params={"app": "github"})
    triggers = api.get("/v1/connect/{pid}/triggers")
    by_type = api.get(LIST, params={"component_type": "trigger", "app": "slack"})
    searched = api.get(LIST, params={"q": "current user"})
    private = api.get(LIST, params={"registry": "private"})

    assert _keys(everything) == sorted(components.COMPONENTS)
    assert everything.json()["page_info"]["total_count"] == len(components.COMPONENTS)
    assert _keys(actions) == [
        "github-get-current-user",
        "github-get-repository",
        "github-list-organizations",
    ]
    assert _keys(triggers) == [
        "discord-guild-member",
        "github-new-star",
        "google_sheets-new-row-added-polling",
        "slack-new-user-added",
    ]
    assert _keys(by_type) == ["slack-new-user-added"]
    assert _keys(searched) == [
        "github-get-current-user",
        "google_sheets-get-current-user",
        "slack-get-current-user",
    ]
    assert _keys(private) == []


def test_the_list_pages_with_cursors(api):
    first = api.get(LIST, params={"limit": 4}).json()
    second = api.get(LIST, params={"limit": 4, "after": first["page_info"]["end_cursor"]}).json()
    back = api.get(LIST, params={"limit": 4, "before": second["page_info"]["start_cursor"]}).json()

    keys = sorted(components.COMPONENTS)
    assert [c["key"] for c in first["data"]] == keys[:4]
    assert first["page_info"]["start_cursor"] is None
    assert [c["key"] for c in second["data"]] == keys[4:8]
    assert [c["key"] for c in back["data"]] == keys[:4]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "many"},
        {"after": "not-a-cursor"},
        {"registry": "secret"},
        {"component_type": "source"},
    ],
)
def test_bad_list_parameters_are_400(api, params):
    response = api.get(LIST, params=params)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)


def test_the_component_api_needs_a_bearer_and_a_project(anonymous_api, api):
    assert anonymous_api.get(LIST).status_code == 401
    assert api.get("/v1/connect/proj_other/components").status_code == 404


# --- Retrieve ------------------------------------------------------------------------


def test_retrieve_answers_the_real_definition(api):
    user = api.get("/v1/connect/{pid}/actions/github-get-current-user").json()["data"]
    star = api.get("/v1/connect/{pid}/triggers/github-new-star").json()["data"]
    sheets = api.get("/v1/connect/{pid}/components/google_sheets-new-row-added-polling").json()

    assert (user["key"], user["name"], user["version"]) == (
        "github-get-current-user",
        "Get Current User",
        "0.0.1",
    )
    assert user["component_type"] == "action"
    assert user["configurable_props"] == [
        {"name": "github", "type": "app", "app": "github", "label": "GitHub"}
    ]
    assert user["annotations"]["readOnlyHint"] is True
    [app, repo, db] = star["configurable_props"]
    assert (star["version"], star["component_type"]) == ("1.0.7", "trigger")
    assert app["name"] == "github"
    assert repo["name"] == "repoFullname" and repo["type"] == "string"
    assert repo["remoteOptions"] is True and repo["reloadProps"] is True
    assert "optional" not in repo
    assert db == {"name": "db", "type": "$.service.db"}
    by_name = {p["name"]: p for p in sheets["data"]["configurable_props"]}
    assert by_name["googleSheets"]["app"] == "google_sheets"
    assert by_name["watchedDrive"]["optional"] is True
    assert by_name["worksheetIDs"]["type"] == "string[]"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/connect/{pid}/components/github-delete-everything",
        "/v1/connect/{pid}/actions/github-new-star",  # a trigger is not an action
        "/v1/connect/{pid}/triggers/github-get-current-user",
        "/v1/connect/{pid}/components/github-get-current-user?version=9.9.9",
    ],
)
def test_retrieve_unknown_components_is_404(api, path):
    path, _, query = path.partition("?")
    response = api.get(path, params=dict([query.split("=")]) if query else None)
    assert response.status_code == 404
    assert isinstance(response.json()["error"], str)


def test_retrieve_at_the_current_version(api):
    response = api.get("/v1/connect/{pid}/components/github-new-star", params={"version": "1.0.7"})
    assert response.status_code == 200


# --- Configure (remote options) -------------------------------------------------------


def test_repository_options_are_the_accounts_repositories(api, make_account):
    account = make_account("user-1", "github", "octo-pro")

    every = _configure(api, account, "repoFullname").json()
    queried = _configure(api, account, "repoFullname", extra={"query": "DOT"}).json()
    as_action = _configure(
        api, account, "repoFullname", kind="actions", id="github-get-repository"
    ).json()
    next_page = _configure(api, account, "repoFullname", extra={"page": 1}).json()

    assert every["stringOptions"] == account.profile["repos"]
    assert every["options"] is None and every["errors"] == []
    assert queried["stringOptions"] == ["octo-pro/dotfiles"]
    assert as_action["stringOptions"] == account.profile["repos"]
    assert next_page["stringOptions"] is None and next_page["options"] == []


def test_options_that_depend_on_other_props(api, make_account):
    sheets = make_account("user-1", "google_sheets", "ana")
    spreadsheet = sheets.profile["spreadsheets"][0]

    sheet_ids = _configure(api, sheets, "sheetID").json()
    no_sheet = _configure(api, sheets, "worksheetIDs").json()
    worksheets = _configure(api, sheets, "worksheetIDs", sheetID=spreadsheet["id"]).json()

    assert sheet_ids["options"] == [{"label": spreadsheet["name"], "value": spreadsheet["id"]}]
    assert no_sheet["options"] is None and "sheetID" in no_sheet["errors"][0]
    assert worksheets["options"] == [{"label": "Sheet1", "value": 0}]


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"prop_name": ""}, "prop_name"),
        ({"prop_name": "nope"}, "nope"),
        ({"prop_name": "db"}, "remote options"),
        ({"id": ""}, "id"),
        ({"external_user_id": ""}, "external_user_id"),
        ({"configured_props": []}, "configured_props"),
        ({"configured_props": {}}, "authProvisionId"),
        ({"page": "two"}, "page"),
    ],
)
def test_configure_refuses_bad_requests(api, make_account, change, word):
    account = make_account("user-1", "github", "octo-pro")
    body = {
        "id": "github-new-star",
        "external_user_id": "user-1",
        "prop_name": "repoFullname",
        "configured_props": {"github": {"authProvisionId": account.account_id}},
        **change,
    }

    response = api.post("/v1/connect/{pid}/components/configure", json_body=body)

    assert response.status_code == 400
    assert word in response.json()["error"]


def test_configure_with_someone_elses_account_or_an_unknown_component(api, mint, make_account):
    mine = make_account("user-1", "github", "octo-pro")
    theirs = make_account("user-2", "github", "other")
    browser = api.with_token(mint("user-1")["token"])

    foreign = browser.post(
        "/v1/connect/{pid}/components/configure",
        json_body={
            "id": "github-new-star",
            "external_user_id": "user-2",
            "prop_name": "repoFullname",
            "configured_props": {"github": {"authProvisionId": theirs.account_id}},
        },
        error_shape="account_mismatch",
    )
    unknown = _configure(api, mine, "repoFullname", id="github-new-fork")
    wrong_kind = _configure(api, mine, "repoFullname", kind="actions")

    assert foreign.status_code == 400
    assert unknown.status_code == 404 and wrong_kind.status_code == 404


def test_bad_json_is_a_400_not_a_500(api):
    for path in ("components/configure", "components/props", "actions/props"):
        response = api.post(
            f"/v1/connect/{{pid}}/{path}", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
    raw = api.client.post(
        f"{contract.PREFIX}/v1/connect/{contract.PROJECT_ID}/components/configure",
        data="{nope",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}", "x-pd-environment": "development"},
    )
    assert raw.status_code == 400 and "JSON" in json.loads(raw.content)["error"]


# --- Props reload, deploy and run with dynamic props -----------------------------------


def test_reloading_props_adds_the_dynamic_ones(api, make_account):
    account = make_account("user-1", "github", "octo-pro")

    unset = _reload(api, account).json()["dynamicProps"]
    owned = _reload(api, account, repoFullname="octo-pro/dotfiles").json()["dynamicProps"]
    shared = _reload(api, account, repoFullname=DEMO_STARRED_REPO).json()["dynamicProps"]
    again = _reload(api, account, repoFullname="octo-pro/dotfiles").json()["dynamicProps"]

    assert [p["name"] for p in unset["configurableProps"]] == ["github", "repoFullname", "db"]
    assert owned["configurableProps"][-1] == {"name": "http", "type": "$.interface.http"}
    assert shared["configurableProps"][-1] == {
        "name": "timer",
        "type": "$.interface.timer",
        "default": {"intervalSeconds": 900},
    }
    assert owned["id"].startswith("dyp_") and owned["id"] == again["id"]
    assert len({unset["id"], owned["id"], shared["id"]}) == 3


@pytest.fixture
def checked_api(api, monkeypatch):
    """`api` checked against the description with ConfiguredPropValue's oneOf read as
    anyOf (see tests/sandbox/triggers_support.py): DeployedComponent answers need it."""
    monkeypatch.setattr(contract, "validate_response", corrected_validate_response)
    return api


def test_deploy_takes_the_dynamic_props_id_of_its_values(checked_api, make_account):
    account = make_account("user-1", "github", "octo-pro")
    dyp = _reload(checked_api, account, repoFullname="octo-pro/dotfiles").json()["dynamicProps"]

    def deploy(repo, dynamic_props_id):
        return checked_api.post(
            "/v1/connect/{pid}/triggers/deploy",
            json_body={
                "id": "github-new-star",
                "external_user_id": "user-1",
                "configured_props": {
                    "github": {"authProvisionId": account.account_id},
                    "repoFullname": repo,
                },
                "dynamic_props_id": dynamic_props_id,
                "emit_on_deploy": False,
            },
        )

    stale = deploy(DEMO_STARRED_REPO, dyp["id"])
    deployed = deploy("octo-pro/dotfiles", dyp["id"])

    assert stale.status_code == 400 and "dynamic_props_id" in stale.json()["error"]
    assert deployed.status_code == 200
    assert deployed.json()["data"]["configurable_props"] == dyp["configurableProps"]
    assert DeployedTrigger.objects.get().dynamic_props_id == dyp["id"]


def test_run_accepts_the_props_reload_id_of_an_action(api, make_account):
    account = make_account("user-1", "github", "octo-pro")
    configured = {
        "github": {"authProvisionId": account.account_id},
        "repoFullname": "octo-pro/website",
    }
    dyp = api.post(
        "/v1/connect/{pid}/actions/props",
        json_body={
            "id": "github-get-repository",
            "external_user_id": "user-1",
            "configured_props": configured,
        },
    ).json()["dynamicProps"]

    ran = api.post(
        "/v1/connect/{pid}/actions/run",
        json_body={
            "id": "github-get-repository",
            "external_user_id": "user-1",
            "configured_props": configured,
            "dynamic_props_id": dyp["id"],
        },
    )

    assert ran.status_code == 200 and ran.json()["ret"]["full_name"] == "octo-pro/website"


def test_a_fault_on_the_component_api(api, settings):
    settings.SANDBOX_FAULTS = {"pipedream.components": {"status": 503}}
    assert api.get(LIST).status_code == 503

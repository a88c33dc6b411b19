"""Running the real actions: results shaped as each component's run() returns them, from the
account's profile; errors as the API gives them."""

import pytest

from sandbox.pipedream import services
from sandbox.pipedream.catalogue import DEMO_GITHUB_ORG, DEMO_STARRED_REPO

pytestmark = pytest.mark.django_db


def _run(api, key, external_user_id, account, **props):
    app = account.app_slug if account else "github"
    prop = {"google_sheets": "googleSheets"}.get(app, app)
    configured = {prop: {"authProvisionId": account.account_id if account else "apn_missing"}}
    return api.post(
        "/v1/connect/{pid}/actions/run",
        json_body={
            "id": key,
            "external_user_id": external_user_id,
            "configured_props": {**configured, **props},
        },
    )


def test_github_current_user_answers_user_organizations_and_teams(api, make_account):
    pro = make_account("user-1", "github", "octo-pro")
    new = make_account("user-2", "github", "newbie")

    pro_body = _run(api, "github-get-current-user", "user-1", pro).json()
    new_body = _run(api, "github-get-current-user", "user-2", new).json()

    assert set(pro_body) == {"exports", "os", "ret", "stash_id"}
    assert pro_body["exports"]["$summary"] == "Retrieved GitHub user octo-pro"
    assert pro_body["os"] == [] and pro_body["stash_id"] is None
    ret = pro_body["ret"]
    assert set(ret) == {"user", "organizations", "teams"}
    assert ret["user"]["login"] == "octo-pro" and ret["user"]["type"] == "User"
    assert ret["user"]["public_repos"] >= 25 and ret["user"]["created_at"] < "2015"
    assert [org["login"] for org in ret["organizations"]] == [DEMO_GITHUB_ORG]
    assert ret["teams"][0]["organization"]["login"] == DEMO_GITHUB_ORG
    assert new_body["ret"]["user"]["public_repos"] <= 3
    assert new_body["ret"]["organizations"] == [] and new_body["ret"]["teams"] == []


def test_results_follow_an_edited_profile(api, make_account):
    account = make_account("user-1", "github", "newbie")
    before = _run(api, "github-get-current-user", "user-1", account).json()["ret"]

    account.profile["public_repos"] = 42
    account.profile["orgs"] = ["django"]
    account.save()
    after = _run(api, "github-get-current-user", "user-1", account).json()["ret"]

    assert before["user"]["public_repos"] <= 3
    assert after["user"]["public_repos"] == 42
    assert [org["login"] for org in after["organizations"]] == ["django"]


def test_github_get_repository_and_list_organizations(api, make_account):
    pro = make_account("user-1", "github", "octo-pro")

    own = _run(api, "github-get-repository", "user-1", pro, repoFullname="octo-pro/dotfiles")
    starred = _run(api, "github-get-repository", "user-1", pro, repoFullname=DEMO_STARRED_REPO)
    as_label = _run(
        api,
        "github-get-repository",
        "user-1",
        pro,
        repoFullname={"__lv": {"label": "octo-pro/website", "value": "octo-pro/website"}},
    )
    orgs = _run(api, "github-list-organizations", "user-1", pro)

    assert own.json()["ret"]["full_name"] == "octo-pro/dotfiles"
    assert own.json()["ret"]["permissions"]["admin"] is True
    assert own.json()["exports"]["$summary"] == (
        "Successfully retrieved repository octo-pro/dotfiles"
    )
    assert starred.json()["ret"]["permissions"]["admin"] is False
    assert as_label.json()["ret"]["name"] == "website"
    assert orgs.json()["ret"][0]["login"] == DEMO_GITHUB_ORG
    assert orgs.json()["exports"]["$summary"] == "Successfully listed 1 organization"


def test_discord_slack_and_google_sheets_actions(api, make_account):
    discord = make_account("user-1", "discord", "gamer-pro")
    slack = make_account("user-1", "slack", "team-pro")
    sheets = make_account("user-1", "google_sheets", "ana")

    channel = api.post(
        "/v1/connect/{pid}/components/configure",
        json_body={
            "id": "discord-get-message",
            "external_user_id": "user-1",
            "prop_name": "channel",
            "configured_props": {"discord": {"authProvisionId": discord.account_id}},
        },
    ).json()["options"][0]["value"]
    message = api.post(
        "/v1/connect/{pid}/components/configure",
        json_body={
            "id": "discord-get-message",
            "external_user_id": "user-1",
            "prop_name": "message",
            "configured_props": {
                "discord": {"authProvisionId": discord.account_id},
                "channel": channel,
            },
        },
    ).json()["options"][0]["value"]
    got = _run(api, "discord-get-message", "user-1", discord, channel=channel, message=message)
    team = _run(api, "slack-get-current-user", "user-1", slack).json()["ret"]
    about = _run(api, "google_sheets-get-current-user", "user-1", sheets).json()["ret"]

    assert got.json()["ret"]["id"] == message and got.json()["ret"]["channel_id"] == channel
    assert got.json()["exports"]["$summary"] == "Message obtained successfully"
    assert set(team) == {"authContext", "user", "team"}
    assert team["team"]["name"] == "Sandbox Pro Team" and team["team"]["id"].startswith("T")
    assert team["user"]["isAdmin"] is True and team["authContext"]["ok"] is True
    assert about["about"]["user"]["emailAddress"] == "ana@example.com"


def test_google_sheets_reads_its_account_from_the_googlesheets_prop(api, make_account):
    sheets = make_account("user-1", "google_sheets", "ana")

    by_slug = api.post(
        "/v1/connect/{pid}/actions/run",
        json_body={
            "id": "google_sheets-get-current-user",
            "external_user_id": "user-1",
            "configured_props": {"google_sheets": {"authProvisionId": sheets.account_id}},
        },
    )

    assert by_slug.status_code == 400
    assert "googleSheets" in by_slug.json()["error"]


def test_someone_elses_account_is_a_mismatch(api, make_account):
    theirs = make_account("user-2", "github")

    response = api.post(
        "/v1/connect/{pid}/actions/run",
        json_body={
            "id": "github-get-current-user",
            "external_user_id": "user-1",
            "configured_props": {"github": {"authProvisionId": theirs.account_id}},
        },
        error_shape="account_mismatch",
    )

    assert response.status_code == 400
    assert response.json() == {"error": {"account": ["account and user mismatch"]}}


def test_unknown_action_or_version_is_404(api, make_account):
    account = make_account("user-1", "github")
    unknown = _run(api, "github-delete-everything", "user-1", account)
    a_trigger = _run(api, "github-new-star", "user-1", account)
    old = api.post(
        "/v1/connect/{pid}/actions/run",
        json_body={
            "id": "github-get-current-user",
            "version": "0.0.0",
            "external_user_id": "user-1",
            "configured_props": {"github": {"authProvisionId": account.account_id}},
        },
    )
    assert unknown.status_code == 404
    assert "github-delete-everything" in unknown.json()["error"]
    assert a_trigger.status_code == 404
    assert old.status_code == 404 and "0.0.0" in old.json()["error"]


@pytest.mark.parametrize(("state", "word"), [("dead", "dead"), ("unhealthy", "unhealthy")])
def test_a_dead_or_unhealthy_account_fails(api, make_account, state, word):
    account = make_account("user-1", "github")
    services.account_set_health(account, state=state, error="token revoked")

    response = _run(api, "github-get-current-user", "user-1", account)

    assert response.status_code == 400
    assert response.json()["error"] == f"Account {account.account_id} is {word}: token revoked."


def test_missing_props_and_fields(api, make_account):
    account = make_account("user-1", "github")

    no_repo = _run(api, "github-get-repository", "user-1", account)
    bad_repo = _run(api, "github-get-repository", "user-1", account, repoFullname="not-a-repo")
    unseen = _run(api, "github-get-repository", "user-1", account, repoFullname="a/b")
    no_app_prop = api.post(
        "/v1/connect/{pid}/actions/run",
        json_body={"id": "github-get-current-user", "external_user_id": "user-1"},
    )
    no_user = api.post("/v1/connect/{pid}/actions/run", json_body={"id": "slack-get-current-user"})
    no_id = api.post("/v1/connect/{pid}/actions/run", json_body={"external_user_id": "user-1"})

    assert no_repo.status_code == 400
    assert no_repo.json()["error"] == (
        "Missing required prop(s) of github-get-repository: repoFullname."
    )
    assert bad_repo.status_code == 400 and "owner/name" in bad_repo.json()["error"]
    assert unseen.status_code == 400 and "404" in unseen.json()["error"]
    assert no_app_prop.status_code == 400 and "authProvisionId" in no_app_prop.json()["error"]
    assert no_user.status_code == 400
    assert no_id.status_code == 400


def test_a_connect_token_runs_actions_for_its_own_user_only(api, mint, make_account):
    mine = make_account("user-1", "github", "octo-pro")
    theirs = make_account("user-2", "github")
    browser = api.with_token(mint("user-1")["token"], None)

    own = browser.post(
        "/v1/connect/actions/run",
        json_body={
            "id": "github-get-current-user",
            "external_user_id": "user-1",
            "configured_props": {"github": {"authProvisionId": mine.account_id}},
        },
    )
    other = browser.post(
        "/v1/connect/actions/run",
        json_body={
            "id": "github-get-current-user",
            "external_user_id": "user-2",
            "configured_props": {"github": {"authProvisionId": theirs.account_id}},
        },
        error_shape="account_mismatch",
    )

    assert own.status_code == 200
    assert other.status_code == 400

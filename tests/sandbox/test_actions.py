"""Running the demo actions: results follow the account's profile; errors as the API gives them."""

import pytest

from sandbox import services
from sandbox.catalogue import DEMO_GUILD_ID, DEMO_STARRED_REPO

pytestmark = pytest.mark.django_db


def _run(api, key, external_user_id, account, **props):
    app = account.app_slug if account else "github"
    configured = {app: {"authProvisionId": account.account_id if account else "apn_missing"}}
    return api.post(
        "/v1/connect/{pid}/actions/run",
        json_body={
            "id": key,
            "external_user_id": external_user_id,
            "configured_props": {**configured, **props},
        },
    )


def test_github_current_user_of_a_pro_and_a_new_account(api, make_account):
    pro = make_account("user-1", "github", "octo-pro")
    new = make_account("user-2", "github", "newbie")

    pro_body = _run(api, "github-get-current-user", "user-1", pro).json()
    new_body = _run(api, "github-get-current-user", "user-2", new).json()

    assert set(pro_body) == {"exports", "os", "ret", "stash_id"}
    assert pro_body["exports"]["$summary"] == "Retrieved the GitHub user octo-pro"
    assert pro_body["os"] == [] and pro_body["stash_id"] is None
    assert set(pro_body["ret"]) == {"login", "public_repos", "followers", "created_at"}
    assert pro_body["ret"]["public_repos"] >= 25
    assert new_body["ret"]["public_repos"] <= 3


def test_results_follow_an_edited_profile(api, make_account):
    account = make_account("user-1", "github", "newbie")
    before = _run(api, "github-check-star", "user-1", account, repo=DEMO_STARRED_REPO)

    account.profile["starred"] = [DEMO_STARRED_REPO]
    account.save()
    after = _run(api, "github-check-star", "user-1", account, repo=DEMO_STARRED_REPO)

    assert before.json()["ret"] == {"repo": DEMO_STARRED_REPO, "starred": False}
    assert after.json()["ret"] == {"repo": DEMO_STARRED_REPO, "starred": True}


def test_discord_membership(api, make_account):
    pro = make_account("user-1", "discord", "gamer-pro")
    new = make_account("user-1", "discord", "lurker")

    member = _run(api, "discord-check-membership", "user-1", pro, guild_id=DEMO_GUILD_ID)
    stranger = _run(api, "discord-check-membership", "user-1", new, guild_id=DEMO_GUILD_ID)

    assert member.json()["ret"]["member"] is True
    assert "contributor" in member.json()["ret"]["roles"]
    assert stranger.json()["ret"] == {"guild_id": DEMO_GUILD_ID, "member": False, "roles": []}


def test_slack_team(api, make_account):
    account = make_account("user-1", "slack", "team-pro")
    ret = _run(api, "slack-get-team", "user-1", account).json()["ret"]
    assert ret["name"] == "Sandbox Pro Team" and ret["id"].startswith("T")


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


def test_unknown_action_is_404(api, make_account):
    account = make_account("user-1", "github")
    response = _run(api, "github-delete-everything", "user-1", account)
    assert response.status_code == 404
    assert "github-delete-everything" in response.json()["error"]


@pytest.mark.parametrize(("state", "word"), [("dead", "dead"), ("unhealthy", "unhealthy")])
def test_a_dead_or_unhealthy_account_fails(api, make_account, state, word):
    account = make_account("user-1", "github")
    services.account_set_health(account, state=state, error="token revoked")

    response = _run(api, "github-get-current-user", "user-1", account)

    assert response.status_code == 400
    assert response.json()["error"] == f"Account {account.account_id} is {word}: token revoked."


def test_missing_props_and_fields(api, make_account):
    account = make_account("user-1", "github")

    no_repo = _run(api, "github-check-star", "user-1", account)
    bad_repo = _run(api, "github-check-star", "user-1", account, repo="not-a-repo")
    no_app_prop = api.post(
        "/v1/connect/{pid}/actions/run",
        json_body={"id": "github-get-current-user", "external_user_id": "user-1"},
    )
    no_user = api.post("/v1/connect/{pid}/actions/run", json_body={"id": "slack-get-team"})

    assert no_repo.status_code == 400 and "repo" in no_repo.json()["error"]
    assert bad_repo.status_code == 400 and "owner/name" in bad_repo.json()["error"]
    assert no_app_prop.status_code == 400 and "authProvisionId" in no_app_prop.json()["error"]
    assert no_user.status_code == 400


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

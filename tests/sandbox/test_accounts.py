"""Accounts and external users: list with filters and cursors, get, delete, per user."""

import base64
import datetime
import json

import pytest
import time_machine

from sandbox.pipedream.models import Account, ConnectToken, ExternalUser

pytestmark = pytest.mark.django_db


def _ids(response) -> list[str]:
    return [account["id"] for account in response.json()["data"]]


def _walk(api, params, limit):
    """Every id, page by page through end_cursor, and the page_infos seen."""
    ids, infos, after = [], [], None
    while True:
        page = api.get(
            "/v1/connect/{pid}/accounts",
            params={**params, "limit": limit, **({"after": after} if after else {})},
        )
        assert page.status_code == 200
        ids += _ids(page)
        infos.append(page.json()["page_info"])
        after = page.json()["page_info"]["end_cursor"]
        if not after:
            return ids, infos


def test_account_object_has_the_documented_fields(api, make_account):
    account = make_account("user-1", "github", "octo")

    body = api.get(f"/v1/connect/{{pid}}/accounts/{account.account_id}").json()

    assert body["id"] == account.account_id and body["id"].startswith("apn_")
    assert body["name"] == "octo"
    assert body["external_id"] == "user-1"
    assert body["healthy"] is True and body["dead"] is False
    assert body["error"] is None
    assert body["app"]["name_slug"] == "github"
    assert body["app"]["img_src"].startswith("http://testserver/static/sandbox/logos/")
    assert body["authorized_scopes"] == ["read:user", "user:email", "repo"]
    for key in ("created_at", "updated_at", "expires_at", "last_refreshed_at", "next_refresh_at"):
        assert body[key].endswith("Z"), key
    assert "credentials" not in body


def test_credentials_only_when_asked(api, make_account):
    oauth = make_account("user-1", "github")
    keys = make_account("user-1", "openai")

    with_oauth = api.get(
        f"/v1/connect/{{pid}}/accounts/{oauth.account_id}", params={"include_credentials": "true"}
    ).json()
    with_keys = api.get(
        f"/v1/connect/{{pid}}/accounts/{keys.account_id}", params={"include_credentials": "true"}
    ).json()

    assert set(with_oauth["credentials"]) >= {"oauth_access_token", "oauth_refresh_token"}
    assert "api_key" in with_keys["credentials"]
    # Key-based accounts have no credential expiry: the key is left out (docs: null).
    assert "expires_at" not in with_keys


def test_list_pages_through_every_account_once(api, make_account):
    made = [
        make_account(f"user-{i % 3}", "github" if i % 2 else "slack").account_id for i in range(7)
    ]

    ids, infos = _walk(api, {}, limit=3)

    assert sorted(ids) == sorted(made)
    assert ids == sorted(ids)  # stable order
    assert [info["count"] for info in infos] == [3, 3, 1]
    assert all(info["total_count"] == 7 for info in infos)
    assert infos[0]["start_cursor"] is None  # nothing before the first page
    assert infos[-1]["end_cursor"] is None  # nothing after the last
    # Cursors are unpadded base64 of the boundary account's id.
    second = infos[1]
    assert base64.b64decode(second["start_cursor"] + "==").decode() == ids[3]
    assert "=" not in second["end_cursor"]


def test_before_gives_the_previous_page(api, make_account):
    for _ in range(5):
        make_account("user-1", "github")
    first = api.get("/v1/connect/{pid}/accounts", params={"limit": 2})
    second = api.get(
        "/v1/connect/{pid}/accounts",
        params={"limit": 2, "after": first.json()["page_info"]["end_cursor"]},
    )

    back = api.get(
        "/v1/connect/{pid}/accounts",
        params={"limit": 2, "before": second.json()["page_info"]["start_cursor"]},
    )

    assert _ids(back) == _ids(first)


def test_filters_combine_with_paging(api, make_account):
    wanted = {make_account("user-1", "github").account_id for _ in range(5)}
    make_account("user-1", "slack")
    make_account("user-2", "github")
    make_account("user-1", "github", environment="production")

    ids, infos = _walk(api, {"external_user_id": "user-1", "app": "github"}, limit=2)

    assert set(ids) == wanted and len(ids) == 5
    assert infos[0]["total_count"] == 5


def test_app_filter_takes_a_slug_or_an_app_id(api, make_account):
    account = make_account("user-1", "slack")
    app_id = api.get("/v1/connect/apps/slack").json()["data"]["id"]

    by_id = api.get("/v1/connect/{pid}/accounts", params={"app": app_id})
    unknown = api.get("/v1/connect/{pid}/accounts", params={"app": "myspace"})

    assert _ids(by_id) == [account.account_id]
    assert _ids(unknown) == []


def test_oauth_app_id_filter(api, make_account):
    account = make_account("user-1", "github")
    account.oauth_app_id = "oa_abc123"
    account.save()
    make_account("user-1", "github")

    response = api.get("/v1/connect/{pid}/accounts", params={"oauth_app_id": "oa_abc123"})
    assert _ids(response) == [account.account_id]


def test_environments_are_separate(api, make_account):
    make_account("user-1", "github", environment="production")

    development = api.get("/v1/connect/{pid}/accounts")
    production = api.with_token(api.token, "production").get("/v1/connect/{pid}/accounts")

    assert development.json()["data"] == []
    assert len(production.json()["data"]) == 1


@pytest.mark.parametrize(
    "params",
    [{"limit": "many"}, {"limit": "0"}, {"after": "%%%"}, {"include_credentials": "maybe"}],
)
def test_bad_list_parameters_are_400(api, params):
    assert api.get("/v1/connect/{pid}/accounts", params=params).status_code == 400


def test_get_unknown_or_other_environment_is_404(api, make_account):
    elsewhere = make_account("user-1", "github", environment="production")

    for account_id in ("apn_doesnotexist", elsewhere.account_id):
        response = api.get(f"/v1/connect/{{pid}}/accounts/{account_id}")
        assert response.status_code == 404
        assert response.json() == {"error": "record not found"}


def test_delete_an_account(api, make_account):
    account = make_account("user-1", "github")

    deleted = api.delete(f"/v1/connect/{{pid}}/accounts/{account.account_id}")
    again = api.delete(f"/v1/connect/{{pid}}/accounts/{account.account_id}")

    assert deleted.status_code == 204 and deleted.content == b""
    assert again.status_code == 404
    assert not Account.objects.exists()


def test_delete_by_app(api, make_account):
    make_account("user-1", "github")
    make_account("user-2", "github")
    keep = make_account("user-1", "slack")

    response = api.delete("/v1/connect/{pid}/apps/github/accounts")

    assert response.status_code == 204
    assert list(Account.objects.values_list("account_id", flat=True)) == [keep.account_id]


def test_delete_a_user_removes_their_accounts(api, make_account):
    make_account("user-1", "github")
    make_account("user-1", "slack")
    other = make_account("user-2", "github")

    response = api.delete("/v1/connect/{pid}/users/user-1")
    unknown = api.delete("/v1/connect/{pid}/users/nobody")

    assert response.status_code == 204
    assert list(Account.objects.values_list("account_id", flat=True)) == [other.account_id]
    assert not ExternalUser.objects.filter(external_id="user-1").exists()
    assert unknown.status_code == 404


def test_a_users_accounts_as_a_bare_array(api, make_account):
    github = make_account("user-1", "github")
    make_account("user-1", "slack")
    make_account("user-2", "github")

    everything = api.get("/v1/connect/{pid}/users/user-1/accounts")
    only_github = api.get("/v1/connect/{pid}/users/user-1/accounts", params={"app": "github"})

    assert isinstance(everything.json(), list) and len(everything.json()) == 2
    assert [a["id"] for a in only_github.json()] == [github.account_id]


def test_list_users(api, make_account):
    for name in ("alice-1", "alice-2", "bob"):
        make_account(name, "github")

    page = api.get("/v1/connect/{pid}/users", params={"limit": 1, "q": "alice"})
    rest = api.get(
        "/v1/connect/{pid}/users",
        params={"limit": 5, "q": "alice", "after": page.json()["page_info"]["end_cursor"]},
    )

    body = page.json()
    assert body["page_info"]["total_count"] == 2
    assert body["data"][0]["id"].startswith("exu_")
    assert {u["external_id"] for u in body["data"] + rest.json()["data"]} == {"alice-1", "alice-2"}
    assert rest.json()["page_info"]["end_cursor"] is None


# --- With a Connect token (the browser's view: one user, project from the token) -------


def test_a_connect_token_sees_only_its_users_accounts(api, mint, make_account):
    mine = make_account("user-1", "github")
    theirs = make_account("user-2", "github")
    browser = api.with_token(mint("user-1")["token"], "development")

    listed = browser.get("/v1/connect/accounts")
    with_project = browser.get("/v1/connect/{pid}/accounts")
    own = browser.get(f"/v1/connect/accounts/{mine.account_id}")
    other = browser.get(f"/v1/connect/accounts/{theirs.account_id}")
    delete_other = browser.delete(f"/v1/connect/accounts/{theirs.account_id}")

    assert _ids(listed) == _ids(with_project) == [mine.account_id]
    assert own.status_code == 200
    assert other.status_code == delete_other.status_code == 404
    assert Account.objects.filter(pk=theirs.pk).exists()


def test_a_connect_token_and_the_environment_header(api, mint):
    ctok = mint("user-1")["token"]

    projectless = api.with_token(ctok, None).get("/v1/connect/accounts")
    missing = api.with_token(ctok, None).get("/v1/connect/{pid}/accounts")
    contradicting = api.with_token(ctok, "production").get("/v1/connect/accounts")

    assert projectless.status_code == 200  # the token's environment applies
    assert missing.status_code == 400
    assert contradicting.status_code == 400
    assert "created for 'development'" in contradicting.json()["error"]


def test_a_connect_token_reads_after_use_but_only_until_expiry(api, mint, make_account):
    body = mint("user-1", expires_in=60)
    browser = api.with_token(body["token"], None)
    created = browser.post(
        "/v1/connect/accounts", json_body={"app_slug": "openai", "cfmap_json": "{}"}
    )
    assert created.status_code == 200

    assert browser.get("/v1/connect/accounts").status_code == 200  # used, still readable
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        assert browser.get("/v1/connect/accounts").status_code == 401


def test_create_an_account_with_a_connect_token(api, mint):
    ctok = mint("user-1")["token"]
    browser = api.with_token(ctok, "development")

    response = browser.post(
        "/v1/connect/{pid}/accounts",
        params={"external_user_id": "user-1"},
        json_body={
            "app_slug": "openai",
            "cfmap_json": json.dumps({"api_key": "sk-test"}),
            "connect_token": ctok,
            "name": "Work key",
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Work key" and body["external_id"] == "user-1"
    assert Account.objects.get().custom_fields == {"api_key": "sk-test"}
    assert ConnectToken.objects.get().used_at is not None


def test_a_used_connect_token_cannot_create_another_account(api, mint):
    browser = api.with_token(mint("user-1")["token"], None)
    first = browser.post("/v1/connect/accounts", json_body={"app_slug": "openai"})

    second = browser.post("/v1/connect/accounts", json_body={"app_slug": "openai"})

    assert first.status_code == 200
    assert second.status_code == 400
    assert "already been used" in second.json()["error"]
    assert Account.objects.count() == 1


def test_creating_accounts_needs_a_connect_token(api):
    response = api.post("/v1/connect/{pid}/accounts", json_body={"app_slug": "openai"})
    assert response.status_code == 401

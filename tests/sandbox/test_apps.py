"""The app catalogue: list with search, filters, sorting and cursors; retrieve."""

import pytest
import requests

from sandbox.pipedream import catalogue

pytestmark = pytest.mark.django_db


def _slugs(response) -> list[str]:
    return [app["name_slug"] for app in response.json()["data"]]


def test_catalogue_has_the_demo_apps():
    for slug in ("github", "slack", "google_sheets", "discord", "gitlab", "notion"):
        assert slug in catalogue.APPS
    assert len(catalogue.APPS) >= 8
    assert {app["auth_type"] for app in catalogue.APPS.values()} == {"oauth", "keys"}


def test_get_catalogue_app_for_seeding(settings):
    app = catalogue.get_catalogue_app("github")
    assert app["img_src"] == f"{settings.PUBLIC_URL}/static/sandbox/logos/github.svg"
    with pytest.raises(LookupError):
        catalogue.get_catalogue_app("myspace")


@pytest.mark.parametrize("path", ["/v1/connect/apps", "/v1/apps"])
def test_list_apps(api, path):
    response = api.get(path)

    body = response.json()
    assert response.status_code == 200
    assert body["page_info"]["total_count"] == len(catalogue.APPS)
    weights = [app["featured_weight"] for app in body["data"]]
    assert weights == sorted(weights, reverse=True)  # most featured first by default
    github = next(app for app in body["data"] if app["name_slug"] == "github")
    assert github["id"].startswith("app_")
    assert github["custom_fields_json"] == "[]"
    assert github["connect"]["proxy_enabled"] is True
    assert github["scope_profiles"][0]["scopes"]
    assert not any(key.startswith("_") for key in github)


def test_search_and_filters(api):
    assert _slugs(api.get("/v1/connect/apps", params={"q": "git"})) == ["github", "gitlab"]
    without_triggers = _slugs(api.get("/v1/connect/apps", params={"has_triggers": "false"}))
    assert "linear_app" in without_triggers and "github" not in without_triggers
    assert "discord" not in without_triggers  # it has the discord-guild-member trigger
    with_actions = _slugs(api.get("/v1/connect/apps", params={"has_actions": "true"}))
    assert "trello" not in with_actions and "github" in with_actions


def test_sorting(api):
    by_name = api.get("/v1/connect/apps", params={"sort_key": "name_slug"})
    reverse = api.get("/v1/connect/apps", params={"sort_key": "name", "sort_direction": "desc"})

    assert _slugs(by_name) == sorted(_slugs(by_name))
    names = [app["name"] for app in reverse.json()["data"]]
    assert names == sorted(names, reverse=True)


def test_paging_through_apps(api):
    seen, after = [], None
    while True:
        params = {"limit": 3, "sort_key": "name_slug", **({"after": after} if after else {})}
        page = api.get("/v1/connect/apps", params=params)
        seen += _slugs(page)
        after = page.json()["page_info"]["end_cursor"]
        if not after:
            break
    assert seen == sorted(catalogue.APPS)

    last_start = page.json()["page_info"]["start_cursor"]
    previous = api.get(
        "/v1/connect/apps", params={"limit": 3, "sort_key": "name_slug", "before": last_start}
    )
    assert _slugs(previous) == seen[-len(_slugs(page)) - 3 : -len(_slugs(page))]


def test_retrieve_by_slug_or_id(api):
    by_slug = api.get("/v1/connect/apps/discord").json()["data"]
    by_id = api.get(f"/v1/apps/{by_slug['id']}").json()["data"]

    assert by_slug == by_id
    assert by_slug["name"] == "Discord"


def test_unknown_app_is_404(api):
    response = api.get("/v1/connect/apps/myspace")
    assert response.status_code == 404
    assert response.json() == {"error": "App not found. Please check your app id."}


def test_apps_need_a_bearer(anonymous_api):
    assert anonymous_api.get("/v1/connect/apps").status_code == 401


def test_a_connect_token_may_list_apps(api, mint):
    browser = api.with_token(mint("user-1")["token"], None)
    assert browser.get("/v1/connect/apps").status_code == 200


def test_key_based_apps_describe_their_fields(api):
    openai = api.get("/v1/connect/apps/openai").json()["data"]
    assert openai["auth_type"] == "keys"
    assert '"api_key"' in openai["custom_fields_json"]


@pytest.mark.django_db(transaction=True)
def test_logos_are_served_offline(live_server):
    for slug in catalogue.APPS:
        response = requests.get(f"{live_server.url}/static/sandbox/logos/{slug}.svg", timeout=5)
        assert response.status_code == 200, slug
        assert response.content.startswith(b"<svg")

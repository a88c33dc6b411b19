"""A requirement's proxy URL in the admin, against the apps' Pipedream `connect` objects (the
sandbox's catalogue, over real HTTP): a path only for an app whose base URL depends on
the account, a full URL only on the app's allowed domains, and hostile values refused as
form errors, never a 500; nothing is saved when refused."""

import pytest
from django.core.exceptions import ValidationError

from claims.models import Claim, Requirement
from connections import services as connections_services
from sandbox.pipedream import catalogue
from tests.claims.admin_support import form_errors, post_new_claim

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gitlab(apps):
    app, _ = connections_services.app_upsert_from_pipedream(
        data=catalogue.get_catalogue_app("gitlab"), enabled=True, order=9
    )
    return app


def add(admin_client, app, url):
    return post_new_claim(
        admin_client,
        app,
        requirement={"proxy_url": url, "path": "$status", "comparison": "eq", "value": "200"},
        enabled=True,
    )


def url_error(response) -> str:
    errors = form_errors(response)
    assert not Claim.objects.exists()
    assert not Requirement.objects.exists()
    return errors.get("proxy_url", "")


def test_a_path_saves_for_an_app_whose_base_url_is_the_accounts(admin_client, upstreams, gitlab):
    response = add(admin_client, gitlab, "/api/v4/user")
    assert response.status_code == 302
    [saved] = Claim.objects.get(slug="new").requirements.all()
    assert (saved.kind, saved.proxy_url) == ("proxy", "/api/v4/user")


def test_a_full_url_on_an_allowed_domain_saves(admin_client, upstreams, apps):
    response = add(admin_client, apps["github"], "https://api.github.com/user")
    assert response.status_code == 302
    [saved] = Claim.objects.get(slug="new").requirements.all()
    assert (saved.kind, saved.proxy_url) == ("proxy", "https://api.github.com/user")


def test_a_path_for_github_is_refused_with_the_full_url_to_give(admin_client, upstreams, apps):
    said = url_error(add(admin_client, apps["github"], "/user"))
    assert said == (
        "A path is only for an app whose base URL depends on the member's account "
        "(Pipedream's base_proxy_target_url has a placeholder); GitHub's does not: give the "
        "full https URL, e.g. https://api.github.com/user."
    )


def test_a_full_url_on_a_foreign_domain_is_refused_naming_the_allowed_ones(
    admin_client, upstreams, apps
):
    said = url_error(add(admin_client, apps["github"], "https://api.evil.example/user"))
    assert said == (
        "Pipedream's proxy does not call api.evil.example with a GitHub account: its allowed "
        "domains are api.github.com. Give a URL on one of them."
    )


def test_a_foreign_domain_for_an_account_based_app_suggests_a_path(admin_client, upstreams, gitlab):
    said = url_error(add(admin_client, gitlab, "https://gitlab.example.org/api/v4/user"))
    assert "its allowed domains are gitlab.com" in said
    assert "or a path starting with /, which Pipedream joins to the account's own" in said


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("//evil.com/x", "not one starting with //"),
        ("http://api.github.com/user", "over https only"),
        ("javascript:alert(1)", "over https only"),
        ("https://user:pw@api.github.com/", "no user name or password"),
        ("https://@api.github.com/", "no user name or password"),
        ("https://api.github.com/" + "a" * 5000, "at most 500 characters"),
        ("/\\evil", "no spaces, backslashes or control characters"),
        ("/api/v4/user\nHost: evil", "no spaces, backslashes or control characters"),
        ("https://api.github.com/user\x00", "Null characters are not allowed"),
        ("/api/v4/%2e%2e/admin", "no . or .. segments"),
        ("https://[::1/", "This is not a URL"),
        ("https://api.github.com:99999/", "This is not a URL"),
        ("https:///user", "no host name"),
        ("api.github.com/user", "over https only"),
    ],
)
def test_hostile_values_are_form_errors(admin_client, upstreams, gitlab, url, expected):
    # GitLab takes paths and full URLs on gitlab.com: the most any app allows.
    said = url_error(add(admin_client, gitlab, url))
    assert expected in said, said


def test_the_model_refuses_what_the_admin_refuses(db, gitlab):
    claim = Claim(slug="direct", name="Direct", delivery="dynamic_store", store_id="s")
    claim.save()
    requirement = Requirement(
        claim=claim,
        app=gitlab,
        kind="proxy",
        proxy_url="//evil.com/x",
        path="$status",
        comparison="eq",
        value="200",
    )
    with pytest.raises(ValidationError) as refused:
        requirement.full_clean()
    assert "proxy_url" in refused.value.message_dict


def test_a_path_for_an_app_not_synced_yet_says_to_sync_it(admin_client, upstreams, gitlab):
    gitlab.connect = {}
    gitlab.save()
    said = url_error(add(admin_client, gitlab, "/api/v4/user"))
    assert said == (
        "Pipedream's description of GitLab is not here yet, so a path cannot be checked: "
        "sync the app (Apps, action Sync from Pipedream), or give the full https URL."
    )

"""App.connect: Pipedream's `connect` object of an app (allowed_domains,
base_proxy_target_url, proxy_enabled), kept from the apps API, over real HTTP against the
sandbox; what an upstream sends in it that is not of its type is left out."""

import pytest
from django.core.management import call_command

from connections.models import App
from connections.services import app_upsert_from_pipedream
from connections.services.apps import MAX_ALLOWED_DOMAINS

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_apps_keeps_each_apps_connect_object(upstreams):
    call_command("sync_apps", verbosity=0)

    gitlab = App.objects.get(slug="gitlab")
    assert gitlab.connect == {
        "allowed_domains": ["gitlab.com"],
        "base_proxy_target_url": "https://{{custom_fields.base_api_url}}",
        "proxy_enabled": True,
    }
    github = App.objects.get(slug="github")
    assert github.connect["allowed_domains"] == ["api.github.com"]
    assert github.connect["base_proxy_target_url"] == "https://api.github.com"


def test_a_sync_refreshes_the_connect_object_and_keeps_the_admins_choices(upstreams):
    App.objects.create(
        slug="gitlab",
        name="Old name",
        enabled=True,
        order=7,
        connect={"allowed_domains": ["old.example"], "base_proxy_target_url": "https://old"},
    )
    call_command("sync_apps", verbosity=0)

    gitlab = App.objects.get(slug="gitlab")
    assert gitlab.connect["allowed_domains"] == ["gitlab.com"]
    assert (gitlab.enabled, gitlab.order) == (True, 7)


def test_an_app_object_without_connect_leaves_the_stored_one(db):
    app, _ = app_upsert_from_pipedream(
        data={
            "name_slug": "gitlab",
            "name": "GitLab",
            "connect": {"allowed_domains": ["gitlab.com"], "proxy_enabled": True},
        }
    )
    # An account's embedded app object may come without it: nothing is forgotten.
    app_upsert_from_pipedream(data={"name_slug": "gitlab", "name": "GitLab"})
    app.refresh_from_db()
    assert app.connect == {"allowed_domains": ["gitlab.com"], "proxy_enabled": True}
    # A new app described without it has none.
    other, _ = app_upsert_from_pipedream(data={"name_slug": "other", "name": "Other"})
    assert other.connect == {}


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (None, {}),
        ("https://evil.example", {}),
        (["gitlab.com"], {}),
        ({"allowed_domains": "gitlab.com"}, {}),
        (
            {"allowed_domains": [" GitLab.com ", 7, None, "", {"x": 1}, "a\x00b"]},
            {"allowed_domains": ["gitlab.com", "a\ufffdb"]},
        ),
        (
            {"base_proxy_target_url": ["x"], "proxy_enabled": "yes", "extra": {"a": 1}},
            {},
        ),
        (
            {"base_proxy_target_url": "https://" + "h" * 2000, "proxy_enabled": False},
            {"base_proxy_target_url": ("https://" + "h" * 2000)[:500], "proxy_enabled": False},
        ),
    ],
)
def test_hostile_connect_objects_keep_only_what_has_its_type(db, sent, kept):
    app, _ = app_upsert_from_pipedream(data={"name_slug": "odd", "name": "Odd", "connect": sent})
    app.refresh_from_db()
    assert app.connect == kept


def test_a_huge_domain_list_is_bounded(db):
    domains = [f"d{i}.example" for i in range(5000)]
    app, _ = app_upsert_from_pipedream(
        data={"name_slug": "odd", "name": "Odd", "connect": {"allowed_domains": domains}}
    )
    app.refresh_from_db()
    assert app.connect["allowed_domains"] == domains[:MAX_ALLOWED_DOMAINS]


def test_the_admin_shows_an_apps_connect_object_read_only(admin_client):
    from django.urls import reverse

    from connections.models import App

    app = App.objects.create(
        slug="gitlab",
        name="GitLab",
        connect={"allowed_domains": ["gitlab.com"], "base_proxy_target_url": "https://gitlab.com"},
    )
    page = admin_client.get(reverse("admin:connections_app_change", args=[app.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "Connect proxy settings" in text and "gitlab.com" in text
    assert 'name="connect"' not in text  # shown, never editable

"""API keys in the admin: the key is shown once, on the page after Add, and only its
digest is kept; lists and the key's page show its prefix, never the key; Revoke needs
its own permission and makes the key answer 403; staff who may only look see prefix,
name and scopes, nothing secret."""

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from api import keys
from api.models import ApiKey
from tests.api.api_support import ApiClient, make_key

pytestmark = pytest.mark.django_db

ADD = reverse("admin:api_apikey_add")
LIST = reverse("admin:api_apikey_changelist")
URL = "/api/v1/members/completions"


def add_key(client, **data):
    form = {"name": "Community site", "scopes": ["completions:read"], **data}
    return client.post(ADD, form)


def test_the_key_is_shown_once_and_only_its_digest_is_stored(admin_client, client, alice):
    response = add_key(admin_client)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = response.context["key"]
    assert key.startswith("cck_") and key in response.content.decode()
    row = ApiKey.objects.get()
    assert row.digest == keys.digest_of(key) and key not in row.digest
    assert key.startswith(row.prefix + "_")
    assert row.scopes == ["completions:read"]
    assert row.created_by.username == "admin"
    # It works, once copied.
    api = ApiClient(client, key)
    assert api.get(URL, {"host_id": "host-alice-0001"}).status_code == 200
    # Never shown again: the list, the key's page, its history.
    secret = key.removeprefix(row.prefix)
    for page in (
        LIST,
        reverse("admin:api_apikey_change", args=[row.pk]),
        reverse("admin:api_apikey_history", args=[row.pk]),
    ):
        text = admin_client.get(page).content.decode()
        assert row.prefix in text
        assert secret not in text and row.digest not in text


def test_scopes_are_checkboxes_and_at_least_one_is_needed(admin_client):
    page = admin_client.get(ADD).content.decode()
    assert 'type="checkbox" name="scopes" value="completions:read"' in page
    assert 'type="checkbox" name="scopes" value="accounts:read"' in page
    response = add_key(admin_client, scopes=[])
    assert response.status_code == 200 and "key" not in response.context
    response = add_key(admin_client, scopes=["completions:write"])
    assert response.status_code == 200 and "key" not in response.context
    assert not ApiKey.objects.exists()


def test_an_expiry_in_the_past_is_refused(admin_client):
    response = add_key(admin_client, expires_at_0="2020-01-01", expires_at_1="10:00:00")
    assert "The expiry must be in the future." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_nul_in_the_name_is_refused(admin_client):
    response = add_key(admin_client, name="Com\x00munity")
    assert response.status_code == 200 and "key" not in response.context
    assert not ApiKey.objects.exists()


def _staff(client, username, codenames):
    user = get_user_model().objects.create_user(username=username, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="api", codename__in=codenames)
    )
    client.force_login(user)
    return client


def _revoke(client, row):
    return client.post(LIST, {"action": "revoke", "_selected_action": [row.pk]})


def test_revoke_needs_its_permission_then_the_key_answers_403(client, alice):
    key, row = make_key()
    editor = _staff(client, "editor", ["view_apikey", "change_apikey"])
    assert 'value="revoke"' not in editor.get(LIST).content.decode()
    _revoke(editor, row)
    row.refresh_from_db()
    assert row.revoked_at is None

    revoker = _staff(client, "revoker", ["view_apikey", "revoke_apikey"])
    assert 'value="revoke"' in revoker.get(LIST).content.decode()
    assert _revoke(revoker, row).status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None and row.revoked_by.username == "revoker"
    client.logout()
    response = ApiClient(client, key).get(URL, {"host_id": "host-alice-0001"})
    assert response.status_code == 403
    assert "Revoked" in _staff(client, "viewer", ["view_apikey"]).get(LIST).content.decode()


def test_staff_who_may_only_view_see_prefix_name_scopes_and_cannot_add(client):
    key, row = make_key(name="Community site")
    viewer = _staff(client, "viewer", ["view_apikey"])
    listing = viewer.get(LIST).content.decode()
    assert row.prefix in listing and "Community site" in listing
    assert "completions:read, accounts:read" in listing
    page = viewer.get(reverse("admin:api_apikey_change", args=[row.pk])).content.decode()
    assert row.prefix in page and "completions:read" in page
    assert row.digest not in page and key.removeprefix(row.prefix) not in page
    assert viewer.post(ADD, {"name": "x", "scopes": ["completions:read"]}).status_code == 403
    assert viewer.post(reverse("admin:api_apikey_delete", args=[row.pk])).status_code == 403


def test_keys_are_not_deleted_even_by_a_superuser(admin_client):
    _, row = make_key()
    response = admin_client.post(reverse("admin:api_apikey_delete", args=[row.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert ApiKey.objects.filter(pk=row.pk).exists()


def test_the_list_filters_by_state(admin_client):
    make_key(name="Live one")
    make_key(name="Gone one", revoked_at=timezone.now())
    active = admin_client.get(LIST + "?state=active").content.decode()
    assert "Live one" in active and "Gone one" not in active
    revoked = admin_client.get(LIST + "?state=revoked").content.decode()
    assert "Gone one" in revoked and "Live one" not in revoked


def _user(username):
    return get_user_model().objects.get(username=username)


def test_a_scope_is_given_only_by_staff_who_may_view_its_rows(client):
    _staff(client, "maker", ["add_apikey", "view_apikey"])
    _user("maker").user_permissions.add(Permission.objects.get(codename="view_completion"))
    refused = add_key(client, scopes=["completions:read", "accounts:read"])
    assert refused.status_code == 200 and "key" not in refused.context
    assert "You may not give the scope accounts:read" in refused.content.decode()
    assert not ApiKey.objects.exists()
    made = add_key(client, scopes=["completions:read"])
    assert "key" in made.context
    assert ApiKey.objects.get().scopes == ["completions:read"]


def test_a_change_may_keep_or_drop_a_scope_but_not_add_one_beyond_the_editors(client):
    _, row = make_key(name="Old name", scopes=["accounts:read"])
    _staff(client, "editor", ["view_apikey", "change_apikey"])
    _user("editor").user_permissions.add(Permission.objects.get(codename="view_completion"))
    change = reverse("admin:api_apikey_change", args=[row.pk])
    # Keeps accounts:read (it had it) and adds completions:read (the editor may view those).
    kept = client.post(
        change, {"name": "New name", "scopes": ["accounts:read", "completions:read"]}
    )
    assert kept.status_code == 302
    row.refresh_from_db()
    assert (row.name, sorted(row.scopes)) == ("New name", ["accounts:read", "completions:read"])

    _, other = make_key(scopes=["completions:read"])
    change = reverse("admin:api_apikey_change", args=[other.pk])
    refused = client.post(change, {"name": "x", "scopes": ["completions:read", "accounts:read"]})
    assert refused.status_code == 200
    assert "You may not give the scope accounts:read" in refused.content.decode()
    other.refresh_from_db()
    assert other.scopes == ["completions:read"]


def test_an_expired_key_can_still_be_renamed(admin_client):
    past = timezone.now() - timezone.timedelta(days=1)
    _, row = make_key(name="Old name", expires_at=past)
    local = timezone.localtime(past)
    response = admin_client.post(
        reverse("admin:api_apikey_change", args=[row.pk]),
        {
            "name": "Renamed",
            "scopes": row.scopes,
            "expires_at_0": local.strftime("%Y-%m-%d"),
            "expires_at_1": local.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.name == "Renamed" and row.state == ApiKey.State.EXPIRED


def test_making_a_key_is_in_its_history_without_the_key(admin_client):
    response = add_key(admin_client)
    key, row = response.context["key"], ApiKey.objects.get()
    entry = LogEntry.objects.get(object_id=str(row.pk))
    assert entry.action_flag == ADDITION and entry.user.username == "admin"
    assert row.prefix in entry.object_repr
    assert key.removeprefix(row.prefix) not in entry.object_repr + entry.change_message

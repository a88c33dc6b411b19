"""Members' connected accounts as CSV from their admin: member, app, health, Pipedream's
account ID, when; view permission only; queries that do not grow."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.models import App, ConnectedAccount
from tests.core.exports_support import as_dicts, export_action, read_csv, staff

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/connections/connectedaccount/"
EXPORT_ALL = "/admin/connections/connectedaccount/export/"


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True)


def account(username, app, **fields):
    member, _ = get_user_model().objects.get_or_create(username=username)
    return ConnectedAccount.objects.create(
        member=member, app=app, pipedream_id=f"apn_{username}_{app.slug}", **fields
    )


def test_accounts_with_health_and_ids(client, github):
    staff(client, "auditor", "connections.view_connectedaccount")
    checked = timezone.now()
    fine = account("ada", github, name="ada-gh", last_synced_at=checked)
    dead = account("bob", github, name="=cmd", dead=True, error="revoked")

    lines = {
        line["member"]: line
        for line in as_dicts(
            read_csv(export_action(client, CHANGELIST, [fine.pk, dead.pk]), "accounts")
        )
    }

    ada = lines["ada"]
    assert (ada["id"], ada["member id"]) == (str(fine.pk), str(fine.member_id))
    assert (ada["app"], ada["app name"], ada["health"]) == ("github", "GitHub", "healthy")
    assert ada["Pipedream account id"] == "apn_ada_github"
    assert ada["name"] == "ada-gh"
    assert ada["last checked"] == timezone.localtime(checked).strftime("%Y-%m-%d %H:%M:%S")
    assert (lines["bob"]["health"], lines["bob"]["error"]) == ("dead", "revoked")
    assert lines["bob"]["name"] == "'=cmd"


def test_export_all_follows_the_health_filter(client, github):
    staff(client, "auditor", "connections.view_connectedaccount")
    account("ada", github)
    account("bob", github, dead=True)

    unfiltered = client.get(CHANGELIST).content.decode()
    assert 'href="/admin/connections/connectedaccount/export/"' in unfiltered
    page = client.get(CHANGELIST, {"health": "dead"})
    assert 'href="/admin/connections/connectedaccount/export/?health=dead"' in (
        page.content.decode()
    )
    lines = as_dicts(read_csv(client.get(EXPORT_ALL, {"health": "dead"}), "accounts"))

    assert [line["member"] for line in lines] == ["bob"]


def test_without_the_view_permission_nothing_is_exported(client, github):
    staff(client, "members-only", "users.view_user")
    row = account("ada", github)

    assert client.get(EXPORT_ALL).status_code == 403
    assert export_action(client, CHANGELIST, [row.pk]).status_code == 403


def _export_queries(client, app, count: int) -> int:
    ConnectedAccount.objects.all().delete()
    rows = [account(f"m{count}-{i}", app) for i in range(count)]
    with CaptureQueriesContext(connection) as queries:
        lines = read_csv(export_action(client, CHANGELIST, [row.pk for row in rows]), "accounts")
    assert len(lines) == 1 + count
    return len(queries)


def test_queries_do_not_grow_with_the_accounts(client, github):
    staff(client, "auditor", "connections.view_connectedaccount")

    assert _export_queries(client, github, 10) == _export_queries(client, github, 50)

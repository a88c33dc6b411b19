"""Reads for Pipedream Connect: a member's accounts and the apps offered to them, and
the members a health poll visits."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Min, QuerySet

from connections.models import App, ConnectedAccount
from core import database


def accounts_for_member(*, member) -> QuerySet[ConnectedAccount]:
    """The member's accounts with their apps, so a page renders in constant queries."""
    return ConnectedAccount.objects.for_member(member).select_related("app")


@database.written
def _with_apps_statement(connection: Any) -> tuple[str, database.Columns, database.Columns]:
    quote = connection.ops.quote_name
    account = database.columns(ConnectedAccount, 0, connection)
    app = database.columns(App, account.end, connection)
    accounts, apps = quote(ConnectedAccount._meta.db_table), quote(App._meta.db_table)

    def col(model: Any, name: str) -> str:
        return database.column(connection, model, name)

    sql = (
        f"SELECT {', '.join(account.sql + app.sql)} FROM {accounts} "  # noqa: S608
        f"INNER JOIN {apps} ON {col(App, 'pk')} = {col(ConnectedAccount, 'app')} "
        f"WHERE {col(ConnectedAccount, 'member')} = %s "
        # ConnectedAccount's Meta.ordering, written out (test_accounts_with_apps_* compare).
        f"ORDER BY {col(App, 'order')} ASC, {col(App, 'name')} ASC, "
        f"{col(ConnectedAccount, 'name')} ASC, {col(ConnectedAccount, 'pk')} ASC"
    )
    return sql, account, app


def accounts_with_apps(member_id: int) -> list[ConnectedAccount]:
    """What `accounts_for_member(...)` lists, with the same instances, for the engine,
    which reads them for every completion it checks: the statement is written out once
    per process (core/database.py `Columns`), not compiled by the ORM each time."""
    db = ConnectedAccount.objects.db
    connection = connections[db]
    sql, account_part, app_part = _with_apps_statement(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [member_id])
        rows = cursor.fetchall()
    found: list[ConnectedAccount] = []
    for values in rows:
        row = list(values)
        account = database.instance(account_part, row, db, connection)
        assert isinstance(account, ConnectedAccount)
        ConnectedAccount._meta.get_field("app").set_cached_value(
            account, database.instance(app_part, row, db, connection)
        )
        found.append(account)
    return found


def account_for_member(*, member, account_id: int) -> ConnectedAccount:
    """One of the member's accounts; DoesNotExist for anyone else's (views answer 404)."""
    return accounts_for_member(member=member).get(pk=account_id)


def apps_available(*, member) -> QuerySet[App]:
    """The apps members may connect, in the admin's order."""
    return App.objects.enabled().order_by("order", "name")


def members_to_poll(limit: int | None = None):
    """Members with accounts, the least recently synced first."""
    members = (
        get_user_model()
        .objects.filter(connected_accounts__isnull=False)
        .annotate(synced=Min("connected_accounts__last_synced_at"))
        .order_by("synced", "pk")
        .distinct()
    )
    return members[:limit] if limit else members

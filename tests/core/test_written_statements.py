"""core.database.written: a statement written out from the models is made once per
process and database alias, and each alias gets its own."""

from types import SimpleNamespace

from django.db import connection

from core import database


def test_a_statement_is_made_once_per_database_alias():
    built = []

    @database.written
    def statement(conn):
        built.append(conn.alias)
        return f"SELECT 1 -- {conn.alias}"

    other = SimpleNamespace(alias="replica")
    first = statement(connection)
    assert statement(connection) is first
    assert statement(other) == "SELECT 1 -- replica"
    assert statement(other) == "SELECT 1 -- replica"
    assert built == [connection.alias, "replica"]

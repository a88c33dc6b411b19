"""The ledger's one write (`write`): a completion's move and its CompletionEvent rows,
made together or not at all.

On PostgreSQL that is one statement (the UPDATE in a WITH, the INSERT reading what it
moved); elsewhere an UPDATE and one INSERT in a transaction. The UPDATE is written out
when its conditions are plain values or `Condition`s (hand-written SQL, for the moves
made on every completion: compiling them through the ORM cost more CPU than running
them); anything else (lookups, ORM expressions) is compiled.
"""

from dataclasses import dataclass
from typing import Any, cast

from django.db import connections, transaction
from django.db.models import BooleanField, Field
from django.db.models.expressions import RawSQL
from django.db.models.sql import UpdateQuery

from claims.models import Claim, Completion, CompletionEvent
from core import database
from users.models import User


@dataclass(frozen=True)
class Condition:
    """A condition of a move, as SQL over the completion's table (unaliased)."""

    sql: str
    params: tuple[Any, ...] = ()

    def expression(self) -> RawSQL:
        # This module's own SQL; every value in it is a parameter.
        return RawSQL(self.sql, self.params, output_field=BooleanField())  # noqa: S611


def _quoted(model: Any, name: str | None = None) -> str:
    connection = connections[Completion.objects.db]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    if name is None:
        return table
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return f"{table}.{quote(field.column)}"


def claim_rules_are(claim: Any) -> Condition:
    """The claim still has no cap and the one-per-address rule `claim` was read with."""
    sql = (
        f"EXISTS (SELECT 1 FROM {_quoted(Claim)} WHERE {_quoted(Claim, 'pk')} = %s "  # noqa: S608
        f"AND {_quoted(Claim, 'cap')} IS NULL "
        f"AND {_quoted(Claim, 'one_completion_per_address')} = %s)"
    )
    return Condition(sql, (claim.pk, claim.one_completion_per_address))


def member_is_active() -> Condition:
    """The completion's member exists and is active."""
    sql = (
        f"EXISTS (SELECT 1 FROM {_quoted(User)} WHERE {_quoted(User, 'pk')} = "  # noqa: S608
        f"{_quoted(Completion, 'member')} AND {_quoted(User, 'is_active')} = %s)"
    )
    return Condition(sql, (True,))


def identity_is_free(claim_id: int, identity: str, besides: int) -> Condition:
    """No other completion of the claim holds the upstream identity."""
    connection = connections[Completion.objects.db]
    quote = connection.ops.quote_name
    opts = Completion._meta

    def other(name: str) -> str:
        field = cast("Field[Any, Any]", opts.pk if name == "pk" else opts.get_field(name))
        return f"other.{quote(str(field.column))}"

    sql = (
        f"NOT EXISTS (SELECT 1 FROM {_quoted(Completion)} other "  # noqa: S608
        f"WHERE {other('claim')} = %s AND {other('upstream_identity')} = %s "
        f"AND {other('pk')} <> %s)"
    )
    return Condition(sql, (claim_id, identity, besides))


def write(
    pk: int, fields: dict[str, Any], events: list[CompletionEvent], *only_if: Any, **filters: Any
) -> bool:
    """UPDATE the completion `pk` where `only_if` and `filters` hold, setting `fields`,
    and insert `events` (its ledger rows) only if it did. On PostgreSQL that is one
    statement (the UPDATE in a WITH, the INSERT reading what it moved); elsewhere an
    UPDATE and one INSERT in a transaction. Either way the move and its rows are one."""
    connection = connections[Completion.objects.db]
    update_sql, params = _update(connection, pk, fields, only_if, filters)
    if connection.vendor != "postgresql" or not events:
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            cursor.execute(update_sql, params)
            moved = cursor.rowcount
            if moved and events:
                CompletionEvent.objects.bulk_create(events)
        return bool(moved)
    returning, insert, select, columns = _event_insert(connection)
    for row in events:
        params.extend(
            field.get_db_prep_save(field.pre_save(row, True), connection) for field in columns
        )
    selects = " UNION ALL ".join([select] * len(events))
    sql = f"WITH moved AS ({update_sql} {returning}) {insert} {selects}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.rowcount > 0)


@database.written
def _event_insert(connection: Any) -> tuple[str, str, str, list[Any]]:
    """The moved row's RETURNING, the ledger rows' INSERT, the SELECT of one row from
    `moved` (each value typed, as its column is: a bare parameter in a SELECT would be
    text) and the fields whose values it takes, in order: written once per database."""
    quote = connection.ops.quote_name
    moved_id = f"{quote(Completion._meta.db_table)}.{quote(Completion._meta.pk.column)}"
    columns = [f for f in CompletionEvent._meta.concrete_fields if not f.primary_key]
    values = [
        "moved.id" if field.attname == "completion_id" else f"%s::{field.cast_db_type(connection)}"
        for field in columns
    ]
    returning = f"RETURNING {moved_id} AS id"
    insert = (
        f"INSERT INTO {quote(CompletionEvent._meta.db_table)} "
        f"({', '.join(quote(f.column) for f in columns)})"
    )
    select = f"SELECT {', '.join(values)} FROM moved"  # noqa: S608 (types only)
    params = [f for f in columns if f.attname != "completion_id"]
    return returning, insert, select, params


def _update(
    connection: Any, pk: int, fields: dict[str, Any], only_if: tuple[Any, ...], filters: Any
) -> tuple[str, list[Any]]:
    """`write`'s UPDATE: written out when each filter is a value (a move on its lease: the
    ORM's compiler costs more than the statement), else compiled (conditions, lookups)."""
    opts, quote = Completion._meta, connection.ops.quote_name
    written = [c for c in only_if if isinstance(c, Condition)]
    compiled = [c for c in only_if if not isinstance(c, Condition)]
    if compiled or any("__" in name or value is None for name, value in filters.items()):
        expressions = [c.expression() for c in written]
        rows = Completion.objects.filter(*compiled, *expressions, pk=pk, **filters)
        query = cast(UpdateQuery, rows.query.chain(UpdateQuery))
        query.add_update_values(fields)
        compiler = query.get_compiler(connection=connection)
        compiler.pre_sql_setup()
        update_sql, params = compiler.as_sql()
        return update_sql, list(params)
    sets, wheres, params = [], [], []
    for name, value in fields.items():
        field = cast("Field[Any, Any]", opts.get_field(name))  # a concrete column: a move's fields
        sets.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    for name, value in {"pk": pk, **filters}.items():
        field = cast("Field[Any, Any]", opts.pk if name == "pk" else opts.get_field(name))
        wheres.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_value(value, connection, prepared=False))
    for condition in written:
        wheres.append(f"({condition.sql})")
        params.extend(condition.params)
    table = quote(opts.db_table)
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {' AND '.join(wheres)}", params  # noqa: S608

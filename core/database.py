"""Database connections that drop under a request or a task; and hand-written reads.

`connection_lost(exc)` says whether an exception came from a connection that went away
(a PostgreSQL restart, a proxy cutting an idle connection, a failover); `connection_reset()`
closes the broken connections of this thread so the next query opens a fresh one. The
request middleware (config/middleware.py) and the task workers (claims/tasks.py,
connections/tasks.py) both use them. `no_retry` marks a view the middleware must not run
twice.

`Columns`, `columns()`, `instance()` and `column()` write a statement from the models'
own tables and columns and turn its rows into instances as the ORM would, for the few
statements made on every completion or upstream request; `@written` makes each such
statement once per process and database.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate

from django.db import DatabaseError, connections
from django.db.models import Model
from django.http import HttpRequest

NO_RETRY = "_database_no_retry"


def no_retry[**P, R](
    view: Callable[Concatenate[HttpRequest, P], R],
) -> Callable[Concatenate[HttpRequest, P], R]:
    """For a GET view with side effects elsewhere (it mints a Connect token at Pipedream,
    or records what Pipedream says): a lost connection answers 503, never runs it twice."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> R:
        setattr(request, NO_RETRY, True)
        return view(request, *args, **kwargs)

    return wrapped


# What drivers say when the connection went away under them.
CLOSED = ("closed database", "connection is closed", "connection already closed")


def _usable(alias: str) -> bool:
    connection = connections[alias]
    if connection.connection is None:
        # Nothing closes a connection in the middle of a request or a task but Django
        # itself, after a rollback failed ("something went wrong with the connection").
        return False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


def _database_error(exc: BaseException) -> bool:
    """Django's wrapped errors, or the driver's own (raised where Django does not wrap,
    such as a cursor closed on a dead connection)."""
    if isinstance(exc, DatabaseError):
        return True
    return any(
        # Database: the driver module each backend sets on its wrapper (not in the stubs).
        isinstance(exc, conn.Database.Error)  # type: ignore[attr-defined]
        for conn in connections.all(initialized_only=True)
    )


def connection_lost(exc: BaseException) -> bool:
    """Did `exc` come from a database connection that dropped (or cannot be reached)?"""
    if not _database_error(exc):
        return False
    if type(exc).__name__ in ("OperationalError", "InterfaceError"):
        return True
    if any(words in str(exc).lower() for words in CLOSED):
        # SQLite's connection closed under it; Django may have reconnected already, so
        # the probe below would find nothing wrong.
        return True
    return not all(_usable(conn.alias) for conn in connections.all(initialized_only=True))


def connection_reset() -> None:
    """Close every connection of this thread that is broken, so the next query reconnects.

    Inside an atomic block Django only marks the connection (it is closed when the block
    ends), which is what it should be.
    """
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        try:
            connection.close()
        except DatabaseError:
            # Closing a dead socket may complain; drop the handle regardless.
            connection.connection = None


def converters(connection: Any, field: Any) -> tuple[list[Any], Any]:
    """What the ORM runs on `field`'s value from a row `connection` returned (the
    backend's converters, then the field's), and the column expression they take: for
    hand-written statements. Each is called as converter(value, column, connection)."""
    col = field.get_col(field.model._meta.db_table)
    return connection.ops.get_db_converters(col) + col.get_db_converters(connection), col


def from_db(connection: Any, field: Any, value: Any) -> Any:
    """`value` as the ORM would give it for `field` from a row `connection` returned."""
    found, col = converters(connection, field)
    for converter in found:
        value = converter(value, col, connection)
    return value


@dataclass(frozen=True)
class Columns:
    """One model's columns in a hand-written statement: their SQL (table.column, quoted),
    where they sit in its rows, and what the ORM runs on each value (`instance`).

    For a read the engine makes for every completion: the ORM would compile the same
    query afresh each time, which cost more CPU than the database spent answering it. The
    statement is written once per process from the models' own fields (a migration that
    adds a column is read with it), and its rows become instances as the ORM makes them.
    """

    model: type[Model]
    start: int
    end: int
    sql: list[str]
    attnames: list[str]
    converters: list[tuple[int, list[Any], Any]]


def written[T](build: Callable[[Any], T]) -> Callable[[Any], T]:
    """`build(connection)` made once per process and database alias, then given back: for
    a statement written out from the models' tables and columns (and what reads its
    rows), which the ORM would otherwise compile afresh on every call."""
    made: dict[str, T] = {}

    @functools.wraps(build)
    def get(connection: Any) -> T:
        found = made.get(connection.alias)
        if found is None:
            found = made[connection.alias] = build(connection)
        return found

    return get


def column(connection: Any, model: type[Model], name: str) -> str:
    """`model`'s field `name` ("pk" for the primary key) as table.column, quoted."""
    quote = connection.ops.quote_name
    field: Any = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return f"{quote(model._meta.db_table)}.{quote(field.column)}"


def columns(model: type[Model], start: int, connection: Any) -> Columns:
    """`model`'s concrete fields as the columns of a row from index `start`."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    fields = list(model._meta.concrete_fields)
    found_converters = []
    for i, field in enumerate(fields):
        found, col = converters(connection, field)
        if found:
            found_converters.append((start + i, found, col))
    return Columns(
        model,
        start,
        start + len(fields),
        [f"{table}.{quote(field.column)}" for field in fields],
        [field.attname for field in fields],
        found_converters,
    )


def instance(part: Columns, row: list[Any], db: str, connection: Any) -> Model:
    """The model instance `part` of `row` stands for, as the ORM would make it (`row`'s
    values are converted in place)."""
    for index, found, col in part.converters:
        value = row[index]
        for converter in found:
            value = converter(value, col, connection)
        row[index] = value
    return part.model.from_db(db, part.attnames, row[part.start : part.end])

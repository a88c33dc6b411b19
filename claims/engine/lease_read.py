"""The lease's read (ledger.take): a completion, locked, with its claim, its member and
two facts the engine needs next, in one SELECT.

The ORM would compile the same query afresh for every completion, and that compiling
cost more CPU than the database spent answering it. The statement is written out once
per process and database from the models' own columns (so a migration that adds a
column is read with it), and its rows are turned into instances as the ORM does
(`Model.from_db`, each column through the backend's and the field's converters).

Read with it, so that neither needs a query of its own:
- `lease_email_verified`: whether the member has a confirmed email (evaluation);
- `lease_paused`: whether BitBadges deliveries are paused (delivery reads the pause
  again when it is on).
"""

from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from django.db import connections
from django.db.models import Model
from django.db.models.expressions import Col

from claims.models import Claim, Completion, DeliveryPause
from core import database
from users.models import User


@dataclass(frozen=True)
class _Part:
    """One model's columns in the row: where they start and end, and their converters."""

    model: type[Model]
    start: int
    end: int
    attnames: list[str]
    converters: list[tuple[int, list[Any], Col]]


@dataclass(frozen=True)
class _Statement:
    sql: str
    parts: tuple[_Part, _Part, _Part]  # the completion, its claim, its member


_statements: dict[str, _Statement] = {}


def _part(model: type[Model], start: int, connection: Any) -> tuple[_Part, list[str]]:
    quote = connection.ops.quote_name
    table = model._meta.db_table
    fields = list(model._meta.concrete_fields)
    converters = []
    for i, field in enumerate(fields):
        found, col = database.converters(connection, field)
        if found:
            converters.append((start + i, found, col))
    columns = [f"{quote(table)}.{quote(field.column)}" for field in fields]
    part = _Part(model, start, start + len(fields), [f.attname for f in fields], converters)
    return part, columns


def _statement(connection: Any) -> _Statement:
    quote = connection.ops.quote_name
    completion, completion_cols = _part(Completion, 0, connection)
    # The two facts sit between the completion's columns and the claim's.
    claim, claim_cols = _part(Claim, completion.end + 2, connection)
    member, member_cols = _part(User, claim.end, connection)
    c_table, emails = quote(Completion._meta.db_table), quote(EmailAddress._meta.db_table)
    claims_table, users = quote(Claim._meta.db_table), quote(User._meta.db_table)
    pauses = quote(DeliveryPause._meta.db_table)
    member_id = f"{c_table}.{quote(Completion._meta.get_field('member').column)}"
    claim_id = f"{c_table}.{quote(Completion._meta.get_field('claim').column)}"
    email_user = quote(EmailAddress._meta.get_field("user").column)
    verified = quote(EmailAddress._meta.get_field("verified").column)
    upstream = quote(DeliveryPause._meta.get_field("upstream").column)
    facts = [
        f"EXISTS (SELECT 1 FROM {emails} WHERE {emails}.{email_user} = {member_id} "  # noqa: S608
        f"AND {emails}.{verified} = %s)",
        f"EXISTS (SELECT 1 FROM {pauses} WHERE {pauses}.{upstream} = %s)",  # noqa: S608
    ]
    sql = (
        f"SELECT {', '.join(completion_cols + facts + claim_cols + member_cols)} "  # noqa: S608
        f"FROM {c_table} "
        f"INNER JOIN {claims_table} ON {claims_table}.{quote(Claim._meta.pk.column)} = {claim_id} "
        f"LEFT OUTER JOIN {users} ON {users}.{quote(User._meta.pk.column)} = {member_id} "
        f"WHERE {c_table}.{quote(Completion._meta.pk.column)} = %s"
    )
    if connection.features.has_select_for_update_of:
        sql += f" FOR UPDATE OF {c_table}"  # only the completion is locked
    elif connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return _Statement(sql, (completion, claim, member))


def _instance(part: _Part, row: list[Any], db: str, connection: Any) -> Model:
    for index, converters, col in part.converters:
        value = row[index]
        for converter in converters:
            value = converter(value, col, connection)
        row[index] = value
    return part.model.from_db(db, part.attnames, row[part.start : part.end])


def read(completion_id: int) -> Completion | None:
    """The completion `completion_id`, locked (inside the caller's transaction), with its
    claim and member (None if the member is gone) attached, or None if there is none."""
    db = Completion.objects.db
    connection = connections[db]
    statement = _statements.get(connection.alias)
    if statement is None:
        statement = _statements[connection.alias] = _statement(connection)
    params: list[Any] = [True, DeliveryPause.Upstream.BITBADGES.value, completion_id]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        found = cursor.fetchone()
    if found is None:
        return None
    row = list(found)
    parts = statement.parts
    completion = _instance(parts[0], row, db, connection)
    assert isinstance(completion, Completion)
    completion.lease_email_verified = bool(row[parts[0].end])  # type: ignore[attr-defined]
    completion.lease_paused = bool(row[parts[0].end + 1])  # type: ignore[attr-defined]
    Completion._meta.get_field("claim").set_cached_value(
        completion, _instance(parts[1], row, db, connection)
    )
    member = None
    if row[parts[2].start] is not None:
        member = _instance(parts[2], row, db, connection)
    Completion._meta.get_field("member").set_cached_value(completion, member)
    return completion

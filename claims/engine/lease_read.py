"""The lease's read (ledger.take): a completion, locked, with its claim, its member and
two facts the engine needs next, in one SELECT.

Written out once per process and database (core/database.py `Columns`: compiling it
with the ORM for every completion cost more CPU than the database spent answering it).

Read with it, so that neither needs a query of its own:
- `lease_email_verified`: whether the member has a confirmed email (evaluation);
- `lease_paused`: whether BitBadges deliveries are paused (delivery reads the pause
  again when it is on).
"""

from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from django.db import connections

from claims.models import Claim, Completion, DeliveryPause
from core import database
from users.models import User


@dataclass(frozen=True)
class _Statement:
    sql: str
    parts: tuple[database.Columns, database.Columns, database.Columns]  # completion, claim, member


@database.written
def _statement(connection: Any) -> _Statement:
    quote = connection.ops.quote_name
    completion = database.columns(Completion, 0, connection)
    # The two facts sit between the completion's columns and the claim's.
    claim = database.columns(Claim, completion.end + 2, connection)
    member = database.columns(User, claim.end, connection)
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
        f"SELECT {', '.join(completion.sql + facts + claim.sql + member.sql)} "  # noqa: S608
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


def read(completion_id: int) -> Completion | None:
    """The completion `completion_id`, locked (inside the caller's transaction), with its
    claim and member (None if the member is gone) attached, or None if there is none."""
    db = Completion.objects.db
    connection = connections[db]
    statement = _statement(connection)
    params: list[Any] = [True, DeliveryPause.Upstream.BITBADGES.value, completion_id]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        found = cursor.fetchone()
    if found is None:
        return None
    row = list(found)
    parts = statement.parts
    completion = database.instance(parts[0], row, db, connection)
    assert isinstance(completion, Completion)
    completion.lease_email_verified = bool(row[parts[0].end])  # type: ignore[attr-defined]
    completion.lease_paused = bool(row[parts[0].end + 1])  # type: ignore[attr-defined]
    Completion._meta.get_field("claim").set_cached_value(
        completion, database.instance(parts[1], row, db, connection)
    )
    member = None
    if row[parts[2].start] is not None:
        member = database.instance(parts[2], row, db, connection)
    Completion._meta.get_field("member").set_cached_value(completion, member)
    return completion

"""The programme's data version: a number the database bumps in the same transaction as
any change to the rows the funnel and the admin home count, so figures cached under it
are never stale (invalidation by rule, whatever code path wrote: a save, a queryset
update, bulk_create, the engine's raw SQL, an admin edit, a migration).

`WATCHED` names those rows: the model, and the columns whose change alters a figure
(inserts and deletes always count). A trigger on each table adds one to a counter row
when its transaction commits:

- PostgreSQL: a deferred constraint trigger, once per transaction (a transaction-local
  setting makes the rows after the first return at once), on one of SLOTS counter rows
  chosen by the transaction id, so concurrent writers rarely wait on each other, and
  only at commit, holding nothing else they could wait for (no deadlock);
- SQLite: a trigger per row (one writer at a time anyway).

`current()` is the sum of the counters. A reader reads it BEFORE computing: any change
committed after that read bumps the sum, so a figure cached under a sum is the data as
it was at that sum (or newer, under a sum nobody reads again). Inside a transaction
nothing is kept (`current()` is None there): its own uncommitted writes are not in the
sum yet, or may be rolled back.

The triggers are dropped before every `migrate` and (re)installed after it, the version
bumped (operations/models.py connects `uninstall` to pre_migrate, `install` to
post_migrate): a migration may alter or drop any column (PostgreSQL refuses to drop one
a trigger names; SQLite's table rebuild drops the triggers), and what it writes is read
again.
"""

from collections.abc import Callable

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

MISSING = object()
READ = object()  # cached(): read the version now
# Only how long an entry may take room: a newer version makes it unread long before.
KEEP_SECONDS = 24 * 3600

TABLE = "operations_data_version"
FUNCTION = "operations_data_version_bump"
SLOTS = 16

# model label -> fields whose UPDATE changes a figure (None: any column).
WATCHED: dict[str, tuple[str, ...]] = {
    settings.AUTH_USER_MODEL: (
        "address",
        "proven_address",
        "address_proven_at",
        "signup_method",
        "is_staff",
        "is_superuser",
        "is_active",
        "date_joined",
    ),
    "account.EmailAddress": ("user", "verified"),
    "socialaccount.SocialAccount": ("user", "provider"),
    "connections.ConnectedAccount": ("member", "app", "healthy", "dead"),
    "connections.SiteAccount": ("app", "healthy", "dead"),
    "claims.Claim": ("name",),
    "claims.Requirement": ("claim", "app", "group"),
    "claims.Completion": (
        "claim",
        "member",
        "state",
        "completed_at",
        "address",
        "outcome_unknown",
        "paused_at",
    ),
    "claims.CompletionEvent": ("completion", "at", "reason", "from_state", "to_state"),
}


def _watched(connection: BaseDatabaseWrapper) -> list[tuple[str, str, list[str]]]:
    """(trigger name, quoted table, quoted columns) for each watched model."""
    quote = connection.ops.quote_name
    rows = []
    for label, fields in WATCHED.items():
        model = apps.get_model(label)
        names = {field.name: field for field in model._meta.concrete_fields}
        # A field removed since is left out (its migration ran with no trigger on it).
        columns = [quote(names[name].column) for name in fields if name in names]
        table = model._meta.db_table
        rows.append((f"operations_dv_{table}"[:60], quote(table), columns))
    return rows


def _postgresql(connection: BaseDatabaseWrapper) -> list[str]:
    statements = [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (slot smallint PRIMARY KEY, n bigint NOT NULL)",
        f"INSERT INTO {TABLE} (slot, n) SELECT slot, 0 FROM generate_series(0, {SLOTS - 1}) "  # noqa: S608
        "AS slot ON CONFLICT (slot) DO NOTHING",
        f"""CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('operations.data_version_bumped', true) = '1' THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('operations.data_version_bumped', '1', true);
  UPDATE {TABLE} SET n = n + 1 WHERE slot = txid_current() % {SLOTS};
  RETURN NULL;
END $$""",  # noqa: S608
    ]
    for name, table, columns in _watched(connection):
        statements += [
            f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"CREATE CONSTRAINT TRIGGER {name} "
            f"AFTER INSERT OR DELETE OR UPDATE OF {', '.join(columns)} ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
        ]
    return statements


def _sqlite(connection: BaseDatabaseWrapper) -> list[str]:
    statements = [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (slot integer PRIMARY KEY, n integer NOT NULL)",
        f"INSERT OR IGNORE INTO {TABLE} (slot, n) VALUES (0, 0)",  # noqa: S608
    ]
    bump = f"BEGIN UPDATE {TABLE} SET n = n + 1 WHERE slot = 0; END"  # noqa: S608
    for name, table, columns in _watched(connection):
        for event, suffix in (
            ("INSERT", "i"),
            ("DELETE", "d"),
            (f"UPDATE OF {', '.join(columns)}", "u"),
        ):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {name}_{suffix} AFTER {event} ON {table} {bump}"
            )
    return statements


def install(using: str = "default", **_: object) -> None:
    """Create the counter and the triggers (idempotent), then bump the version: what a
    migration wrote while they were off (`uninstall`) is read again."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        statements = _postgresql(connection)
    elif connection.vendor == "sqlite":
        statements = _sqlite(connection)
    else:  # pragma: no cover - the settings allow only these two
        return
    statements.append(f"UPDATE {TABLE} SET n = n + 1 WHERE slot = 0")  # noqa: S608
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def uninstall(using: str = "default", **_: object) -> None:
    """Drop the triggers (before `migrate`: a migration may alter or drop a column one
    watches, which PostgreSQL would refuse while a trigger names it)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        found = "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE %s"
        drop = "DROP TRIGGER IF EXISTS {name} ON {table}"
    elif connection.vendor == "sqlite":
        found = "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s"
        drop = "DROP TRIGGER IF EXISTS {name}"
    else:  # pragma: no cover - the settings allow only these two
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(found, ["operations_dv_%"])  # only ours start so
        for name, table in cursor.fetchall():
            cursor.execute(drop.format(name=quote(name), table=table))


def current(using: str = "default") -> int | None:
    """The data version now (one query); None inside a transaction (atomic block): its
    own writes, not committed yet, have not bumped it (PostgreSQL bumps at commit) or
    may yet be rolled back (SQLite bumps at once), so nothing read there is kept."""
    connection = connections[using]
    if connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT SUM(n) FROM {TABLE}")  # noqa: S608 - constants only
        (value,) = cursor.fetchone()
    return int(value or 0)


def cached[T](
    name: str, compute: Callable[[], T], *parts: object, version: int | None | object = READ
) -> T:
    """`compute()`'s value, kept under the data version and `parts` (what else the value
    depends on, e.g. the day). `version`: as `current()` gave it, read BEFORE computing
    (by default, read now); None: not kept (computed each time)."""
    if version is READ:
        version = current()
    if version is None:
        return compute()
    key = ":".join(["dv", name, str(version), *(str(part) for part in parts)])
    key = key.replace(" ", "T")  # datetimes as ISO, with no space (memcached's keys)
    value = cache.get(key, MISSING)
    if value is MISSING:
        value = compute()
        cache.set(key, value, KEEP_SECONDS)
    return value

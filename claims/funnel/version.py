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
moved on (operations/models.py connects `uninstall` to pre_migrate, `install` to
post_migrate): a migration may alter or drop any column (PostgreSQL refuses to drop one
a trigger names; SQLite's table rebuild drops the triggers), and what it writes is read
again. The move is a random leap of about 2**40, not one: a database restored from a
backup has its counter rewound, and counting up from there would reach versions the
cache holds figures of the other data under; once it is migrated (after a restore, as
on every deploy) it is far past them. `uninstall` also writes an "off" row that only
`install` removes: while it is there (a `migrate` under way, or one that failed before
its post_migrate), `current()` is None and figures are computed on each read, never
kept nor answered from the cache, until a `migrate` runs to the end.
"""

import datetime
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.tasks import task
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

MISSING = object()
READ = object()  # Reading(): read the version now
# Only how long an entry may take room: a newer version makes it unread long before.
KEEP_SECONDS = 24 * 3600
# How long a queued recompute keeps others from queueing (the task lets it go when it
# ends; this only bounds the wait when no worker runs it).
COUNTING_SECONDS = 300
# The modules whose functions a recompute may call (a task's arguments name them).
COMPUTE_PREFIXES = ("claims.funnel.", "operations.home.")

TABLE = "operations_data_version"
FUNCTION = "operations_data_version_bump"
SLOTS = 16
OFF = -1  # the slot of the row that says the triggers are off (uninstall, until install)
# Off for longer than this, the migrate that turned them off is taken to have failed: the
# log says so at ERROR (before, a migrate under way: a WARNING, as on every deploy).
OFF_FAILED_SECONDS = 15 * 60
# What install() adds to the version: between LEAP and 2 x LEAP (the counter is a 64-bit
# integer: millions of installs before it could overflow).
LEAP = 2**40

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
    """(trigger name, quoted table, quoted columns) for each watched model whose table
    the database has now, with the watched columns it has now: after `migrate` to an
    earlier state (a table or a column not made yet), only what exists is watched."""
    quote = connection.ops.quote_name
    rows = []
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for label, fields in WATCHED.items():
            model = apps.get_model(label)
            table = model._meta.db_table
            if table not in tables:
                continue
            present = {
                c.name for c in connection.introspection.get_table_description(cursor, table)
            }
            names = {field.name: field for field in model._meta.concrete_fields}
            columns = [
                quote(names[name].column)
                for name in fields
                if name in names and names[name].column in present
            ]
            rows.append((f"operations_dv_{table}"[:60], quote(table), columns))
    return rows


def _update_of(columns: list[str]) -> str:
    return f" OR UPDATE OF {', '.join(columns)}" if columns else ""


_COUNTER = {
    "postgresql": f"CREATE TABLE IF NOT EXISTS {TABLE} (slot smallint PRIMARY KEY, n bigint NOT NULL)",
    "sqlite": f"CREATE TABLE IF NOT EXISTS {TABLE} (slot integer PRIMARY KEY, n integer NOT NULL)",
}


def _postgresql(connection: BaseDatabaseWrapper) -> list[str]:
    statements = [
        _COUNTER["postgresql"],
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
            f"AFTER INSERT OR DELETE{_update_of(columns)} ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
        ]
    return statements


def _sqlite(connection: BaseDatabaseWrapper) -> list[str]:
    statements = [
        _COUNTER["sqlite"],
        f"INSERT OR IGNORE INTO {TABLE} (slot, n) VALUES (0, 0)",  # noqa: S608
    ]
    bump = f"BEGIN UPDATE {TABLE} SET n = n + 1 WHERE slot = 0; END"  # noqa: S608
    for name, table, columns in _watched(connection):
        events = [("INSERT", "i"), ("DELETE", "d")]
        if columns:
            events.append((f"UPDATE OF {', '.join(columns)}", "u"))
        for event, suffix in events:
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
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        # A leap, not a step: a database restored from a backup (its counter rewound)
        # and migrated again never reaches a version the cache holds figures of.
        leap = secrets.randbelow(LEAP) + LEAP
        cursor.execute(f"UPDATE {TABLE} SET n = n + %s WHERE slot = 0", [leap])  # noqa: S608
        cursor.execute(f"DELETE FROM {TABLE} WHERE slot = %s", [OFF])  # noqa: S608


def uninstall(using: str = "default", **_: object) -> None:
    """Mark the version off (the "off" row, with when), then drop the triggers (before
    `migrate`: a migration may alter or drop a column one watches, which PostgreSQL would
    refuse while a trigger names it)."""
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
        # Off first: should the migration fail, no figure is kept under a version that
        # no longer moves (install, at the end of a migrate that finished, removes it).
        cursor.execute(_COUNTER[connection.vendor])
        # Its n: when they went off (Unix time), kept from the first of several tries.
        cursor.execute(
            f"INSERT INTO {TABLE} (slot, n) VALUES (%s, %s) ON CONFLICT (slot) DO NOTHING",  # noqa: S608
            [OFF, int(time.time())],
        )
        cursor.execute(found, ["operations_dv_%"])  # only ours start so
        for name, table in cursor.fetchall():
            cursor.execute(drop.format(name=quote(name), table=table))


def current(using: str = "default") -> int | None:
    """The data version now (one query); None inside a transaction (atomic block): its
    own writes, not committed yet, have not bumped it (PostgreSQL bumps at commit) or
    may yet be rolled back (SQLite bumps at once), so nothing read there is kept. None
    too while the triggers are off (a `migrate` under way or one that failed): nothing
    counts changes then, so nothing may be kept or answered under a version."""
    connection = connections[using]
    if connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT SUM(CASE WHEN slot >= 0 THEN n ELSE 0 END), "  # noqa: S608 - constants only
            f"MAX(CASE WHEN slot = {OFF} THEN n END) FROM {TABLE}"
        )
        value, off_since = cursor.fetchone()
    if off_since is not None:
        _say_off(using, int(off_since))
        return None
    _said_off.pop(using, None)
    return int(value or 0)


_said_off: dict[str, int] = {}  # per database: the level last logged (once a process each)


def _say_off(using: str, since: int) -> None:
    """Log, once per process and level, that the figures are counted on every load:
    a WARNING while a migrate may be running, an ERROR once it is taken to have failed."""
    elapsed = max(0, int(time.time()) - since)
    failed = elapsed >= OFF_FAILED_SECONDS
    level = logging.ERROR if failed else logging.WARNING
    if _said_off.get(using, 0) >= level:
        return
    _said_off[using] = level
    if failed:
        logger.error(
            "The data version's triggers have been off for %s minutes: a migrate did not "
            "finish. The admin home's and the funnel's figures are counted on every load "
            "until `manage.py migrate` runs to the end.",
            elapsed // 60,
        )
    else:
        logger.warning(
            "The data version's triggers are off (a migrate under way): the admin home's "
            "and the funnel's figures are counted on every load until it ends."
        )


def _key(kind: str, name: str, parts: Sequence[str], version: object = "") -> str:
    # The database's name too: two databases on one cache (a bench's copy, a test run)
    # have versions of their own, and a newest entry must not pass from one to the other.
    database = str(connections["default"].settings_dict["NAME"])
    key = ":".join([kind, database, name, str(version), *parts])
    return key.replace(" ", "T")  # memcached's keys have no space


def figures[Compute: Callable[..., Any]](function: Compute) -> Compute:
    """Mark a module-level function of strings as figures a Reading may keep: a task
    names it by its path, and `_compute` calls nothing else."""
    function.figures_function = True  # type: ignore[attr-defined]
    return function


def _compute(path: str, parts: Sequence[str]) -> Any:
    """The value of the figures' function at `path` (marked with @figures) for `parts`.
    A task's arguments are read back from the database: a path outside the figures'
    modules is not even imported, and one inside them must be marked."""
    if not path.startswith(COMPUTE_PREFIXES):
        raise ValueError(f"not a figures function: {path}")
    try:
        function = import_string(path)
    except ImportError:
        function = None
    if not getattr(function, "figures_function", False):
        raise ValueError(f"not a figures function: {path}")
    return function(*parts)


def _store(name: str, path: str, parts: Sequence[str], version: int, value: Any) -> Any:
    """Keep `value` (computed after `version` was read) under that version, and as the
    newest figures of `name` unless newer ones are kept already."""
    cache.set(_key("dv", name, parts, version), value, KEEP_SECONDS)
    newest_key = _key("dv-newest", name, parts)
    newest = cache.get(newest_key)
    if newest is None or newest["version"] <= version:
        entry = {"version": version, "at": timezone.now(), "value": value}
        cache.set(newest_key, entry, KEEP_SECONDS)
    return value


@dataclass
class Reading:
    """One page's figures, read under one data version (`version`: as `current()` gave
    it, read BEFORE anything is computed; by default read now; None: nothing kept).

    `get()` answers the figures kept under that version, else computes them. With
    `stale_ok` (the admin home, the funnel PAGE: never the CSV, a download of record),
    when they are not kept under it but older ones were computed (the newest figures of
    that name, kept whatever the version, with their version and when they were
    computed), it answers those at once, notes `as_of` (when the oldest figures it
    answered were computed: the page must say so) and `queue()` then asks the task
    worker to count again (one task, however many loads ask: a short-lived "counting"
    key per figures). Nothing ever computed (first load, cache lost): computed here."""

    version: int | None | object = READ
    stale_ok: bool = False
    as_of: datetime.datetime | None = None
    stale: list[list[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.version is READ:
            self.version = current()

    def get(self, name: str, path: str, *parts: str) -> Any:
        version = self.version
        if not isinstance(version, int):  # None: inside a transaction, nothing kept
            return _compute(path, parts)
        value = cache.get(_key("dv", name, parts, version), MISSING)
        if value is not MISSING:
            return value
        newest = cache.get(_key("dv-newest", name, parts))
        if newest is not None and newest["version"] >= version:
            return newest["value"]  # computed after this version was read: current
        if newest is not None and self.stale_ok:
            self.as_of = min(self.as_of or newest["at"], newest["at"])
            self.stale.append([name, path, list(parts)])
            return newest["value"]
        return _store(name, path, parts, version, _compute(path, parts))

    def queue(self) -> bool:
        """Queue one recompute of the stale figures this page answered, unless one is
        counting them already; whether a task was queued."""
        items = [
            item
            for item in self.stale
            if cache.add(_key("dv-counting", item[0], item[2]), 1, COUNTING_SECONDS)
        ]
        self.stale = []
        if not items:
            return False
        try:
            figures_refresh_task.enqueue(items)
        except Exception:  # the page still answers; the next load queues again
            for name, _, parts in items:
                cache.delete(_key("dv-counting", name, parts))
            logger.exception("Figures: could not queue their recompute")
            return False
        return True


@task()
def figures_refresh_task(items: list[list[Any]]) -> int | None:
    """Count `items` ([name, function path, parts]) again under the data version now,
    keeping them under it and as the newest; the "counting" keys are let go either way.
    The data version it counted under, None if it could not read one."""
    version = current()
    try:
        for name, path, parts in items:
            if version is not None:
                _store(name, path, parts, version, _compute(path, parts))
    finally:
        for name, _, parts in items:
            cache.delete(_key("dv-counting", name, parts))
    return version

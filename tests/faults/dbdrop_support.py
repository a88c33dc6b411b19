"""Drop a database connection at a chosen point of a request (or of a task), for real.

`DropPlan.drop(sql=..., path=..., times=n)` arms a rule: the next `times` queries whose
SQL contains `sql`, made while serving a request whose path starts with `path` (any
thread when `path` is None), lose their connection just before they run:

- PostgreSQL: the connection's backend is terminated with pg_terminate_backend() from
  another connection, exactly what a restart or an operator does; the query then fails
  with the server's own error.
- SQLite (a file: no server to cut): the DB-API connection is closed underneath Django,
  which then runs the query on it.

Nothing in the app is patched: the hook is an execute wrapper added to every database
connection opened while the plan is active (Django's connection_created signal), and
the request path comes from the request_started signal.
"""

import threading
import time
from dataclasses import dataclass, field

from django.core.signals import request_finished, request_started
from django.db import connections
from django.db.backends.signals import connection_created

_local = threading.local()


@dataclass
class Rule:
    sql: str
    path: str | None
    method: str | None
    times: int
    skip: int = 0
    fired: list = field(default_factory=list)


class DropPlan:
    def __init__(self):
        self.rules: list[Rule] = []
        self.lock = threading.RLock()
        self.wrapped: list = []
        self._control = None

    # --- arming -------------------------------------------------------------------

    def drop(
        self, *, sql: str, path: str | None = None, method: str | None = None, times=1, skip=0
    ):
        """Arm: the `times` matching queries after the first `skip` lose their connection."""
        rule = Rule(sql=sql, path=path, method=method, times=times, skip=skip)
        with self.lock:
            self.rules.append(rule)
        return rule

    def disarm(self) -> None:
        with self.lock:
            self.rules.clear()

    @property
    def fired(self) -> list:
        return [hit for rule in self.rules for hit in rule.fired]

    # --- installing -----------------------------------------------------------------

    def install(self) -> None:
        connection_created.connect(self._on_connection, dispatch_uid=id(self))
        request_started.connect(_on_request_started, dispatch_uid="dbdrop-started")
        request_finished.connect(_on_request_finished, dispatch_uid="dbdrop-finished")
        for conn in connections.all(initialized_only=True):
            self._wrap(conn)

    def uninstall(self) -> None:
        connection_created.disconnect(dispatch_uid=id(self))
        request_started.disconnect(dispatch_uid="dbdrop-started")
        request_finished.disconnect(dispatch_uid="dbdrop-finished")
        for conn in self.wrapped:
            if self._wrapper in conn.execute_wrappers:
                conn.execute_wrappers.remove(self._wrapper)
        self.wrapped.clear()
        if self._control is not None:
            self._control.close()
            self._control = None

    def _on_connection(self, sender, connection, **kwargs):
        self._wrap(connection)

    def _wrap(self, conn) -> None:
        if self._wrapper not in conn.execute_wrappers:
            conn.execute_wrappers.append(self._wrapper)
            self.wrapped.append(conn)

    # --- firing ----------------------------------------------------------------------

    def _take(self, sql: str):
        method, path = getattr(_local, "request", (None, None))
        with self.lock:
            for rule in self.rules:
                if rule.times <= 0 or rule.sql not in sql:
                    continue
                if rule.path is not None and (path is None or not path.startswith(rule.path)):
                    continue
                if rule.method is not None and rule.method != method:
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                rule.times -= 1
                rule.fired.append((method, path, sql[:120]))
                return rule
        return None

    def _wrapper(self, execute, sql, params, many, context):
        if self._take(sql) is not None:
            self._kill(context["connection"])
        return execute(sql, params, many, context)

    def _kill(self, conn) -> None:
        if conn.vendor == "postgresql":
            pid = conn.connection.info.backend_pid
            control = self._control_connection(conn)
            with self.lock:
                control.execute("SELECT pg_terminate_backend(%s)", [pid])
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    gone = control.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]
                    ).fetchone()[0]
                    if not gone:
                        break
                    time.sleep(0.01)
        else:
            conn.connection.close()

    def _control_connection(self, conn):
        import psycopg

        with self.lock:
            if self._control is None:
                params = conn.settings_dict
                self._control = psycopg.connect(
                    dbname=params["NAME"],
                    user=params["USER"] or None,
                    password=params["PASSWORD"] or None,
                    host=params["HOST"] or None,
                    port=params["PORT"] or None,
                    autocommit=True,
                )
            return self._control


def _on_request_started(sender, environ=None, **kwargs):
    if environ is not None:
        _local.request = (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))


def _on_request_finished(sender, **kwargs):
    _local.request = (None, None)

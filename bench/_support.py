"""The harness every benchmark in bench/ shares: a database, a server, workers, load, a report.

A benchmark is a standalone script (``.venv/bin/python bench/bench_x.py [--quick]``).
It builds a :class:`Bench`, seeds data in-process, starts gunicorn and task workers as
real processes, drives load over HTTP and prints what it ran on and what it measured.
Everything it started is stopped on exit, on an exception and on Ctrl-C.

Typical use::

    import _support as bs          # bench/ is sys.path[0] when a script there runs

    parser = bs.arg_parser("Webhooks: ...")        # adds --quick and --keep-db
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    with bs.Bench("webhooks", redis_db=11, keep_db=args.keep_db,
                  env={"SANDBOX_FAULTS": '{"bitbadges.*": {"latency_ms": 50}}'}) as bench:
        bench.setup_django()                        # drop + create + migrate the database,
                                                    # django.setup() in this process
                                                    # (and collectstatic into a temp dir)
        ... seed with the app's own models and services ...
        bench.start_server(workers=2, threads=1)    # gunicorn; waits for /healthz
        bench.start_task_workers(2)                 # manage.py db_worker --queue-name '*'
        client_factory = lambda: bench.client(cookies={"sessionid": key})
        result = bs.closed_loop(lambda c: c.get("/accounts/"), client_factory,
                                concurrency=8, requests=2000, warmup=100)
        bs.print_config(bench.config(concurrency=8, requests=2000))
        bs.print_table([result.row("GET /accounts/")])

Pieces:

* ``Bench(name, *, redis_db, settings="bench.settings", env=None, keep_db=False)``:
  (bench.settings is config.settings plus the trivial /bench/trivial/ view and static
  files collected into a temp dir; pass settings="config.settings" for the bare app.)
  a context manager. It picks a free port up front (``bench.port``, ``bench.base_url``)
  so PUBLIC_URL (and the sandbox's URLs, which hang off it) are right in every process.
  ``bench.env`` is the environment all processes get: DATABASE_URL (a fresh database
  ``connect_claim_bench_<name>`` on 127.0.0.1:5432, dropped and recreated), CACHE_URL
  (``redis://127.0.0.1:6379/<redis_db>``, flushed first), DEBUG=false, SANDBOX=true,
  SECRET_KEY, CLAIM_SECRETS_KEYS, ALLOWED_HOSTS, PUBLIC_URL, ENV_FILE= (no .env), the
  sandbox's credentials (PIPEDREAM_CLIENT_ID ... BITBADGES_API_KEY, from
  sandbox/credentials.py: the settings do not default to them), plus ``env``. ``bench.setup_django()`` applies it to ``os.environ``, migrates and calls
  ``django.setup()``: after it, import models and services and seed (autocommit, as
  in a shell; the web and worker processes see each row at once).
  ``bench.manage(*args)`` runs ``manage.py`` in a subprocess with the same environment.
  ``Bench(..., separate_sandbox=True)`` serves the sandbox (Pipedream, BitBadges) from a
  second gunicorn, ``bench.start_sandbox_server(workers=2, threads=4)``, so upstream
  calls made by the app (tasks, token mints) take no worker of the measured server.
  ``bench.start_server(workers, threads=1)``, ``bench.start_task_workers(k, interval=0.1)``,
  ``bench.stop_task_workers()``, ``bench.stop_server()``; logs go to ``bench.tmpdir``
  and their tail is printed if a process dies. ``bench.sql(query)`` runs SQL on the
  benchmark database through Django's connection and returns the rows.
  ``bench.config(**extra)`` is the configuration (CPU, Python, Django, PostgreSQL,
  gunicorn, workers, date ...) as an ordered dict, ``extra`` appended.
* ``bench.client(cookies=None, headers=None)``: an :class:`HttpClient`, one keep-alive
  HTTP/1.1 connection (http.client) to the server. ``client.get(path)``,
  ``client.post(path, body: bytes, content_type=...)``, ``client.request(method, path,
  body, headers)`` return ``(status, body_bytes)``; they reconnect once if the server
  closed the connection. Not thread-safe: one per load thread.
* Load (threads, one client each, made by ``client_factory()`` per thread;
  ``do(client)`` performs one request and returns the status (or ``client.get``'s
  ``(status, body)`` as it is); ``do`` may take an index
  as a second argument when ``indexed=True`` so each request can be distinct):

  - ``closed_loop(do, client_factory, *, concurrency, requests=None, duration=None,
    warmup=0, indexed=False) -> LoadResult``: as fast as possible, ``concurrency``
    requests in flight; stops after ``requests`` requests or ``duration`` seconds.
    ``warmup`` requests first, not measured.
  - ``open_loop(do, client_factory, *, rate, duration, concurrency=32, indexed=False)
    -> LoadResult``: requests are scheduled at a fixed ``rate`` per second, whatever the
    answers; latency is measured from the *scheduled* time (so a stalled server shows
    as latency, not as fewer requests). ``result.late`` counts requests that started
    more than 10 ms after their slot (the load generator could not keep up).

  A request counts as an error when ``do`` returns a status outside 200-299 or raises;
  ``result.errors`` maps status (or exception name) to a count.
* ``LoadResult``: ``count``, ``ok``, ``errors``, ``elapsed``, ``rps`` (all completed
  requests per second of measured time), ``p(q)`` (latency percentile in ms, q in 0..100),
  ``p50``, ``p99``, ``mean``, ``row(label, **more) -> dict`` for ``print_table``.
* ``percentile(values, q)``: nearest-rank percentile.
* Goals: ``goal(bench, name, target, measured, met, check=False)`` makes one row (a
  check, such as exactly once, prints "ok"/"FAILED"; a goal "met"/"MISSED");
  ``goals(rows)`` prints them and, under ``make bench`` (bench/run_all.py), appends them
  to the file in BENCH_GOALS_FILE so the run ends with every goal in one table.
* ``print_config(mapping, title="Configuration")`` and ``print_table(rows, columns=None,
  title=None)``: a readable key/value block and a fixed-width table (numbers right-aligned).
* ``arg_parser(description)``: argparse with ``--quick`` and ``--keep-db``.
* ``machine_info()``: CPU model and count, Python, OS, date (no Django needed).

Redis databases in use by the benchmarks (keep them distinct so two can run at once):
pages 10, webhooks 11, connect tokens 12, claims pipeline 13, dry run 14.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import contextlib
import datetime
import gc
import http.client
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
GUNICORN = str(VENV_BIN / "gunicorn") if (VENV_BIN / "gunicorn").exists() else "gunicorn"

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
PG_PASSWORD = os.environ.get("BENCH_PG_PASSWORD", "")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")

# Fixed, benchmark-only secrets: the benchmark database is thrown away after each run.
BENCH_SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789"
BENCH_CLAIM_KEY = "bench-only-claim-secrets-key-0123456789abcdef"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The benchmarks run against the sandbox: the product's settings hold its credentials
# because the environment says so, as sandbox_setup makes a developer's .env say.
from sandbox.credentials import SANDBOX_SETTINGS  # noqa: E402 (needs ROOT on sys.path)

# --- Processes and cleanup -----------------------------------------------------------

_live: list[subprocess.Popen] = []
_cleanups: list = []
_signals_installed = False


def _stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process group we started, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _cleanup_all() -> None:
    while _live:
        _stop_process(_live.pop())
    while _cleanups:
        fn = _cleanups.pop()
        with contextlib.suppress(Exception):
            fn()


def _install_signals() -> None:
    global _signals_installed
    if _signals_installed:
        return
    _signals_installed = True
    atexit.register(_cleanup_all)

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- Machine and versions ------------------------------------------------------------


def status_kib(field: str) -> int:
    """A figure of this process's /proc/self/status in KiB (VmRSS, VmHWM...)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine_info(load_before: str | None = None) -> dict:
    """CPU, OS, Python, date; `load_before` is load_average() taken before the run."""
    return {
        "Date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "CPU": f"{cpu_model()} x {os.cpu_count()}",
        "Load average (1, 5, 15 min) at start": load_before or load_average(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }


# --- HTTP client ---------------------------------------------------------------------


class HttpClient:
    """One keep-alive HTTP/1.1 connection; returns (status, body). One per thread."""

    def __init__(self, host: str, port: int, *, cookies=None, headers=None, timeout=30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = {"Host": f"{host}:{port}", "Connection": "keep-alive"}
        if cookies:
            self.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if headers:
            self.headers.update(headers)
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        all_headers = dict(self.headers)
        if headers:
            all_headers.update(headers)
        for attempt in (1, 2):
            conn = self.conn or self._connect()
            try:
                conn.request(method, path, body=body, headers=all_headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: once more on a new one.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path: str, body: bytes, content_type="application/json", headers=None):
        h = {"Content-Type": content_type, "Content-Length": str(len(body))}
        if headers:
            h.update(headers)
        return self.request("POST", path, body=body, headers=h)


# --- Load ----------------------------------------------------------------------------


def traced(fn):
    """(result, seconds, peak bytes of Python memory allocated while fn ran)."""
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = fn()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, seconds, peak


def percentile(values, q: float) -> float:
    """Nearest-rank percentile of `values` (q in 0..100); nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class LoadResult:
    """Per-request latencies (seconds) and statuses of one measured load run."""

    def __init__(self, mode: str):
        self.mode = mode
        self.latencies: list[float] = []
        self.statuses: collections.Counter = collections.Counter()
        self.errors: collections.Counter = collections.Counter()
        self.elapsed = 0.0
        self.late = 0
        self.concurrency = 0
        self.target_rate: float | None = None

    def record(self, latency: float, status) -> None:
        self.latencies.append(latency)
        self.statuses[status] += 1
        if not (isinstance(status, int) and 200 <= status < 300):
            self.errors[status] += 1

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def ok(self) -> int:
        return self.count - sum(self.errors.values())

    @property
    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed else math.nan

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000

    @property
    def p50(self) -> float:
        return self.p(50)

    @property
    def p99(self) -> float:
        return self.p(99)

    @property
    def mean(self) -> float:
        return sum(self.latencies) / len(self.latencies) * 1000 if self.latencies else math.nan

    def errors_text(self) -> str:
        if not self.errors:
            return "0"
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items(), key=str))

    def row(self, label: str, **more) -> dict:
        row = {
            "": label,
            "requests": self.count,
            "req/s": round(self.rps, 1),
            "p50 ms": round(self.p50, 2),
            "p99 ms": round(self.p99, 2),
            "errors": self.errors_text(),
        }
        row.update(more)
        return row


def _call(do, client, index, indexed):
    """One request; `do` may return a status or a (status, body) tuple."""
    out = do(client, index) if indexed else do(client)
    return out[0] if isinstance(out, tuple) else out


def _one(do, client, index, indexed, result: LoadResult, lock, started_at=None) -> None:
    start = time.perf_counter() if started_at is None else started_at
    try:
        status = _call(do, client, index, indexed)
    except Exception as exc:  # a failed request is a result, not a crash
        status = type(exc).__name__
        client.close()
    latency = time.perf_counter() - start
    with lock:
        result.record(latency, status)


def closed_loop(
    do,
    client_factory,
    *,
    concurrency: int,
    requests: int | None = None,
    duration: float | None = None,
    warmup: int = 0,
    indexed: bool = False,
    start_index: int = 0,
) -> LoadResult:
    """Maximum throughput: `concurrency` threads, each sending its next request at once.

    Stops after `requests` measured requests or `duration` seconds (whichever is given;
    both: whichever comes first). `warmup` requests run first, on the same connections,
    and are not counted. With `indexed`, `do(client, i)` gets a distinct i per request
    (warm-up included, numbered from `start_index`).
    """
    if requests is None and duration is None:
        raise ValueError("closed_loop needs requests= or duration=")
    result = LoadResult("closed loop")
    result.concurrency = concurrency
    lock = threading.Lock()
    counter = iter(range(start_index, 10**12))
    left = {"warmup": warmup, "measured": requests if requests is not None else 10**12}
    deadline = [math.inf]
    clients = [client_factory() for _ in range(concurrency)]
    warm_barrier = threading.Barrier(concurrency + 1)
    go = threading.Barrier(concurrency + 1)

    def take(phase):
        with lock:
            if left[phase] <= 0 or (phase == "measured" and time.perf_counter() >= deadline[0]):
                return None
            left[phase] -= 1
            return next(counter)

    def loop(client):
        while (index := take("warmup")) is not None:
            with contextlib.suppress(Exception):
                _call(do, client, index, indexed)
        warm_barrier.wait()
        go.wait()
        while (index := take("measured")) is not None:
            _one(do, client, index, indexed, result, lock)

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    warm_barrier.wait()
    t0 = time.perf_counter()
    if duration is not None:
        deadline[0] = t0 + duration
    go.wait()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - t0
    for c in clients:
        c.close()
    return result


def open_loop(
    do,
    client_factory,
    *,
    rate: float,
    duration: float,
    concurrency: int = 32,
    indexed: bool = False,
    start_index: int = 0,
) -> LoadResult:
    """A fixed arrival rate: request i is due at t0 + i/rate, whatever the server does.

    `concurrency` threads (one connection each) take due requests in order; latency runs
    from the scheduled time, so queueing behind a slow server counts. `result.late`
    counts requests that started more than 10 ms after their slot.
    """
    total = int(rate * duration)
    result = LoadResult("open loop")
    result.concurrency = concurrency
    result.target_rate = rate
    lock = threading.Lock()
    next_i = [0]
    clients = [client_factory() for _ in range(concurrency)]
    t0 = time.perf_counter() + 0.2

    def loop(client):
        while True:
            with lock:
                i = next_i[0]
                if i >= total:
                    return
                next_i[0] += 1
            due = t0 + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            elif -wait > 0.010:
                with lock:
                    result.late += 1
            _one(do, client, start_index + i, indexed, result, lock, started_at=due)

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.elapsed = max(time.perf_counter() - t0, 1e-9)
    for c in clients:
        c.close()
    return result


# --- Report --------------------------------------------------------------------------


def print_config(mapping: dict, title: str = "Configuration") -> None:
    print(f"\n{title}")
    print("-" * len(title))
    width = max((len(str(k)) for k in mapping), default=0)
    for key, value in mapping.items():
        print(f"  {str(key).ljust(width)}  {value}")
    sys.stdout.flush()


def _fmt(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def print_table(rows: list[dict], columns: list[str] | None = None, title: str | None = None):
    if not rows:
        return
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_fmt(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row.get(c), int | float) for row in rows if row.get(c, "") != "")
        for c in columns
    ]

    def line(values):
        out = []
        for i, v in enumerate(values):
            out.append(v.rjust(widths[i]) if numeric[i] and i else v.ljust(widths[i]))
        return "  " + "  ".join(out).rstrip()

    if title:
        print(f"\n{title}")
        print("-" * len(title))
    else:
        print()
    print(line(columns))
    print("  " + "  ".join("-" * w for w in widths))
    for r in cells:
        print(line(r))
    sys.stdout.flush()


GOALS_FILE_ENV = "BENCH_GOALS_FILE"


def goal(
    bench: str, name: str, target: str, measured: str, met: bool, *, check: bool = False
) -> dict:
    """One goal (or, with check=True, a correctness check such as exactly once) of a run.

    Returned as a row for goals(); `make bench` (bench/run_all.py) gathers every bench's
    rows from the file named in BENCH_GOALS_FILE and prints them together at the end.
    """
    return {
        "bench": bench,
        "goal": name,
        "target": target,
        "measured": measured,
        "met": met,
        "kind": "check" if check else "goal",
    }


def goals(rows: list[dict], title: str = "Goals") -> None:
    """Print a bench's goals and, under `make bench`, append them to BENCH_GOALS_FILE."""
    table = [
        {
            "goal": r["goal"],
            "target": r["target"],
            "measured": r["measured"],
            "met": verdict(r),
        }
        for r in rows
    ]
    print_table(table, title=title)
    path = os.environ.get(GOALS_FILE_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            for r in rows:
                out.write(json.dumps(r) + "\n")


def verdict(row: dict) -> str:
    if row["kind"] == "check":
        return "ok" if row["met"] else "FAILED"
    return "met" if row["met"] else "MISSED"


def arg_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts, for a try-out (well under a minute)"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the benchmark database afterwards"
    )
    return parser


def step(message: str) -> None:
    """A progress line (stderr, so the report on stdout stays clean)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- The benchmark environment -------------------------------------------------------


class Bench:
    """A fresh database, a Redis db, a port, and the processes of one benchmark run."""

    def __init__(
        self,
        name: str,
        *,
        redis_db: int,
        settings: str = "bench.settings",
        env: dict | None = None,
        keep_db: bool = False,
        separate_sandbox: bool = False,
    ):
        _install_signals()
        self.load_before = load_average()
        self.name = name
        self.db_name = f"connect_claim_bench_{name}"
        self.redis_db = redis_db
        self.settings = settings
        self.keep_db = keep_db
        self.port = free_port()
        self.host = "127.0.0.1"
        self.base_url = f"http://{self.host}:{self.port}"
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.static_root = self.tmpdir / "static"
        auth = f"{PG_USER}:{PG_PASSWORD}@" if PG_PASSWORD else f"{PG_USER}@"
        self.database_url = f"postgres://{auth}{PG_HOST}:{PG_PORT}/{self.db_name}"
        self.cache_url = f"{REDIS_URL}/{redis_db}"
        self.env = {
            "ENV_FILE": "",
            "DJANGO_SETTINGS_MODULE": settings,
            "DATABASE_URL": self.database_url,
            "CACHE_URL": self.cache_url,
            "DEBUG": "false",
            "SANDBOX": "true",
            # Said openly: the sandbox with DEBUG off, on this machine only.
            "ALLOW_SANDBOX_WITHOUT_DEBUG": "true",
            **SANDBOX_SETTINGS,
            # As production runs: development would refuse members past the tenth.
            "PIPEDREAM_PROJECT_ENVIRONMENT": "production",
            "SECRET_KEY": BENCH_SECRET_KEY,
            "CLAIM_SECRETS_KEYS": BENCH_CLAIM_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PUBLIC_URL": self.base_url,
            "BENCH_STATIC_ROOT": str(self.static_root),
            # Logging as in production (JSON lines, INFO, an access line per request),
            # into each process's log file in bench.tmpdir.
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
        # The sandbox on a gunicorn of its own: the app's upstream calls then take no
        # worker of the server being measured (Pipedream and BitBadges are elsewhere).
        self.sandbox_port = free_port() if separate_sandbox else None
        if self.sandbox_port:
            sandbox_url = f"http://{self.host}:{self.sandbox_port}/sandbox"
            self.env.update(
                {
                    "PIPEDREAM_API_URL": f"{sandbox_url}/pipedream",
                    "PIPEDREAM_CONNECT_URL": f"{sandbox_url}/pipedream",
                    "BITBADGES_API_URL": f"{sandbox_url}/bitbadges",
                }
            )
        if env:
            self.env.update({k: str(v) for k, v in env.items()})
        self.server: subprocess.Popen | None = None
        self.sandbox_server: subprocess.Popen | None = None
        self.sandbox_workers = 0
        self.sandbox_threads = 0
        self.server_workers = 0
        self.server_threads = 1
        self.task_workers: list[subprocess.Popen] = []
        self.task_worker_interval: float | None = None
        self._django_ready = False
        _cleanups.append(lambda: shutil.rmtree(self.tmpdir, ignore_errors=True))

    # context manager
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def close(self) -> None:
        self.stop_task_workers()
        self.stop_server()
        if self._django_ready:
            from django.db import connections

            connections.close_all()
        if not self.keep_db:
            with contextlib.suppress(Exception):
                self._drop_database()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    # database and cache
    def _admin_conn(self):
        import psycopg

        return psycopg.connect(
            host=PG_HOST,
            port=PG_PORT,
            user=PG_USER,
            password=PG_PASSWORD or None,
            dbname="postgres",
            autocommit=True,
        )

    def _drop_database(self) -> None:
        from psycopg import sql

        with self._admin_conn() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.db_name)
                )
            )

    def create_database(self) -> None:
        from psycopg import sql

        self._drop_database()
        with self._admin_conn() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.db_name)))

    def flush_cache(self) -> None:
        import redis

        redis.Redis.from_url(self.cache_url).flushdb()

    def setup_django(self, migrate: bool = True) -> None:
        """Fresh database and cache, os.environ set, django.setup(), migrations applied.

        With bench.settings, static files are collected first: DEBUG is off, so
        `static()` (templates, the sandbox catalogue's logo URLs) needs the manifest.
        """
        step(f"database {self.db_name}: recreate and migrate")
        self.create_database()
        self.flush_cache()
        if self.settings == "bench.settings":
            self.collectstatic()
        os.environ.update(self.env)
        # This process seeds and checks: only its warnings are worth reading. (Children
        # get self.env, which wins over os.environ, so they log as in production.)
        os.environ["LOG_LEVEL"] = "WARNING"
        import django

        django.setup()
        self._django_ready = True
        if migrate:
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)

    def collectstatic(self) -> None:
        """Static files into a temp dir (bench/settings.py reads BENCH_STATIC_ROOT)."""
        step("collectstatic")
        self.manage("collectstatic", "--no-input", "-v", "0")

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env}
        return subprocess.run(
            [PYTHON, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=env,
            check=check,
            capture_output=True,
            text=True,
        )

    def sql(self, query: str, params=None) -> list[tuple]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(query, params or [])
            return cursor.fetchall() if cursor.description else []

    # processes
    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.tmpdir / log_name, "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = self.tmpdir / log_name
        _live.append(proc)
        return proc

    def _gunicorn_args(self, port: int, workers: int, threads: int) -> list[str]:
        return [
            GUNICORN,
            "config.wsgi",
            "--bind",
            f"{self.host}:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--keep-alive",
            "75",
            "--graceful-timeout",
            "5",
            "--error-logfile",
            "-",
            # Two servers run at once (app and sandbox): without this both would take
            # the same control socket in ~/.gunicorn.
            "--no-control-socket",
        ]

    def _ensure_static(self) -> None:
        if (
            self.settings == "bench.settings"
            and not (self.static_root / "staticfiles.json").exists()
        ):
            self.collectstatic()  # DEBUG off: {% static %} needs whitenoise's manifest

    def start_sandbox_server(self, workers: int = 2, threads: int = 4) -> None:
        """The same app on bench.sandbox_port, serving the sandbox the others call.

        Only with Bench(separate_sandbox=True), which points PIPEDREAM_API_URL,
        PIPEDREAM_CONNECT_URL and BITBADGES_API_URL of every process at it.
        """
        if not self.sandbox_port:
            raise RuntimeError("Bench(separate_sandbox=True) is needed for a sandbox server")
        self._ensure_static()
        step(f"sandbox gunicorn: {workers} workers x {threads} threads on :{self.sandbox_port}")
        args = self._gunicorn_args(self.sandbox_port, workers, threads)
        self.sandbox_server = self._spawn(args, "sandbox-gunicorn.log")
        self.sandbox_workers, self.sandbox_threads = workers, threads
        self.wait_healthy(60.0, proc=self.sandbox_server, port=self.sandbox_port)

    def start_server(self, workers: int = 2, threads: int = 1, timeout: float = 60.0) -> None:
        """gunicorn config.wsgi on bench.port; returns once /healthz answers 200."""
        self._ensure_static()
        step(f"gunicorn: {workers} workers x {threads} threads on {self.base_url}")
        args = self._gunicorn_args(self.port, workers, threads)
        self.server = self._spawn(args, "gunicorn.log")
        self.server_workers, self.server_threads = workers, threads
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 60.0, proc=None, port=None) -> None:
        proc = proc or self.server
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({proc.returncode}):\n{_tail(proc.log_path)}")
            client = HttpClient(self.host, port or self.port)
            try:
                status, body = client.get("/healthz")
                if status == 200:
                    return
                last = f"{status} {body[:300]!r}"
            except OSError as exc:
                last = repr(exc)
            finally:
                client.close()
            time.sleep(0.2)
        raise RuntimeError(f"/healthz not ready after {timeout}s: {last}")

    def stop_server(self) -> None:
        for attr in ("server", "sandbox_server"):
            proc = getattr(self, attr)
            if proc is not None:
                _stop_process(proc)
                with contextlib.suppress(ValueError):
                    _live.remove(proc)
                setattr(self, attr, None)

    def start_task_workers(self, count: int, interval: float = 0.1) -> None:
        """`count` processes of manage.py db_worker --queue-name '*'."""
        step(f"task workers: {count} x db_worker (interval {interval}s)")
        self.task_worker_interval = interval
        for i in range(count):
            args = [
                PYTHON,
                str(ROOT / "manage.py"),
                "db_worker",
                "--queue-name",
                "*",
                "--interval",
                str(interval),
                "--no-startup-delay",
                "--no-reload",
            ]
            self.task_workers.append(self._spawn(args, f"db_worker-{i}.log"))

    def check_task_workers(self) -> None:
        for proc in self.task_workers:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"a db_worker exited ({proc.returncode}):\n{_tail(proc.log_path)}"
                )

    def stop_task_workers(self) -> None:
        while self.task_workers:
            proc = self.task_workers.pop()
            _stop_process(proc)
            with contextlib.suppress(ValueError):
                _live.remove(proc)

    def wait_tasks_done(self, timeout: float = 120.0) -> float:
        """Wait until no task is READY or RUNNING; returns the seconds waited."""
        from django_tasks_db.models import DBTaskResult

        start = time.monotonic()
        while time.monotonic() - start < timeout:
            self.check_task_workers()
            pending = DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).count()
            if pending == 0:
                return time.monotonic() - start
            time.sleep(0.2)
        raise RuntimeError(f"tasks still pending after {timeout}s")

    def server_log_tail(self, lines: int = 30) -> str:
        return _tail(self.tmpdir / "gunicorn.log", lines)

    # clients
    def client(self, cookies=None, headers=None) -> HttpClient:
        return HttpClient(self.host, self.port, cookies=cookies, headers=headers)

    # report
    def config(self, **extra) -> dict:
        info = machine_info(self.load_before)
        if self._django_ready:
            import django

            info["Django"] = django.get_version()
            try:
                info["PostgreSQL"] = self.sql("SHOW server_version")[0][0]
            except Exception as exc:
                info["PostgreSQL"] = f"unknown ({type(exc).__name__})"
        info["Database"] = f"{self.db_name} on {PG_HOST}:{PG_PORT} (fresh for this run)"
        info["Cache"] = f"Redis db {self.redis_db} (flushed)"
        info["Settings"] = (
            f"{self.settings}, DEBUG=false, SANDBOX=true, logging as in production "
            "(JSON, INFO, access lines) to files"
        )
        if self.server_workers:
            info["gunicorn"] = (
                f"{self.server_workers} workers x {self.server_threads} threads "
                f"({'gthread' if self.server_threads > 1 else 'sync'})"
            )
        if self.sandbox_workers:
            info["Sandbox server"] = (
                f"its own gunicorn, {self.sandbox_workers} workers x {self.sandbox_threads} "
                "threads (stands in for Pipedream and BitBadges)"
            )
        if self.task_worker_interval is not None or self.task_workers:
            info["Task workers"] = (
                f"{len(self.task_workers)} x manage.py db_worker --queue-name '*' "
                f"(poll interval {self.task_worker_interval}s)"
            )
        faults = self.env.get("SANDBOX_FAULTS")
        if faults:
            info["SANDBOX_FAULTS"] = faults
        info.update(extra)
        return info


def quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")

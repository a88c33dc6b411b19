"""Growth: the admin's heavy pages and jobs at 10,000 and at 100,000 members.

Setup (bench/_growth_seed.py, bulk): at each size N members, about 3 N connected
accounts (4 apps, 85% healthy, 10% unhealthy, 5% dead), about 2.9 N completions of four
enabled claims in every state and their ledger events (about 10 N), sign-ups spread over
a year. The database is emptied and seeded again for each size, so each size is measured
on the same kind of data and nothing one measurement wrote is seen by the next size.

At each size, in this process (Django's test client, the project's middleware, a
superuser), each of:

* admin home: GET /admin/, "computed" with the cache cleared before each request, and
  "served" right after, as it is answered while nothing counted changed (ops keeps its
  figures under a data version the database bumps: claims/funnel/version.py);
* funnel: GET /admin/claims/claim/funnel/, computed and served likewise;
* dry run: a ClaimJob for one claim (needs GitHub, healthy), run through its task
  (claim_dry_run_task.call) as the admin's "Dry run" action queues it;
* enable a claim: the claim saved enabled (the admin's switch), then the discovery the
  admin queues on commit (claim_discover_task.call): who qualifies gets a row, queued;
* re-check round: services.recheck(stale_hours=0), what `manage.py recheck_claims`
  runs, without the upstream account sync (that calls Pipedream): due re-checks and
  held rows of active members queued, triggers tidied;
* CSV export: the ledger's "Export all" (GET /admin/claims/completion/export/), its
  streamed body read to the end.

Each is run untraced first: wall time, queries (counted by an execute wrapper, nothing
kept; "enqueues" are the task backend's inserts, one per completion queued, counted apart)
and the resident set's growth (peak VmHWM, reset before, over the size before); then,
after the database is put back as it was (what enabling and re-checking wrote is undone),
once more under tracemalloc: the peak of Python allocations. Home and funnel: the median
of three untraced requests; the re-check round (about 0.1 s at 10,000): the median of
three untraced rounds, the database put back before each.

Goals: each one's time at 100k at most LINEAR_MARGIN x 10 its time at 10k (linear in the
members touched, with a margin for the noise of a shared machine and for PostgreSQL's
plans and caches that change with a table's size); queries (without the enqueues): for
home, funnel and export at most 1.5x (constant: a streamed export reads through one
server-side cursor), for dry run, discovery and re-checks at most one per ROWS_PER_QUERY
rows touched plus QUERIES_FIXED (batches, never a query per row); tracemalloc peak at
100k within MEMORY_MARGIN of 10k; admin home and funnel as served under 300 ms at
100,000 (their computed answer: linear, constant queries and memory).

    .venv/bin/python bench/bench_growth.py                  # 10,000 then 100,000
    .venv/bin/python bench/bench_growth.py --quick          # 1,000 then 10,000
    .venv/bin/python bench/bench_growth.py --seed-only --members 100000 --keep-db
                     # leaves database connect_claim_bench_growth seeded, for others

Redis db 9 (bench/_support.py lists the others').
"""

import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _growth_seed as seed  # noqa: E402
import _support as bs  # noqa: E402

LINEAR_MARGIN = 1.5  # times the members' ratio (10x): noise, plans, caches
QUERIES_MARGIN = 0.15  # x the members' ratio: pages that read a fixed number of queries
MEMORY_MARGIN = 1.5  # tracemalloc peak at the large size / at the small
PAGE_GOAL_MS = 300
# Jobs over members (their result is the rows they touched): queries per batch. 20 rows
# per query on average, plus a fixed 50 (the job's own reads and writes), is met by
# batches of 200-500 rows at a few queries each and missed by any query per row.
BATCHED = ("dry_run", "enable", "recheck")
ROWS_PER_QUERY = 20
QUERIES_FIXED = 50
HOME = "/admin/"
FUNNEL = "/admin/claims/claim/funnel/"
EXPORT_ALL = "/admin/claims/completion/export/"


def parse_args():
    parser = bs.arg_parser(__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000", help="members at each size")
    parser.add_argument("--seed-only", action="store_true", help="seed --members and stop")
    parser.add_argument("--members", type=int, default=100000, help="with --seed-only")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset: home,home_served,funnel,funnel_served,dry_run,enable,"
        "recheck,export",
    )
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")]
    if args.quick:
        args.sizes = [1000, 10000]
    return args


# --- Measuring ----------------------------------------------------------------------------


class Counter:
    """An execute wrapper that counts queries (and the task backend's inserts) and keeps
    nothing else, so counting costs no memory whatever the number of queries."""

    def __init__(self, task_table: str):
        self.queries = 0
        self.enqueues = 0
        self.task_table = task_table

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        if sql.startswith("INSERT") and self.task_table in sql:
            self.enqueues += 1
        return execute(sql, params, many, context)


def measure(fn):
    """(result, seconds, Counter, KiB the resident set grew by at its peak) of fn()."""
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM, the peak resident set, to now
    before = bs.status_kib("VmRSS")
    counter = Counter(DBTaskResult._meta.db_table)
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        result = fn()
    seconds = time.perf_counter() - started
    return result, seconds, counter, bs.status_kib("VmHWM") - before


class Work:
    """The six measured things, over one seeded database."""

    def __init__(self, staff):
        from django.test import Client

        self.staff = staff
        self.client = Client(HTTP_HOST="localhost")
        self.client.force_login(staff)

    def get(self, path: str, *, clear: bool = True) -> int:
        from django.core.cache import cache

        if clear:  # the answer computed, not one kept from a request before
            cache.clear()
        response = self.client.get(path, secure=True)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        size = 0
        if response.streaming:
            for piece in response.streaming_content:
                size += len(piece)
            response.close()
        else:
            size = len(response.content)
        return size

    def dry_run(self):
        from claims.models import Claim, ClaimJob
        from claims.tasks import claim_dry_run_task

        claim = Claim.objects.get(slug=seed.DRY_RUN_SLUG)
        job = ClaimJob.objects.create(
            kind=ClaimJob.Kind.DRY_RUN, claim=claim, requested_by=self.staff, show_values=True
        )
        answer = claim_dry_run_task.call(job.pk)
        job.refresh_from_db()
        if job.state != ClaimJob.State.DONE:
            raise RuntimeError(f"the dry run ended {job.state}: {answer} {job.error}")
        return job.done

    def enable(self):
        from claims.models import Claim
        from claims.tasks import claim_discover_task

        claim = Claim.objects.get(slug=seed.ENABLE_SLUG)
        claim.enabled = True
        claim.save()
        return claim_discover_task.call(claim.pk, staff_id=self.staff.pk)

    def recheck(self):
        from claims import services

        return services.recheck(stale_hours=0, limit=None, write=lambda line: None)["rechecks"]


def snapshot(bench) -> dict:
    """What enabling and re-checking change, to put back before the traced run."""
    bench.sql("DROP TABLE IF EXISTS growth_ineligible")
    bench.sql(
        "CREATE UNLOGGED TABLE growth_ineligible AS SELECT id, state, reason, recheck_at, "
        "rechecks, next_attempt_at, attempts FROM claims_completion WHERE state = 'ineligible'"
    )
    return {
        "completion": bench.sql("SELECT coalesce(max(id), 0) FROM claims_completion")[0][0],
        "event": bench.sql("SELECT coalesce(max(id), 0) FROM claims_completionevent")[0][0],
    }


def restore(bench, marks: dict) -> None:
    from django_tasks_db.models import DBTaskResult

    bench.sql(f"DELETE FROM claims_completionevent WHERE id > {int(marks['event'])}")
    bench.sql(f"DELETE FROM claims_completion WHERE id > {int(marks['completion'])}")
    bench.sql(
        "UPDATE claims_completion c SET state = g.state, reason = g.reason, "
        "recheck_at = g.recheck_at, rechecks = g.rechecks, next_attempt_at = g.next_attempt_at,"
        " attempts = g.attempts FROM growth_ineligible g WHERE c.id = g.id AND (c.state,"
        " c.reason, c.recheck_at, c.rechecks, c.next_attempt_at, c.attempts) IS DISTINCT FROM"
        " (g.state, g.reason, g.recheck_at, g.rechecks, g.next_attempt_at, g.attempts)"
    )
    bench.sql(f"TRUNCATE {DBTaskResult._meta.db_table}")
    bench.sql(f"UPDATE claims_claim SET enabled = false WHERE slug = '{seed.ENABLE_SLUG}'")


def run_size(bench, size: int, only: set[str]) -> list[dict]:
    from django.contrib.auth import get_user_model

    seed.truncate()
    counts = seed.seed(size)
    bs.step(f"seeded {counts}")
    bench.sql("VACUUM ANALYZE")
    staff = get_user_model().objects.create_superuser(
        username="aaa-growth-staff", email="staff@example.com", password=None
    )
    work = Work(staff)
    work.get(HOME + "?warm=1")  # imports, templates, the admin's registry
    work.get(EXPORT_ALL + "?state=waiting")
    things = [
        ("home", "admin home (computed)", lambda: work.get(HOME), False, 3),
        ("home_served", "admin home (served)", lambda: work.get(HOME, clear=False), False, 3),
        ("funnel", "funnel (computed)", lambda: work.get(FUNNEL), False, 3),
        ("funnel_served", "funnel (served)", lambda: work.get(FUNNEL, clear=False), False, 3),
        ("dry_run", "dry run (1 claim)", work.dry_run, False, 1),
        ("enable", "enable a claim", work.enable, True, 1),
        # A round at 10,000 takes about 0.1 s: one run's noise moved its ratio by 3x.
        ("recheck", "re-check round", work.recheck, True, 3),
        ("export", "CSV export (all)", lambda: work.get(EXPORT_ALL), False, 1),
    ]
    rows = []
    for key, label, fn, mutates, repeats in things:
        if only and key not in only:
            continue
        bs.step(f"{size:,} members: {label}")
        marks = snapshot(bench) if mutates else None
        runs = []
        for run in range(repeats):
            if run and mutates:  # each round from the same rows
                restore(bench, marks)
                bench.sql("ANALYZE claims_completion")
            runs.append(measure(fn))
        result, _, counter, rss = runs[-1]
        seconds = statistics.median(run[1] for run in runs)
        if mutates:
            restore(bench, marks)
            bench.sql("ANALYZE claims_completion")
        _, _, peak = bs.traced(fn)
        if mutates:
            restore(bench, marks)
        rows.append(
            {
                "key": key,
                "size": size,
                "what": label,
                "members": counts["members"],
                "result": result,
                "ms": round(seconds * 1000),
                "queries": counter.queries - counter.enqueues,
                "enqueues": counter.enqueues,
                "peak KiB": round(peak / 1024),
                "RSS KiB": rss,
            }
        )
        bs.step(f"  {rows[-1]}")
    rows.append({"key": "_counts", "size": size, **counts})
    return rows


def ratio_rows(rows: list[dict], small: int, large: int) -> list[dict]:
    out = []
    by = {(row["key"], row["size"]): row for row in rows}
    for key in dict.fromkeys(row["key"] for row in rows if row["key"] != "_counts"):
        a, b = by.get((key, small)), by.get((key, large))
        if not (a and b):
            continue
        out.append(
            {
                "what": a["what"],
                "time x": round(b["ms"] / max(a["ms"], 1), 2),
                "queries x": round(b["queries"] / max(a["queries"], 1), 2),
                "enqueues x": round(b["enqueues"] / a["enqueues"], 2) if a["enqueues"] else "-",
                "peak x": round(b["peak KiB"] / max(a["peak KiB"], 1), 2),
                "RSS growth KiB": f"{a['RSS KiB']:,} -> {b['RSS KiB']:,}",
                "_a": a,
                "_b": b,
            }
        )
    return out


def goal_rows(ratios: list[dict], small: int, large: int) -> list[dict]:
    members_x = large / small
    time_cap = LINEAR_MARGIN * members_x
    query_cap = max(QUERIES_MARGIN * members_x, 1.0)
    goals = []
    for r in ratios:
        what, a, b = r["what"], r["_a"], r["_b"]
        goals.append(
            bs.goal(
                "growth",
                f"{what}: time {large:,} / {small:,} members",
                f"<= {time_cap:g}x",
                f"{r['time x']}x ({a['ms']:,} -> {b['ms']:,} ms)",
                r["time x"] <= time_cap,
            )
        )
        if a["key"] in BATCHED:
            # Work over members: queries grow with batches. A query per member would be
            # at least one per row; ROWS_PER_QUERY rows per query is a batch of them.
            touched = b["result"]
            cap = touched / ROWS_PER_QUERY + QUERIES_FIXED
            goals.append(
                bs.goal(
                    "growth",
                    f"{what}: queries (batches, not rows)",
                    f"<= 1 per {ROWS_PER_QUERY} rows +{QUERIES_FIXED}",
                    f"{b['queries']:,} for {touched:,} rows ({a['queries']:,} at {small:,})",
                    b["queries"] <= cap,
                )
            )
        else:
            goals.append(
                bs.goal(
                    "growth",
                    f"{what}: queries (constant)",
                    f"<= {query_cap:g}x",
                    f"{r['queries x']}x ({a['queries']:,} -> {b['queries']:,})",
                    r["queries x"] <= query_cap,
                )
            )
        goals.append(
            bs.goal(
                "growth",
                f"{what}: peak memory",
                f"<= {MEMORY_MARGIN:g}x",
                f"{r['peak x']}x ({a['peak KiB']:,} -> {b['peak KiB']:,} KiB)",
                r["peak x"] <= MEMORY_MARGIN,
            )
        )
        if a["key"] in ("home_served", "funnel_served"):
            goals.append(
                bs.goal(
                    "growth",
                    f"{what} at {large:,} members",
                    f"< {PAGE_GOAL_MS} ms",
                    f"{b['ms']:,} ms",
                    b["ms"] < PAGE_GOAL_MS,
                )
            )
    return goals


def main() -> int:
    args = parse_args()
    with bs.Bench("growth", redis_db=9, keep_db=args.keep_db) as bench:
        bench.setup_django()
        if args.seed_only:
            counts = seed.seed(args.members)
            bench.sql("VACUUM ANALYZE")
            print(f"seeded {counts} into {bench.env['DATABASE_URL'].rsplit('/', 1)[-1]}")
            return 0
        only = {item for item in args.only.split(",") if item}
        rows = []
        for size in args.sizes:
            rows += run_size(bench, size, only)
        counts = {row["size"]: row for row in rows if row["key"] == "_counts"}
        results = [row for row in rows if row["key"] != "_counts"]
        bs.print_config(
            bench.config(
                **{
                    "Benchmark": "Growth: "
                    + " then ".join(
                        f"{c['members']:,} members / {c['accounts']:,} accounts / "
                        f"{c['completions']:,} completions / {c['events']:,} events "
                        f"(seeded in {c['seconds']} s)"
                        for c in counts.values()
                    ),
                    "Run": "in this process: Django's test client (a superuser) for home, "
                    "funnel and export; the tasks' own functions for dry run and discovery",
                    "Time": "untraced; home and funnel the median of 3 (computed: the cache "
                    "cleared before each; served: as kept after the computed ones)",
                    "Queries": "every query run (execute wrapper), less the task backend's "
                    "inserts (enqueues, one per completion queued: the work asked for)",
                    "Memory": "peak KiB: tracemalloc peak (Python), a second run on the "
                    "database put back; RSS KiB: resident set's peak growth, untraced run",
                }
            ),
            title="Growth benchmark: configuration",
        )
        bs.print_table(
            [{k: v for k, v in row.items() if k != "key"} for row in results],
            title="Growth benchmark: results",
        )
        if len(args.sizes) >= 2:
            small, large = args.sizes[0], args.sizes[-1]
            ratios = ratio_rows(results, small, large)
            bs.print_table(
                [{k: v for k, v in r.items() if not k.startswith("_")} for r in ratios],
                title=f"Growth: {large:,} members / {small:,}",
            )
            goals = goal_rows(ratios, small, large)
            bs.goals(goals)
            return 0 if all(g["met"] for g in goals) else 1
        return 0


if __name__ == "__main__":
    sys.exit(main())

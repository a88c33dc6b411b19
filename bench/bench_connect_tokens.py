"""Connect tokens: what minting costs upstream, and what our side adds on top of it.

Members press "Connect" and the page POSTs /connect/token/; the view checks the app and
the member (verified email, rate limit), asks Pipedream for a Connect token with the
project's OAuth token, records the session and answers JSON. This benchmark mints
--mints tokens and reports:

* upstream requests per minted token, counted on the wire: every request our Pipedream
  client sends passes through a counting adapter (bench/_wire.py) mounted on the client's
  shared session, and is checked against the sandbox's own records (the OAuth tokens and
  Connect tokens it issued). Goal: 1.00 plus one OAuth token per hour (the OAuth token is
  cached and fetched by one caller at a time, connections/pipedream/client.py);
* the time our side adds: each request's total time minus the time that same request
  spent waiting on Pipedream (the adapter times each upstream request, from the first
  byte sent to the last byte of the body read, per thread). Goal (issue 24): p50 at most
  3 times the p50 of GET /bench/trivial/ (a logged-in view that does nothing) through
  the same stack, measured in the same run: one trivial GET by the same member just
  before each one-at-a-time mint.

Method: the app runs in this process, through Django's test Client (the full middleware
stack, views, services, the real Pipedream client, PostgreSQL and Redis); the Pipedream
sandbox is served separately by gunicorn, so every upstream call is real HTTP and its
time is known exactly in the thread that made it. What this leaves out is gunicorn's own
parsing of our request, the same for every view.

The first --burst mints start at the same instant from as many threads with an empty
token cache (the single-flight case: still one OAuth token); the rest run one after the
other, and the latency figures are theirs. The default rate limit (CONNECT_TOKEN_RATE_LIMIT,
10 a minute per member) stays on: the mints are spread over enough members that none
is refused.

Beside the mints: the thread's CPU time per mint (the part of "our side" that is not
waiting on PostgreSQL, Redis or the scheduler), and the same for the trivial GETs.
--breakdown adds where the CPU goes; --profile a cProfile of the mints.

    .venv/bin/python bench/bench_connect_tokens.py [--quick] [--mints 1000]
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time

import _support as bs
import _wire

# Issue 24: our side of a mint at most this many times the trivial view, same run.
GOAL_RATIO = 3.0


def main() -> int:
    parser = bs.arg_parser(__doc__.split("\n", 1)[0])
    parser.add_argument("--mints", type=int, default=1000, help="Connect tokens to mint")
    parser.add_argument(
        "--burst", type=int, default=8, help="mints started at once, with a cold token cache"
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="latency the Pipedream sandbox adds per call (SANDBOX_FAULTS pipedream.*)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile (CPU time) of the one-at-a-time mints, to stderr",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="CPU time per mint by part (inclusive), measured around a few functions",
    )
    parser.add_argument("--server-workers", type=int, default=2, help="gunicorn (sandbox)")
    parser.add_argument("--server-threads", type=int, default=8, help="gunicorn (sandbox)")
    args = parser.parse_args()
    if args.quick:
        args.mints = min(args.mints, 200)
    if args.mints < 1 or not 0 <= args.burst <= args.mints:
        parser.error("--mints must be positive and --burst between 0 and --mints")

    env = {}
    if args.latency_ms:
        env["SANDBOX_FAULTS"] = json.dumps({"pipedream.*": {"latency_ms": args.latency_ms}})
    with bs.Bench("connect_tokens", redis_db=12, env=env, keep_db=args.keep_db) as bench:
        bench.setup_django()
        members, per_member, limit = seed(args.mints, args.burst)
        bench.start_server(workers=args.server_workers, threads=args.server_threads)
        return run(bench, args, members, per_member, limit)


def seed(mints: int, burst: int):
    """Members with a verified email, enough that none passes the rate limit (and one
    per burst thread, since a test Client is not shared between threads); GitHub."""
    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from connections import services
    from sandbox.pipedream import catalogue

    limit, window = settings.CONNECT_TOKEN_RATE_LIMIT
    per_member = max(1, int(limit))
    count = max(math.ceil(mints / per_member), burst)
    bs.step(f"seed: {count} members, {per_member} mints each at most")
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"bench-{i:05d}", email=f"bench-{i:05d}@example.com") for i in range(count)]
    )
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users]
    )
    services.app_upsert_from_pipedream(
        data=catalogue.get_catalogue_app("github"), enabled=True, order=0
    )
    return users, per_member, (limit, window)


def run(bench, args, members, per_member, limit) -> int:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from connections import pipedream
    from connections.models import ConnectSession
    from sandbox.pipedream.models import ConnectToken as SandboxConnectToken
    from sandbox.pipedream.models import OAuthAccessToken

    recorder = _wire.Recorder()
    _wire.meter(pipedream.PipedreamClient.pool, recorder)

    # One handler for every client, as one WSGI server process has one: the middleware
    # is loaded once, not once per test Client.
    clients = []
    for member in members:
        client = Client(HTTP_HOST="127.0.0.1")  # an ALLOWED_HOSTS name, as a browser sends
        client.force_login(member)
        if clients:
            client.handler = clients[0].handler
        clients.append(client)
    # Warm the process up (imports, middleware, URL resolver) without calling upstream:
    # a request the form refuses.
    clients[0].post("/connect/token/", json.dumps({"app": "-"}), content_type="application/json")
    # Mint i belongs to member i mod N: each mints at most the limit, and the burst's
    # mints belong to distinct members.
    plan = [clients[i % len(clients)] for i in range(args.mints)]
    body = json.dumps({"app": "github"})

    def mint(client) -> tuple[int, float, float]:
        before = recorder.thread_upstream()
        cpu_before = time.thread_time()
        started = time.perf_counter()
        response = client.post("/connect/token/", body, content_type="application/json")
        total = time.perf_counter() - started
        cpu.append(time.thread_time() - cpu_before)
        upstream = recorder.thread_upstream() - before
        if response.status_code == 200:
            data = response.json()
            if not data.get("token", "").startswith("ctok_"):
                return 599, total, upstream
        return response.status_code, total, upstream

    # Start cold: no OAuth token anywhere (this cache is the one every process shares).
    cache.delete(pipedream.get_client()._token_key)
    statuses: dict = {}
    burst_rows: list[tuple[int, float, float]] = []
    rows: list[tuple[int, float, float]] = []
    queries = [0]
    cpu: list[float] = []

    def count_queries(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    bs.step(f"mint: {args.burst} at once (cold cache), then {args.mints - args.burst} in turn")
    wall_start = time.perf_counter()
    if args.burst:
        barrier = threading.Barrier(args.burst)
        lock = threading.Lock()

        def burst_one(i):
            barrier.wait()
            result = mint(plan[i])
            with lock:
                burst_rows.append(result)
            connection.close()  # this thread's own connection

        threads = [threading.Thread(target=burst_one, args=(i,)) for i in range(args.burst)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    parts = _breakdown_install() if args.breakdown else None
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # CPU time, not waits
        profiler.enable()
    # The trivial view is measured in the same run, interleaved: before each mint, the
    # same member's client GETs /bench/trivial/, so both see the same machine at the
    # same moment (other processes' load, caches) and their p50s compare.
    baseline, baseline_cpu = [], []
    for i in range(args.burst, args.mints):
        cpu_before, started = time.thread_time(), time.perf_counter()
        plan[i].get("/bench/trivial/")
        baseline.append(time.perf_counter() - started)
        baseline_cpu.append(time.thread_time() - cpu_before)
        with connection.execute_wrapper(count_queries):
            rows.append(mint(plan[i]))
    if profiler is not None:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(70)
        stats.print_callees("connect_session_start|views.py.*token|create_connect_token|_call\\b")
    elapsed = time.perf_counter() - wall_start

    for status, _, _ in burst_rows + rows:
        statuses[status] = statuses.get(status, 0) + 1
    minted = statuses.get(200, 0)
    calls = recorder.http()
    oauth_calls = sum(1 for c in calls if c.path.endswith("/v1/oauth/token"))
    token_calls = sum(1 for c in calls if c.path.endswith("/tokens") and c.method == "POST")
    other_calls = len(calls) - oauth_calls - token_calls
    sandbox_oauth = OAuthAccessToken.objects.count()
    sandbox_tokens = SandboxConnectToken.objects.count()
    sessions = ConnectSession.objects.count()

    per_token = len(calls) / minted if minted else math.nan
    hours = max(1, math.ceil(elapsed / 3600))
    allowed = (minted + hours) / minted if minted else math.nan
    ours = [(total - upstream) for status, total, upstream in rows if status == 200]
    totals = [total for status, total, _ in rows if status == 200]
    upstreams = [upstream for status, total, upstream in rows if status == 200]
    burst_ours = [(t - u) for s, t, u in burst_rows if s == 200]
    p50_ours = bs.percentile(ours, 50) * 1000

    faults = f"pipedream.* +{args.latency_ms} ms" if args.latency_ms else "none"
    bs.print_config(
        bench.config(
            **{
                "Benchmark": "Connect tokens: POST /connect/token/ (JSON {app: github})",
                "App under test": "in this process (Django test Client, full middleware stack)",
                "Upstream": f"Pipedream sandbox served by gunicorn at {bench.base_url}",
                "Latency injected": faults,
                "Mints": f"{args.mints}: {args.burst} at once from as many threads with a "
                f"cold OAuth-token cache, then {args.mints - args.burst} one at a time",
                "Rate limit": f"CONNECT_TOKEN_RATE_LIMIT {limit[0]}/{limit[1]} s (the "
                f"default, left on): {len(members)} members, {per_member} mints each at most",
                "Counting": "a counting adapter on the Pipedream client's session "
                "(bench/_wire.py), checked against the sandbox's issued tokens",
                "Python speed check": python_speed(),
                "Our time": "request total minus that request's upstream time (measured in "
                "the same thread, connect to last body byte)",
            }
        )
    )
    bs.print_table(
        [
            {"": "mints answered 200 with a token", "count": minted},
            {"": "other answers", "count": sum(v for k, v in statuses.items() if k != 200)},
            {"": "upstream: POST /v1/oauth/token (wire)", "count": oauth_calls},
            {"": "upstream: POST .../tokens (wire)", "count": token_calls},
            {"": "upstream: anything else (wire)", "count": other_calls},
            {"": "sandbox: OAuth tokens issued", "count": sandbox_oauth},
            {"": "sandbox: Connect tokens issued", "count": sandbox_tokens},
            {"": "our ConnectSession rows", "count": sessions},
            {"": "DB queries per mint (one at a time)", "count": round(queries[0] / len(rows), 2)}
            if rows
            else {"": "DB queries per mint", "count": "n/a"},
        ],
        title="Counts",
    )
    latency_rows = []
    if rows:
        latency_rows = [
            _row("total (one at a time)", totals),
            _row("upstream part", upstreams),
            _row("our side = total - upstream", ours),
            _row("  of which CPU time of the thread", cpu[: len(rows)]),
            _row("reference: GET /bench/trivial/ (same stack, interleaved)", baseline),
            _row("  of which CPU time of the thread", baseline_cpu),
        ]
    if burst_ours:
        latency_rows.append(_row(f"our side, the {len(burst_ours)} cold-burst mints", burst_ours))
    bs.print_table(latency_rows, title="Latency per mint (ms)")
    if parts is not None and rows:
        bs.print_table(
            [
                {
                    "part (inclusive; CPU of the thread)": name,
                    "ms per mint": round(s / len(rows) * 1000, 3),
                }
                for name, s in parts.items()
            ]
            + [
                {
                    "part (inclusive; CPU of the thread)": "the whole request (see above)",
                    "ms per mint": round(sum(cpu[: len(rows)]) / len(rows) * 1000, 3),
                }
            ],
            title="Where the CPU goes, one-at-a-time mints",
        )

    wire_matches = oauth_calls == sandbox_oauth and token_calls == sandbox_tokens
    p50_trivial = bs.percentile(baseline, 50) * 1000 if baseline else math.nan
    ratio = p50_ours / p50_trivial if baseline else math.nan
    bs.goals(
        [
            bs.goal(
                "connect_tokens",
                "our side of a mint (total - upstream), p50, against GET /bench/trivial/ "
                "p50 in the same run (interleaved)",
                f"<= {GOAL_RATIO:g} x trivial",
                f"{ratio:.2f} x ({p50_ours:.2f} ms vs {p50_trivial:.2f} ms)",
                ratio <= GOAL_RATIO,
            ),
            bs.goal(
                "connect_tokens",
                "upstream requests per token <= 1.00 + one OAuth token per hour",
                f"<= {allowed:.4f} ({minted} tokens + {hours} OAuth token)",
                f"{per_token:.4f} ({len(calls)} requests / {minted} tokens)",
                minted == args.mints and len(calls) <= minted + hours,
            ),
            bs.goal(
                "connect_tokens",
                "every mint answered 200 with a token; wire count agrees with the "
                "sandbox's records",
                f"{args.mints} tokens; equal",
                f"{minted} tokens; {oauth_calls}+{token_calls} vs {sandbox_oauth}+{sandbox_tokens}",
                minted == args.mints and wire_matches,
                check=True,
            ),
        ]
    )
    print(f"\n  {minted} tokens in {elapsed:.1f} s ({minted / elapsed:.0f} mints/s overall).")
    # A missed goal is a figure, not a crash; a refused mint or a miscount is a failure.
    return 0 if minted == args.mints and wire_matches else 1


BREAKDOWN = {
    "  form: which app": ("connections.forms", "ConnectForm.is_valid"),
    "  connect_session_start": ("connections.services", "connect_session_start"),
    "    verified email": ("connections.services.sessions", "member_identity_confirmed"),
    "    rate limit (cache)": ("core.ratelimit", "hits"),
    "    OAuth token (cache)": ("connections.pipedream", "PipedreamClient.access_token"),
    "    the upstream call (requests; CPU only)": ("core.client", "BaseApiClient.send"),
    "    ConnectSession INSERT": ("connections.models", "ConnectSession.save"),
    "  Connect Link URL": ("connections.services", "connect_link_for"),
}


def _breakdown_install() -> dict:
    """Wrap a few functions to add up the thread's CPU time spent in each (inclusive);
    the figures go into the returned dict, in seconds, keyed by BREAKDOWN's labels."""
    import functools
    import importlib

    totals = dict.fromkeys(BREAKDOWN, 0.0)
    for label, (module_name, dotted) in BREAKDOWN.items():
        module = importlib.import_module(module_name)
        owner, _, name = dotted.rpartition(".")
        target = getattr(module, owner) if owner else module
        original = getattr(target, name)

        def wrapper(*a, __original=original, __label=label, **kw):
            started = time.thread_time()
            try:
                return __original(*a, **kw)
            finally:
                totals[__label] += time.thread_time() - started

        setattr(target, name, functools.wraps(original)(wrapper))
    return totals


def python_speed() -> str:
    """How fast this machine runs plain Python, to read the CPU figures against."""
    import timeit

    best = min(timeit.repeat("sum(range(1000))", number=20000, repeat=5)) / 20000
    return f"sum(range(1000)) in {best * 1e6:.1f} us (best of 5; compare machines with it)"


def _row(label: str, seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds] or [math.nan]
    return {
        "": label,
        "n": len(ms),
        "p50": round(bs.percentile(ms, 50), 2),
        "p90": round(bs.percentile(ms, 90), 2),
        "p99": round(bs.percentile(ms, 99), 2),
        "mean": round(sum(ms) / len(ms), 2),
    }


if __name__ == "__main__":
    sys.exit(main())

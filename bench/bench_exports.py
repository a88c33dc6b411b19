"""CSV export: the ledger's "Export all" at 10,000 and at 100,000 completions, in the
same memory.

Setup (bulk, PostgreSQL): one claim, then members with a verified email and each one
completion of it, three pieces of evidence per completion (email confirmed, address,
a GitHub followers check with its value), 90% completed and 10% not eligible.

At each size the admin's "Export all (filtered) as CSV" link (GET
/admin/claims/completion/export/, a superuser, so members' values are written) is asked
for in this process through Django's test client, with the project's middleware, and
its streamed body read to the end and thrown away, under tracemalloc: the peak of Python
memory allocated from the request to the last byte, and its time. The body is counted
(bytes, lines) and its lines checked: header + 3 per completion.

For contrast, the same rows joined in memory (what a plain HttpResponse would hold) are
measured the same way with --contrast.

The untraced run also measures the process's resident set (its peak, VmHWM, reset
before, over its size before): tracemalloc sees Python's allocations only, and a result
held whole by libpq would show there.

Goal: the peak at the larger size within 10% of the peak at the smaller, and the
resident set's growth within 4 MiB of it ("met"): rows are read CHUNK at a time through
a server-side cursor and written in 64 KiB pieces.

    .venv/bin/python bench/bench_exports.py             # 10,000 then 100,000
    .venv/bin/python bench/bench_exports.py --quick     # 5,000 then 20,000
    .venv/bin/python bench/bench_exports.py --contrast  # and the in-memory contrast

Redis db 15 (bench/_support.py lists the others').
"""

import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _support as bs  # noqa: E402

GOAL_RATIO = 1.10
RSS_SLACK_KIB = 4096  # the resident set is coarse (pages, arenas): an absolute margin
ADDRESS = "0x742d35cc6634c0532925a3b844bc9e7595f0beb1"
EXPORT_ALL = "/admin/claims/completion/export/"
BATCH = 5000
EVIDENCE_LINES = 3


def parse_args():
    parser = bs.arg_parser(__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes", default="10000,100000", help="completions at each step, comma-separated"
    )
    parser.add_argument(
        "--contrast", action="store_true", help="also the rows held in memory, at each size"
    )
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")]
    if args.quick:
        args.sizes = [5000, 20000]  # both past two fetches of CHUNK (2,000) rows
    return args


# --- Setup -------------------------------------------------------------------------------


def seed_claim():
    from claims.models import Claim

    claim = Claim(
        slug="bench-exports",
        name="Export benchmark",
        enabled=False,
        delivery=Claim.Delivery.DYNAMIC_STORE,
        store_id="bench",
    )
    claim.set_store_secret("bench-store-secret")
    claim.save()
    return claim


def evidence(i: int, at: str) -> list[dict]:
    followers = i % 40
    return [
        {"rule": "email", "label": "Email address confirmed", "passed": True,
         "value": "confirmed", "detail": "", "at": at},
        {"rule": "address", "label": "BitBadges address set", "passed": True,
         "value": ADDRESS, "detail": "", "at": at},
        {"rule": "criterion:1", "label": "GitHub followers", "passed": followers >= 4,
         "value": str(followers), "detail": "" if followers >= 4 else
         f"Needs 4 followers; yours is {followers}", "at": at},
    ]  # fmt: skip


def seed(start: int, stop: int, claim) -> None:
    """Members start..stop-1, each with a verified email and one completion."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from claims.models import Completion

    User = get_user_model()
    now = timezone.now()
    at = now.isoformat()
    for low in range(start, stop, BATCH):
        high = min(low + BATCH, stop)
        bs.step(f"seed: members and completions {low}..{high - 1}")
        users = User.objects.bulk_create(
            User(username=f"bench-{i:06d}", email=f"bench-{i:06d}@example.com", address=ADDRESS)
            for i in range(low, high)
        )
        EmailAddress.objects.bulk_create(
            EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users
        )
        Completion.objects.bulk_create(
            Completion(
                claim=claim,
                member=u,
                state=Completion.State.COMPLETED if i % 10 else Completion.State.INELIGIBLE,
                address=ADDRESS,
                attempts=1,
                evidence=evidence(i, at),
                completed_at=now if i % 10 else None,
                last_attempt_at=now,
            )
            for i, u in zip(range(low, high), users, strict=True)
        )


# --- Measure -----------------------------------------------------------------------------


def timed_rss(fn):
    """(result, seconds, KiB the process's resident set grew by at its peak while fn
    ran): what tracemalloc cannot see (libpq's buffers, the C side of psycopg) too."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM, the peak resident set, to now
    before = bs.status_kib("VmRSS")
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    return result, seconds, bs.status_kib("VmHWM") - before


def streamed(client, query: str = "") -> tuple[int, int]:
    """GET the export and read its body to the end: (bytes, lines)."""
    response = client.get(EXPORT_ALL + query, secure=True)
    if response.status_code != 200 or not response.streaming:
        raise RuntimeError(f"the export answered {response.status_code}, not a stream")
    size = lines = 0
    for piece in response.streaming_content:
        size += len(piece)
        lines += piece.count(b"\n")
    response.close()
    return size, lines


def in_memory(request) -> tuple[int, int]:
    """The same rows, all held before a byte is sent (the contrast)."""
    from claims.admin import exports
    from claims.models import Completion
    from core import csv_stream

    body = "".join(
        csv_stream.lines(exports.HEADER, list(exports.rows(request, Completion.objects.all())))
    ).encode()
    return len(body), body.count(b"\n")


def main() -> int:
    args = parse_args()
    with bs.Bench("exports", redis_db=15, keep_db=args.keep_db) as bench:
        bench.setup_django()
        from django.contrib.auth import get_user_model
        from django.test import Client, RequestFactory

        claim = seed_claim()
        staff = get_user_model().objects.create_superuser(
            username="aaa-bench-staff", email="staff@example.com", password=None
        )
        client = Client(HTTP_HOST="localhost")
        client.force_login(staff)
        request = RequestFactory().get("/")
        request.user = staff
        rows, seeded = [], 0
        for size in args.sizes:
            seed(seeded, size, claim)
            seeded = size
            bench.sql("VACUUM ANALYZE")
            bs.step(f"export: {size} completions, streamed")
            streamed(client, "?state=waiting")  # warm: imports, templates (no row)
            # Untraced (its time, the resident set's growth), then under tracemalloc.
            _, seconds, rss = timed_rss(lambda: streamed(client))
            (size_bytes, lines), _, peak = bs.traced(lambda: streamed(client))
            if lines != 1 + EVIDENCE_LINES * size:
                raise RuntimeError(f"{lines} lines for {size} completions")
            rows.append(
                {
                    "completions": size,
                    "path": "Export all (streamed)",
                    "CSV lines": lines,
                    "MiB sent": round(size_bytes / 2**20, 1),
                    "seconds": round(seconds, 2),
                    "completions/s": round(size / seconds),
                    "peak KiB": round(peak / 1024),
                    "RSS growth KiB": rss,
                }
            )
            if args.contrast:
                bs.step(f"export: {size} completions, held in memory (contrast)")
                _, seconds, rss = timed_rss(lambda: in_memory(request))
                (size_bytes, lines), _, peak = bs.traced(lambda: in_memory(request))
                rows.append(
                    {
                        "completions": size,
                        "path": "in memory (contrast)",
                        "CSV lines": lines,
                        "MiB sent": round(size_bytes / 2**20, 1),
                        "seconds": round(seconds, 2),
                        "completions/s": round(size / seconds),
                        "peak KiB": round(peak / 1024),
                        "RSS growth KiB": rss,
                    }
                )
        bs.print_config(
            bench.config(
                **{
                    "Benchmark": "CSV export of the ledger at "
                    + ", ".join(f"{size:,}" for size in args.sizes)
                    + " completions",
                    "Data": "one claim; per completion a member with a verified email and "
                    "3 pieces of evidence (3 CSV lines); 90% completed, 10% not eligible",
                    "Request": f"GET {EXPORT_ALL} (Export all, no filter) as a superuser, "
                    "Django's test client in this process, the project's middleware; "
                    "body read to the end",
                    "Memory": "tracemalloc peak (Python allocations) from the request to "
                    "the body's last byte (a second run, traced); RSS growth: the "
                    "process's peak resident set (VmHWM, reset first) over its size "
                    "before the untraced run"
                    + (" (after the contrast's runs: read with care)" if args.contrast else ""),
                    "Time": "the first run, untraced (tracemalloc slows Python down)",
                }
            ),
            title="Export benchmark: configuration",
        )
        bs.print_table(rows, title="Export benchmark: results")
        streams = [row for row in rows if row["path"] == "Export all (streamed)"]
        small, large = streams[0], streams[-1]
        ratio = large["peak KiB"] / max(small["peak KiB"], 1)
        rss_growth = large["RSS growth KiB"] - small["RSS growth KiB"]
        goals = [
            bs.goal(
                "exports",
                f"streamed export's peak memory, {large['completions']:,} / "
                f"{small['completions']:,} completions",
                f"<= {GOAL_RATIO}x",
                f"{ratio:.2f}x ({small['peak KiB']:,} -> {large['peak KiB']:,} KiB)",
                ratio <= GOAL_RATIO,
            ),
            bs.goal(
                "exports",
                "streamed export's resident-set growth, larger minus smaller",
                f"<= {RSS_SLACK_KIB:,} KiB",
                f"{rss_growth:+,} KiB ({small['RSS growth KiB']:,} -> "
                f"{large['RSS growth KiB']:,} KiB)",
                rss_growth <= RSS_SLACK_KIB,
            ),
        ]
        bs.goals(goals)
        return 0 if all(g["met"] for g in goals) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Dry run: the admin's dry-run job at 1,000 and at 5,000 members, in constant memory.

Setup (in bulk): members, each with a verified email and a BitBadges address, 90% of
them with a healthy GitHub account, 5% with the claim already completed; one claim,
"bench-dry-run", needing a healthy GitHub account (with --check, also a Pipedream action
run on it through the sandbox: github-get-current-user, user.public_repos >= 1).

At each size the job is made as the admin's "Dry run" action makes it (a ClaimJob, asked
for by a superuser: show_values, so every row keeps its note with values) and run through
the task itself (claims.tasks.claim_dry_run_task.call) in this process, under tracemalloc:
the peak of Python memory allocated while it ran, and its time. For contrast, the same
engine's in-memory path (claims.engine.dry_run.claim_dry_run, which `complete_claims
--dry-run` uses and which holds every row) is measured the same way.

Goal: the job's peak memory at 5,000 members no more than 1.5 x its peak at 1,000 (it
reads members in chunks and writes rows in batches); the in-memory path grows with them.

    .venv/bin/python bench/bench_dry_run.py            # 1,000 then 5,000 members
    .venv/bin/python bench/bench_dry_run.py --quick    # 200 then 1,000
    .venv/bin/python bench/bench_dry_run.py --check    # with the action run on each account

Redis db 14 (bench/_support.py lists the others').
"""

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _support as bs  # noqa: E402

GOAL_RATIO = 1.5
ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


def parse_args():
    parser = bs.arg_parser(__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes", default="1000,5000", help="members at each step, comma-separated, rising"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="the claim also runs a Pipedream action on each account (sandbox over HTTP)",
    )
    parser.add_argument(
        "--no-contrast", action="store_true", help="skip the in-memory path's measurement"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")]
    if args.quick:
        args.sizes = [200, 1000]
    return args


# --- Setup -------------------------------------------------------------------------------


def seed_claim(check: bool):
    from claims.models import Claim, Requirement
    from connections import services as connections_services
    from sandbox.pipedream import catalogue

    github, _ = connections_services.app_upsert_from_pipedream(
        data=catalogue.get_catalogue_app("github"), enabled=True, order=0
    )
    claim = Claim(
        slug="bench-dry-run",
        name="Dry run benchmark",
        enabled=False,
        delivery=Claim.Delivery.DYNAMIC_STORE,
        store_id="bench",
    )
    claim.set_store_secret("bench-store-secret")
    claim.save()
    Requirement.objects.create(claim=claim, app=github, position=0)
    if check:
        Requirement.objects.create(
            claim=claim,
            app=github,
            position=1,
            kind=Requirement.Kind.ACTION,
            action="github-get-current-user",
            path="user.public_repos",
            comparison="gte",
            value="1",
        )
    return claim, github


def seed_members(start: int, stop: int, claim, github, rng: random.Random) -> None:
    """Members start..stop-1: 90% with a GitHub account (in the sandbox too), 5% done."""
    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from claims.models import Completion
    from connections.models import ConnectedAccount
    from sandbox.pipedream import catalogue
    from sandbox.pipedream.models import Account, ExternalUser, sortable_id

    bs.step(f"seed: members {start}..{stop - 1}")
    User = get_user_model()
    users = User.objects.bulk_create(
        [
            User(username=f"bench-{i:05d}", email=f"bench-{i:05d}@example.com", address=ADDRESS)
            for i in range(start, stop)
        ],
        batch_size=500,
    )
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
        batch_size=500,
    )
    with_account = [u for u in users if rng.random() < 0.9]
    externals = ExternalUser.objects.bulk_create(
        [
            ExternalUser(
                public_id=sortable_id("exu_"),
                project_id=settings.PIPEDREAM_PROJECT_ID,
                environment=settings.PIPEDREAM_PROJECT_ENVIRONMENT,
                external_id=str(u.external_id),
            )
            for u in with_account
        ],
        batch_size=500,
    )
    upstream = Account.objects.bulk_create(
        [
            Account(
                account_id=sortable_id("apn_"),
                user=external,
                app_slug="github",
                name=u.username,
                profile=catalogue.default_profile("github", u.username),
            )
            for u, external in zip(with_account, externals, strict=True)
        ],
        batch_size=500,
    )
    ConnectedAccount.objects.bulk_create(
        [
            ConnectedAccount(member=u, app=github, pipedream_id=a.account_id, name=a.name)
            for u, a in zip(with_account, upstream, strict=True)
        ],
        batch_size=500,
    )
    Completion.objects.bulk_create(
        [
            Completion(
                claim=claim,
                member=u,
                state=Completion.State.COMPLETED,
                completed_at=timezone.now(),
            )
            for u in users
            if rng.random() < 0.05
        ],
        batch_size=500,
    )


# --- Measure -----------------------------------------------------------------------------


def run_job(claim, staff):
    from claims.models import ClaimJob
    from claims.tasks import claim_dry_run_task

    job = ClaimJob.objects.create(
        kind=ClaimJob.Kind.DRY_RUN, claim=claim, requested_by=staff, show_values=True
    )
    answer, seconds, peak = bs.traced(lambda: claim_dry_run_task.call(job.pk))
    job.refresh_from_db()
    if job.state != ClaimJob.State.DONE:
        raise RuntimeError(f"the job ended {job.state}: {answer} {job.error}")
    return job, seconds, peak


def run_in_memory(claim):
    from claims.engine.dry_run import claim_dry_run
    from claims.models import Claim

    fresh = Claim.objects.get(pk=claim.pk)
    report, seconds, peak = bs.traced(lambda: claim_dry_run(claim=fresh, show_values=True))
    return report, seconds, peak


def main() -> int:
    args = parse_args()
    with bs.Bench("dry_run", redis_db=14, keep_db=args.keep_db) as bench:
        bench.setup_django()
        from django.contrib.auth import get_user_model

        rng = random.Random(args.seed)
        claim, github = seed_claim(args.check)
        staff = get_user_model().objects.create_superuser(
            username="aaa-bench-staff", email="staff@example.com", password=None
        )
        if args.check:
            bench.start_server(workers=2, threads=4)  # the sandbox the check calls
        rows, seeded = [], 0
        for size in args.sizes:
            seed_members(seeded, size - 1, claim, github, rng)  # and the staff user
            seeded = size - 1
            bs.step(f"dry-run job: {size} members")
            job, seconds, peak = run_job(claim, staff)
            row = {
                "members": job.done,
                "path": "job (task)",
                "seconds": round(seconds, 2),
                "members/s": round(job.done / seconds, 1),
                "peak KiB": round(peak / 1024),
                "rows written": job.rows.count(),
                "qualify": job.counts["qualify"],
                "completed": job.counts["completed"],
                "no account": job.counts["no_account"],
            }
            rows.append(row)
            if not args.no_contrast:
                bs.step(f"in-memory dry run: {size} members")
                report, seconds, peak = run_in_memory(claim)
                rows.append(
                    {
                        "members": report.members,
                        "path": "in memory (contrast)",
                        "seconds": round(seconds, 2),
                        "members/s": round(report.members / seconds, 1),
                        "peak KiB": round(peak / 1024),
                        "rows written": 0,
                        "qualify": report.qualify,
                        "completed": report.completed,
                        "no account": report.no_account,
                    }
                )
        bs.print_config(
            bench.config(
                **{
                    "Benchmark": f"Dry run job at {', '.join(map(str, args.sizes))} members",
                    "Claim": "needs GitHub (healthy)"
                    + (
                        "; check github-get-current-user public_repos >= 1 (sandbox over HTTP)"
                        if args.check
                        else "; no upstream call"
                    ),
                    "Members": "verified email and address each; 90% with a GitHub "
                    "account, 5% with the claim completed",
                    "Run": "claim_dry_run_task.call(job id) in this process, the job asked "
                    "for with show_values (every row keeps both notes)",
                    "Memory": "tracemalloc peak (Python allocations) while the run lasted",
                }
            ),
            title="Dry run benchmark: configuration",
        )
        bs.print_table(rows, title="Dry run benchmark: results")
        jobs = [row for row in rows if row["path"] == "job (task)"]
        ratio = jobs[-1]["peak KiB"] / max(jobs[0]["peak KiB"], 1)
        goals = [
            bs.goal(
                "dry_run",
                f"dry-run job's peak memory, {jobs[-1]['members']:,} / "
                f"{jobs[0]['members']:,} members",
                f"<= {GOAL_RATIO}x",
                f"{ratio:.2f}x ({jobs[0]['peak KiB']:,} -> {jobs[-1]['peak KiB']:,} KiB)",
                ratio <= GOAL_RATIO,
            )
        ]
        bs.goals(goals)
        return 0 if all(g["met"] for g in goals) else 1


if __name__ == "__main__":
    sys.exit(main())

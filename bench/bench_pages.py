"""Pages: /accounts/, /claims/, a claim's page and / against a trivial logged-in view.

One member with 20 connected accounts (across the sandbox catalogue's apps, a few of
them unhealthy or dead) and 10 enabled claims (apps, criteria, triggers, completions
in every state), among a crowd of other members with their own accounts and
completions. gunicorn (2 sync workers, as the Procfile runs it) on PostgreSQL with
Redis as the cache; the member logs in through the login form. Each page is measured
against /bench/trivial/ (bench/urls.py: login required, same middleware, a few bytes of
HTML) in interleaved rounds, so noise on the machine hits all three alike.

Goal: requests per second of each page at least half the trivial view's (ratio >= 0.5),
as the median of the rounds' ratios (each round times every path once, in turn), with the
same number of queries for this member as for a member with 2 accounts and 1 completion
(served from core/pagecache.py's entries, and rendered with that cache off).

    .venv/bin/python bench/bench_pages.py            # full run (a few minutes)
    .venv/bin/python bench/bench_pages.py --quick    # a try-out
"""

import datetime
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _support as bs  # noqa: E402

MEMBER = "bench-member"
PASSWORD = "bench-pages-password-7f3a"  # a throwaway database's member
ACCOUNTS = 20
CLAIMS = 10
GOAL_RATIO = 0.5
SMALL_MEMBER = "bench-member-small"  # 2 accounts, 1 completion: the queries must not change
PATHS = {
    "trivial": "/bench/trivial/",
    "accounts": "/accounts/",
    "claims": "/claims/",
    "landing": "/c/github-builders/",  # one of the member's claims (not yet eligible)
    "home": "/",
}


def parse_args():
    parser = bs.arg_parser(__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--requests", type=int, default=900, help="measured requests per page, over all rounds"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--warmup", type=int, default=100, help="requests per page before measuring"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument(
        "--other-members", type=int, default=500, help="other members sharing the tables"
    )
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds, args.warmup, args.other_members = 150, 1, 20, 50
    return args


# --- Seed ------------------------------------------------------------------------------


def seed(other_members: int, rng: random.Random) -> None:
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from claims.models import Claim, Completion, Requirement, TriggerDeployment
    from connections.models import App, ConnectedAccount
    from connections.services import app_upsert_from_pipedream
    from sandbox.pipedream.catalogue import APPS, DEMO_STARRED_REPO, get_catalogue_app

    User = get_user_model()
    now = timezone.now()

    # The catalogue, enabled, as the demo seed records it.
    for order, slug in enumerate(APPS):
        app_upsert_from_pipedream(data=get_catalogue_app(slug), enabled=True, order=order)
    apps = {app.slug: app for app in App.objects.all()}
    slugs = list(apps)

    member = User.objects.create_user(
        username=MEMBER,
        email="bench-member@example.com",
        password=PASSWORD,
        first_name="Bench",
        address="0x742d35cC6634c0532925A3b844bc9E7595F0beB1",
    )
    EmailAddress.objects.create(
        user=member, email="bench-member@example.com", verified=True, primary=True
    )

    # 20 accounts across the apps: two GitHub and two Slack accounts, one each elsewhere;
    # two unhealthy and one dead, with Pipedream's reasons.
    mine = ["github", "github", "slack", "slack"] + [s for s in slugs if s not in ("github",)]
    mine = (mine * 2)[:ACCOUNTS]
    faults = {3: ("unhealthy", "The refresh token was revoked by the user."), 7: ("dead", "")}
    faults[12] = ("unhealthy", "Token expired (HTTP 401 from the upstream API).")
    rows = []
    for i, slug in enumerate(mine):
        state, error = faults.get(i, ("healthy", ""))
        created = now - datetime.timedelta(days=rng.randint(1, 400), minutes=rng.randint(0, 1440))
        rows.append(
            ConnectedAccount(
                member=member,
                app=apps[slug],
                pipedream_id=f"apn_bench{i:04d}",
                name=f"bench-{slug}-{i}@example.com" if i % 3 else f"bench_{slug}_{i}",
                healthy=state == "healthy",
                dead=state == "dead",
                error=error or ("Account revoked upstream." if state == "dead" else ""),
                upstream_created_at=created,
                upstream_updated_at=created + datetime.timedelta(days=1),
                last_synced_at=now - datetime.timedelta(hours=rng.randint(0, 48)),
            )
        )
    ConnectedAccount.objects.bulk_create(rows)

    # 10 enabled claims (and 3 disabled ones the page must not show).
    specs = [
        dict(slug="github-starter", apps=["github"], delivery="bitbadges"),
        dict(
            slug="github-builders",
            apps=["github"],
            delivery="dynamic_store",
            criterion=("github", "github-get-current-user", "user.public_repos", "gte", "5"),
            identity_path="login",
        ),
        dict(
            slug="stargazer",
            apps=["github"],
            delivery="bitbadges",
            proxy=("github", f"https://api.github.com/user/starred/{DEMO_STARRED_REPO}"),
            trigger="github-new-star",
        ),
        dict(slug="team-player", apps=["slack", "discord"], delivery="dynamic_store"),
        dict(
            slug="discord-pro",
            apps=["discord"],
            delivery="dynamic_store",
            criterion=("discord", "discord-list-guilds", "items.0.id", "eq", "1100000000000000001"),
        ),
        dict(slug="notion-writer", apps=["notion", "google_sheets"], delivery="dynamic_store"),
        dict(slug="gitlab-and-github", apps=["gitlab", "github"], delivery="bitbadges"),
        dict(
            slug="linear-shipper",
            apps=["linear_app"],
            delivery="dynamic_store",
            criterion=("linear_app", "linear_app-get-viewer", "active", "truthy", ""),
        ),
        dict(slug="trello-organiser", apps=["trello", "notion", "slack"], delivery="dynamic_store"),
        dict(slug="stripe-merchant", apps=["stripe"], delivery="dynamic_store"),
    ]
    specs = [s for s in specs if all(a in apps for a in s["apps"])]
    claims = []
    check_rules = {}  # the evidence key of each claim's check
    for i, spec in enumerate(specs[:CLAIMS]):
        claim = Claim(
            slug=spec["slug"],
            name=spec["slug"].replace("-", " ").title() + " badge",
            description=f"Connect {', '.join(apps[a].name for a in spec['apps'])} and the "
            "badge completes by itself. " + "Members who qualify get it within seconds. " * 2,
            enabled=True,
            delivery=spec["delivery"],
            bitbadges_claim_id=f"{i:032x}",
            password_instance_id="pwd" if spec["delivery"] == "bitbadges" else "",
            store_id=f"store-{i}" if spec["delivery"] == "dynamic_store" else "",
        )
        # The claim's check, if any: a requirement on its app (which then needs no
        # account requirement of its own, as the requirements migration writes it).
        check = None
        if "criterion" in spec:
            app, action, path, comparison, value = spec["criterion"]
            check = Requirement(
                app=apps[app],
                kind=Requirement.Kind.ACTION,
                action=action,
                path=path,
                comparison=comparison,
                value=value,
                identity_path=spec.get("identity_path", ""),
            )
        if "proxy" in spec:
            app, url = spec["proxy"]
            check = Requirement(
                app=apps[app],
                kind=Requirement.Kind.PROXY,
                proxy_url=url,
                path="$status",
                comparison="eq",
                value="204",
                text=f"You starred {DEMO_STARRED_REPO}",
            )
        if "trigger" in spec:
            claim.trigger_app = check.app
            claim.trigger = spec["trigger"]
            claim.trigger_props = {"repoFullname": DEMO_STARRED_REPO}
            claim.trigger_event_label = f"you star {DEMO_STARRED_REPO}"
            claim.recheck_interval = datetime.timedelta(days=1)
        if claim.delivery == "bitbadges":
            claim.set_password(f"bench-password-{i}")
        else:
            claim.set_store_secret(f"bench-store-secret-{i}")
        claim.full_clean()
        claim.save()
        requirements = [
            Requirement(app=apps[a])
            for a in spec["apps"]
            if check is None or apps[a].pk != check.app.pk
        ]
        if check is not None:
            requirements.append(check)
        # Saved as they are: the page never runs a check, so an action need not be on
        # this settings' CLAIMS_READ_COMPONENTS list (Requirement.clean asks that).
        for position, requirement in enumerate(requirements):
            requirement.claim, requirement.position = claim, position
            requirement.save()
        if check is not None:
            check_rules[claim.slug] = check.rule_key
        claims.append(claim)
    for j, slug in enumerate(["old-campaign", "draft-one", "draft-two"]):
        hidden = Claim(slug=slug, name=slug.title(), enabled=False, delivery="dynamic_store")
        hidden.store_id = f"hidden-{j}"
        hidden.set_store_secret("x")
        hidden.save()
        Requirement.objects.create(claim=hidden, app=apps["github"])

    # The member's completions: 3 completed, 2 not eligible yet (one watched by a
    # trigger), 1 failed, 1 retrying, 1 waiting; 2 claims not started.
    def evidence(slug: str, passed: bool, value: str, detail: str = "") -> list:
        at = (now - datetime.timedelta(hours=2)).isoformat()
        return [
            {"rule": "app:github", "label": "GitHub connected", "passed": True, "at": at},
            {"rule": check_rules.get(slug, "criterion"), "label": "criterion", "passed": passed,
             "value": value, "detail": detail, "at": at},
        ]  # fmt: skip

    plan = {
        "github-starter": dict(state="completed", completed_at=now - datetime.timedelta(days=3)),
        "github-builders": dict(
            state="ineligible",
            reason="user.public_repos is 3; it needs to be at least 5.",
            evidence=evidence(
                "github-builders",
                False,
                "3",
                "user.public_repos is 3; it needs to be at least 5.",
            ),
        ),
        "stargazer": dict(
            state="ineligible",
            reason=f"You have not starred {DEMO_STARRED_REPO} yet.",
            evidence=evidence(
                "stargazer", False, "404", f"You have not starred {DEMO_STARRED_REPO} yet."
            ),
        ),
        "team-player": dict(state="completed", completed_at=now - datetime.timedelta(days=10)),
        "discord-pro": dict(
            state="failed",
            reason="BitBadges refused the address: the store is closed.",
            attempts=6,
        ),
        "notion-writer": dict(
            state="retrying",
            reason="BitBadges did not answer (HTTP 503); trying again shortly.",
            attempts=2,
            next_attempt_at=now + datetime.timedelta(minutes=5),
        ),
        "gitlab-and-github": dict(state="completed", completed_at=now - datetime.timedelta(days=1)),
        "linear-shipper": dict(state="waiting"),
    }
    by_slug = {c.slug: c for c in claims}
    for slug, fields in plan.items():
        if slug in by_slug:
            fields.setdefault("last_attempt_at", now - datetime.timedelta(hours=2))
            Completion.objects.create(
                claim=by_slug[slug], member=member, address=member.address, **fields
            )
    if "stargazer" in by_slug:
        TriggerDeployment.objects.create(
            claim=by_slug["stargazer"],
            member=member,
            account=ConnectedAccount.objects.filter(member=member, app__slug="github").first(),
            account_pipedream_id="apn_bench0000",
            pipedream_id="dc_bench0001",
            status=TriggerDeployment.Status.ACTIVE,
        )

    # A member with far less, in the same states (accounts last read hours ago, one of
    # them to reconnect; a claim not yet met): the pages' queries are the same.
    small = User.objects.create_user(
        username=SMALL_MEMBER,
        email="small@example.com",
        password=PASSWORD,
        first_name="Small",
        address="0x8ba1f109551bD432803012645Ac136ddd64DBA72",
    )
    EmailAddress.objects.create(user=small, email="small@example.com", verified=True, primary=True)
    for i, slug in enumerate(["github", "slack"]):
        ConnectedAccount.objects.create(
            member=small, app=apps[slug], pipedream_id=f"apn_small{i}", name=f"small-{slug}",
            healthy=i == 0, error="" if i == 0 else "Token expired.",
            last_synced_at=now - datetime.timedelta(hours=5),
        )  # fmt: skip
    Completion.objects.create(
        claim=by_slug["github-builders"],
        member=small,
        address=small.address,
        **{**plan["github-builders"], "last_attempt_at": now - datetime.timedelta(hours=2)},
    )

    # Everybody else, so the member's rows are found among many.
    others = User.objects.bulk_create(
        [
            User(username=f"other-{n:05d}", email=f"other-{n:05d}@example.com", password="!")
            for n in range(other_members)
        ]
    )
    accounts, completions = [], []
    for n, other in enumerate(others):
        for k in range(rng.randint(1, 5)):
            accounts.append(
                ConnectedAccount(
                    member=other,
                    app=apps[rng.choice(slugs)],
                    pipedream_id=f"apn_o{n:05d}{k}",
                    name=f"other-{n}-{k}",
                )
            )
        for claim in rng.sample(claims, k=rng.randint(0, len(claims))):
            completions.append(
                Completion(
                    claim=claim,
                    member=other,
                    state=rng.choice(["completed", "ineligible", "failed", "completed"]),
                )
            )
    ConnectedAccount.objects.bulk_create(accounts, batch_size=2000)
    Completion.objects.bulk_create(completions, batch_size=2000)
    bs.step(
        f"seeded: member with {ACCOUNTS} accounts and {len(claims)} claims; "
        f"{other_members} other members, {len(accounts)} accounts, {len(completions)} completions"
    )


# --- Log in and check --------------------------------------------------------------------


def log_in(base_url: str) -> str:
    """Post the login form as a browser would; returns the session cookie."""
    import requests

    with requests.Session() as browser:
        page = browser.get(f"{base_url}/login/", timeout=30)
        page.raise_for_status()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = browser.post(
            f"{base_url}/login/",
            data={"csrfmiddlewaretoken": token, "login": MEMBER, "password": PASSWORD},
            headers={"Referer": f"{base_url}/login/"},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 302 or "sessionid" not in browser.cookies:
            raise RuntimeError(f"login failed: {answer.status_code}")
        return browser.cookies["sessionid"]


def check_pages(client) -> dict:
    """The pages show what they should before anything is timed; returns their sizes."""
    sizes = {}
    for name, path in PATHS.items():
        status, body = client.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}, not 200")
        sizes[name] = len(body)
        text = body.decode()
        if name == "accounts":
            shown = len(re.findall(r'<li class="account[ "]', text))
            if shown != ACCOUNTS:
                raise RuntimeError(f"/accounts/ shows {shown} accounts, not {ACCOUNTS}")
        if name == "claims":
            shown = len(re.findall(r'<li class="card claim ', text))
            if shown != CLAIMS:
                raise RuntimeError(f"/claims/ shows {shown} claims, not {CLAIMS}")
        if name in ("landing", "home") and MEMBER not in text:
            raise RuntimeError(f"{path} does not show the member's page")
    return sizes


def count_queries(username: str, *, cached: bool = True) -> dict:
    """Queries per request for each path, through Django's test client in this process,
    for `username`: served from the page cache (after a first request filled it), or
    rendered with the cache off (`cached=False`)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username=username))
    counts = {}
    with override_settings(PAGE_CACHE=cached):
        for name, path in PATHS.items():
            client.get(path)  # a first request may fill caches
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"in-process GET {path} answered {response.status_code}")
            counts[name] = len(ctx.captured_queries)
    return counts


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# --- Run -------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    rng = random.Random(6)
    with bs.Bench("pages", redis_db=10, keep_db=args.keep_db) as bench:
        bench.setup_django()
        seed(args.other_members, rng)
        bench.start_server(workers=args.workers, threads=args.threads)
        session_key = log_in(bench.base_url)
        cookies = {"sessionid": session_key}

        def factory():
            return bench.client(cookies=cookies)

        probe = factory()
        sizes = check_pages(probe)
        probe.close()
        queries = count_queries(MEMBER)
        small_queries = count_queries(SMALL_MEMBER)
        rendered_queries = count_queries(MEMBER, cached=False)
        small_rendered_queries = count_queries(SMALL_MEMBER, cached=False)

        bs.step(f"warm-up: {args.warmup} requests per path")
        for path in PATHS.values():
            bs.closed_loop(
                lambda c, p=path: c.get(p), factory, concurrency=args.concurrency, requests=0,
                warmup=args.warmup,
            )  # fmt: skip

        per_round = max(1, args.requests // args.rounds)
        results = {name: bs.LoadResult("closed loop") for name in PATHS}
        ratios: dict[str, list[float]] = {name: [] for name in PATHS}
        for r in range(args.rounds):
            bs.step(f"round {r + 1}/{args.rounds}: {per_round} requests per path")
            for name, path in PATHS.items():
                got = bs.closed_loop(
                    lambda c, p=path: c.get(p), factory, concurrency=args.concurrency,
                    requests=per_round,
                )  # fmt: skip
                merged = results[name]
                merged.latencies += got.latencies
                merged.statuses.update(got.statuses)
                merged.errors.update(got.errors)
                merged.elapsed += got.elapsed
                ratios[name].append(got.rps)
            for name in PATHS:  # this round's page req/s over this round's trivial req/s
                trivial_rps = ratios["trivial"][-1]
                if name != "trivial":
                    ratios[name][-1] = ratios[name][-1] / trivial_rps if trivial_rps else 0.0

        bs.print_config(
            bench.config(
                **{
                    "Member": f"{ACCOUNTS} connected accounts (3 need reconnecting), "
                    f"{CLAIMS} enabled claims (3 completed, 2 not yet, 1 failed, "
                    "2 in progress, 2 not started)",
                    "Other data": f"{args.other_members} other members with 1-5 accounts and "
                    "completions each; 14 apps",
                    "Login": "the login form (POST /login/), session cookie",
                    "Load": f"closed loop, {args.concurrency} in flight, keep-alive clients "
                    "(sync workers close each connection)",
                    "Requests": f"{per_round * args.rounds} per path measured, in "
                    f"{args.rounds} interleaved rounds, after {args.warmup} warm-up each",
                }
            ),
            title="Pages benchmark: configuration",
        )
        rows = []
        for name, path in PATHS.items():
            result = results[name]
            ratio = median(ratios[name]) if name != "trivial" else 1.0
            rows.append(
                result.row(
                    f"GET {path}",
                    **{
                        "bytes": sizes[name],
                        "queries": queries[name],
                        "rendered": rendered_queries[name],
                        "ratio": "1 (baseline)" if name == "trivial" else f"{ratio:.2f}",
                        "rounds": " ".join(
                            f"{value:.2f}" for value in ratios[name] if name != "trivial"
                        ),
                    },
                )
            )
        bs.print_table(
            rows,
            title="Pages benchmark: results (ratio = median over the rounds of page req/s / "
            "trivial req/s; queries: served from the page cache; rendered: cache off)",
        )
        print(
            f"\n  queries for {SMALL_MEMBER} (2 accounts, 1 completion): served "
            + ", ".join(f"{name} {small_queries[name]}" for name in PATHS)
            + "; rendered "
            + ", ".join(f"{name} {small_rendered_queries[name]}" for name in PATHS)
        )
        goal_rows = []
        for name, path in PATHS.items():
            if name == "trivial":
                continue
            ratio = median(ratios[name])
            goal_rows.append(
                bs.goal(
                    "pages",
                    f"GET {path}: req/s vs the trivial view (median of {args.rounds} rounds)",
                    f">= {GOAL_RATIO}",
                    f"{ratio:.2f}",
                    ratio >= GOAL_RATIO,
                )
            )
        for name, path in PATHS.items():
            if name == "trivial":
                continue
            same = (queries[name], rendered_queries[name]) == (
                small_queries[name],
                small_rendered_queries[name],
            )
            goal_rows.append(
                bs.goal(
                    "pages",
                    f"GET {path}: queries constant (20 accounts/10 claims vs 2/1; cached, "
                    "rendered)",
                    "equal",
                    f"{queries[name]}={small_queries[name]}, "
                    f"{rendered_queries[name]}={small_rendered_queries[name]}",
                    same,
                )
            )
        bs.goals(goal_rows, title="Pages benchmark: goals")
        errors = sum(sum(r.errors.values()) for r in results.values())
        if errors:
            print(f"  {errors} requests failed (see the errors column)")
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(main())

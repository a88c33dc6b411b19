"""Seed a programme of a given size, fast, through the app's own models (bulk_create).

Used by bench/bench_growth.py, and by anyone who wants a large database to measure
against (see /work/helpers/COMMON.md, "Growth seed")::

    .venv/bin/python bench/bench_growth.py --seed-only --members 100000 --keep-db

leaves the PostgreSQL database ``connect_claim_bench_growth`` with 100,000 members.

What `seed(members)` makes (per 100,000 members, about):

* apps: github, discord, twitter, google (enabled);
* claims: four enabled ones with their requirements ("all" and "any" groups, two with a
  re-check interval of a day), one closed (ended), and "growth-enable" (needs GitHub,
  disabled: the benchmark enables it to measure discovery);
* members, signed up over the last 365 days (the id rises with the date), 85% with a
  verified email, 80% with an address (each their own), 1% deactivated;
* connected accounts: 0-4 apps per member (mean about 3: 300,000), 85% healthy, 10%
  unhealthy, 5% dead;
* completions of the four enabled claims by about three members in four who hold an
  account (about 290,000), in every state: completed 50%, not eligible 28% (10% of
  them due for a re-check, 1% held for a deactivated member), waiting 6%, failed 5%,
  retrying 4%, checking 3%, delivering 2%, revoked 2%;
* their ledger events, the transitions that led there (about 1,000,000): requested,
  taken, delivering, delivered, not eligible, error, gave up, revoked.

Deterministic (one random.Random(seed)); member i is ``growth-<i>``. Rows are built and
written CHUNK members at a time, so memory stays flat whatever the size.
"""

from __future__ import annotations

import datetime
import random
import time

CHUNK = 5000
BATCH = 5000
APPS = (("github", "GitHub"), ("discord", "Discord"), ("twitter", "Twitter"), ("google", "Google"))
# Accounts per member: 0..4 with these weights (mean 3.05).
ACCOUNTS_WEIGHTS = (5, 5, 15, 30, 45)
# A member with at least one account has a completion of each enabled claim with this
# probability (about 2.9 completions and 10 events per member).
COMPLETION_P = 0.76
STATES = (  # state, weight
    ("completed", 50),
    ("ineligible", 28),
    ("waiting", 6),
    ("failed", 5),
    ("retrying", 4),
    ("checking", 3),
    ("delivering", 2),
    ("revoked", 2),
)
# The transitions that lead to each state: (from, to, reason).
_W, _C, _D = "waiting", "checking", "delivering"
CHAINS = {
    "waiting": [("", _W, "requested")],
    "checking": [("", _W, "requested"), (_W, _C, "taken")],
    "delivering": [("", _W, "requested"), (_W, _C, "taken"), (_C, _D, "delivering")],
    "completed": [
        ("", _W, "requested"),
        (_W, _C, "taken"),
        (_C, _D, "delivering"),
        (_D, "completed", "delivered"),
    ],
    "ineligible": [("", _W, "requested"), (_W, _C, "taken"), (_C, "ineligible", "not_eligible")],
    "retrying": [
        ("", _W, "requested"),
        (_W, _C, "taken"),
        (_C, _D, "delivering"),
        (_D, "retrying", "error"),
    ],
    "failed": [
        ("", _W, "requested"),
        (_W, _C, "taken"),
        (_C, _D, "delivering"),
        (_D, "failed", "gave_up"),
    ],
    "revoked": [
        ("", _W, "requested"),
        (_W, _C, "taken"),
        (_C, _D, "delivering"),
        (_D, "completed", "delivered"),
        ("completed", "revoked", "revoked"),
    ],
}
ENABLE_SLUG = "growth-enable"
DRY_RUN_SLUG = "growth-github"


def _log(message: str) -> None:
    import sys

    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def truncate() -> None:
    """Empty what seed() fills (and what the measured work wrote), for the next size."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    from claims.models import Claim
    from connections.models import App

    tables = [m._meta.db_table for m in (get_user_model(), Claim, App, DBTaskResult)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def _apps_and_claims():
    from claims.models import Claim, Requirement
    from connections.models import App

    apps = {
        slug: App.objects.create(slug=slug, name=name, enabled=True, order=i)
        for i, (slug, name) in enumerate(APPS)
    }

    def claim(slug, name, needs, *, any_of=(), enabled=True, recheck=False, ended=False):
        now = datetime.datetime.now(datetime.UTC)
        made = Claim(
            slug=slug,
            name=name,
            enabled=enabled,
            delivery=Claim.Delivery.DYNAMIC_STORE,
            store_id="bench",
            recheck_interval=datetime.timedelta(days=1) if recheck else None,
            starts_at=now - datetime.timedelta(days=400) if ended else None,
            ends_at=now - datetime.timedelta(days=30) if ended else None,
        )
        made.set_store_secret("bench-store-secret")
        made.save()
        position = 0
        for slug_ in needs:
            Requirement.objects.create(claim=made, app=apps[slug_], position=position)
            position += 1
        for slug_ in any_of:
            Requirement.objects.create(
                claim=made, app=apps[slug_], position=position, group=Requirement.Group.ANY
            )
            position += 1
        return made

    enabled = [
        claim(DRY_RUN_SLUG, "GitHub contributors", ["github"], recheck=True),
        claim("growth-chat", "Chat regulars", [], any_of=["discord", "twitter"], recheck=True),
        claim("growth-dev-chat", "Developers who chat", ["github", "discord"]),
        claim("growth-google", "Google users", ["google"]),
    ]
    claim("growth-closed", "Last season", ["github"], ended=True)
    claim(ENABLE_SLUG, "New claim to enable", ["github"], enabled=False)
    return apps, enabled


def _chunk(start, stop, apps, claims, rng, now, stats):
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.db import connection

    from claims.engine.ledger import HELD_REASON
    from claims.models import Completion, CompletionEvent
    from connections.models import ConnectedAccount

    User = get_user_model()
    year = 365 * 86400
    users = []
    for i in range(start, stop):
        # Spread over the last year, rising with i (the id order is the sign-up order).
        joined = now - datetime.timedelta(seconds=year * (1 - (i + rng.random()) / stats["of"]))
        users.append(
            User(
                username=f"growth-{i:06d}",
                email=f"growth-{i:06d}@example.com",
                address=f"0x{i + 1:040x}" if rng.random() < 0.8 else "",
                is_active=rng.random() >= 0.01,
                date_joined=joined,
                password="!",
            )
        )
    User.objects.bulk_create(users, batch_size=BATCH)
    EmailAddress.objects.bulk_create(
        [
            EmailAddress(user=u, email=u.email, verified=True, primary=True)
            for u in users
            if rng.random() < 0.85
        ],
        batch_size=BATCH,
    )
    slugs = list(apps)
    accounts, completions, held_by = [], [], {}
    for u in users:
        count = rng.choices(range(5), weights=ACCOUNTS_WEIGHTS)[0]
        for slug in rng.sample(slugs, count):
            health = rng.random()
            accounts.append(
                ConnectedAccount(
                    member=u,
                    app=apps[slug],
                    pipedream_id=f"apn_growth_{u.username}_{slug}",
                    name=f"{u.username} on {slug}",
                    healthy=health < 0.85,
                    dead=health >= 0.95,
                    error="" if health < 0.85 else "token expired",
                    last_synced_at=u.date_joined,
                )
            )
        if not count:
            continue
        for claim in claims:
            if rng.random() >= COMPLETION_P:
                continue
            state = rng.choices([s for s, _ in STATES], weights=[w for _, w in STATES])[0]
            at = u.date_joined + datetime.timedelta(hours=rng.random() * 48)
            completion = Completion(
                claim=claim,
                member=u,
                state=state,
                attempts=1,
                address=u.address if state in ("completed", "revoked", "delivering") else "",
                reason="" if state == "completed" else "Queued for a check.",
                last_attempt_at=at,
                completed_at=at if state == "completed" else None,
                next_attempt_at=now if state in ("waiting", "retrying") else None,
            )
            if state == "ineligible":
                completion.reason = "Not eligible yet."
                if not u.is_active:
                    completion.reason = HELD_REASON
                elif claim.recheck_interval and rng.random() < 0.10:
                    completion.recheck_at = now - datetime.timedelta(hours=1)  # due
                elif claim.recheck_interval:
                    completion.recheck_at = now + datetime.timedelta(days=rng.randint(1, 60))
            completions.append(completion)
            held_by[id(completion)] = at
    ConnectedAccount.objects.bulk_create(accounts, batch_size=BATCH)
    Completion.objects.bulk_create(completions, batch_size=BATCH)
    # The ledger events, ten a member: PostgreSQL's COPY into the model's own table (the
    # columns named from the model), several times faster than bulk_create.
    fields = ("completion_id", "at", "from_state", "to_state", "reason", "details")
    columns = [CompletionEvent._meta.get_field(name).column for name in fields]
    columns += ["actor_kind", "actor_detail"]
    sql = f"COPY {CompletionEvent._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    events = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for completion in completions:
            at = held_by[id(completion)]
            for step, (from_state, to_state, why) in enumerate(CHAINS[completion.state]):
                copy.write_row(
                    (
                        completion.pk,
                        at + datetime.timedelta(seconds=step * 5),
                        from_state,
                        to_state,
                        why,
                        "{}",
                        "worker" if step else "signal",
                        "" if step else "account connected",
                    )
                )
                events += 1
    stats["members"] += len(users)
    stats["accounts"] += len(accounts)
    stats["completions"] += len(completions)
    stats["events"] += events


def seed(members: int, *, seed: int = 24) -> dict[str, int]:
    """Seed `members` members and everything above (an empty database, migrated); the
    counts made. Needs django.setup() done (bench.setup_django())."""
    from django.db import connection, transaction
    from django.utils import timezone

    rng = random.Random(seed)
    now = timezone.now()
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    apps, claims = _apps_and_claims()
    stats = {"of": members, "members": 0, "accounts": 0, "completions": 0, "events": 0}
    for low in range(0, members, CHUNK):
        high = min(low + CHUNK, members)
        with transaction.atomic():
            _chunk(low, high, apps, claims, rng, now, stats)
        if (high // CHUNK) % 4 == 0 or high == members:
            _log(
                f"growth seed: {high:,}/{members:,} members, {stats['accounts']:,} accounts, "
                f"{stats['completions']:,} completions, {stats['events']:,} events "
                f"({time.monotonic() - started:.0f} s)"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    stats.pop("of")
    stats["seconds"] = round(time.monotonic() - started)
    return stats

"""A seeded programme for the funnel tests: members who took different paths, in bulk.

Each `Path` is what a kind of member left in the data (an email row, an address, accounts,
completions and their events) and how far the funnel must count them: overall and per
claim. The data records no route, so "came through a claim's page" and "went straight to
sign-up" leave the same rows: the page's visits are counted apart, as ClaimVisit rows.
Each member's first_name is their path's name, so a test can tell whom a number holds.
"""

import datetime
import itertools
from dataclasses import dataclass, field

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.utils import timezone

from claims.audit import ActorKind
from claims.models import Claim, ClaimVisit, Completion, CompletionEvent, Requirement
from connections.models import App, ConnectedAccount

ADDRESS = "0x742d35cc6634c0532925a3b844bc9e7595f0beb1"
Reason = CompletionEvent.Reason
State = Completion.State

# Stage numbers: 1 signed up, 2 email confirmed, 3 address set, 4 required apps
# connected, 5 eligible, 6 completed.
ENGINE_DONE = (Reason.DELIVERING, Reason.DELIVERED)


@dataclass(frozen=True)
class Done:
    """One completion: its claim, state, the reasons of its events, the address it took."""

    claim: str
    state: str
    reasons: tuple = ()
    address: str = ""


@dataclass(frozen=True)
class Path:
    name: str
    weight: int  # members per 100 "units" of the seed
    overall: int  # the furthest overall stage they count in
    per_claim: dict = field(default_factory=dict)  # slug -> furthest stage (default: 3 max)
    email: str = "none"  # none, unverified, verified
    address: str = ""
    apps: tuple = ()
    completions: tuple = ()
    staff: bool = False
    outside: bool = False  # completed without the engine finding them eligible
    # The stage whose own fact they hold without the stage before (a route the product
    # leaves out of order): scope ("" overall, a claim's slug, "*" every scope) -> stage.
    ahead: dict = field(default_factory=dict)


def _done(claim: str, *, address: str = ADDRESS) -> Done:
    return Done(claim, State.COMPLETED, ENGINE_DONE, address)


# The claims: each delivery method once, an "any" one, and one nobody can meet.
CLAIMS = {
    "gh-badge": (Claim.Delivery.BITBADGES, [("github", "all")]),
    "store-pass": (Claim.Delivery.DYNAMIC_STORE, [("github", "all"), ("discord", "all")]),
    "flow-any": (Claim.Delivery.WORKFLOW, [("github", "any"), ("slack", "any")]),
    "no-rules": (Claim.Delivery.DYNAMIC_STORE, []),
}

PATHS = [
    Path("social sign-in, no email yet", 10, 1),
    Path("signed up, never confirmed", 15, 1, email="unverified"),
    # Confirming is optional: an address set (on the profile) without it.
    Path("address, never confirmed", 2, 1, email="unverified", address=ADDRESS, ahead={"*": 3}),
    Path("confirmed, then left", 12, 2, email="verified"),
    # Connected first (from /connect/, skipping the claim's page), no address yet: the
    # apps of gh-badge and flow-any are connected, out of order.
    Path(
        "connected, no address",
        5,
        2,
        email="verified",
        apps=("github",),
        ahead={"": 4, "gh-badge": 4, "flow-any": 4},
    ),
    Path("address, nothing connected", 11, 3, email="verified", address=ADDRESS),
    Path(
        "one app of two",
        5,
        3,
        email="verified",
        address=ADDRESS,
        apps=("discord",),
    ),
    Path(
        "connected, not checked",
        8,
        4,
        {"gh-badge": 4, "flow-any": 4},
        email="verified",
        address=ADDRESS,
        apps=("github",),
    ),
    Path(
        "checked, not eligible",
        5,
        4,
        {"gh-badge": 4, "flow-any": 4},
        email="verified",
        address=ADDRESS,
        apps=("github",),
        completions=(Done("gh-badge", State.INELIGIBLE, (Reason.NOT_ELIGIBLE,)),),
    ),
    Path(
        "eligible, delivery failed",
        3,
        5,
        {"gh-badge": 5, "flow-any": 4},
        email="verified",
        address=ADDRESS,
        apps=("github",),
        completions=(Done("gh-badge", State.FAILED, (Reason.DELIVERING, Reason.ERROR), ADDRESS),),
    ),
    Path(
        "eligible, delivering",
        2,
        5,
        {"gh-badge": 5, "flow-any": 4},
        email="verified",
        address=ADDRESS,
        apps=("github",),
        completions=(Done("gh-badge", State.DELIVERING, (Reason.DELIVERING,), ADDRESS),),
    ),
    Path(
        "completed: BitBadges claim",
        4,
        6,
        {"gh-badge": 6, "flow-any": 4},
        email="verified",
        address=ADDRESS,
        apps=("github",),
        completions=(_done("gh-badge"),),
    ),
    Path(
        "completed: dynamic store",
        3,
        6,
        {"gh-badge": 4, "store-pass": 6, "flow-any": 4},
        email="verified",
        address=ADDRESS,
        apps=("github", "discord"),
        completions=(_done("store-pass"),),
    ),
    Path(
        "completed: workflow",
        3,
        6,
        {"flow-any": 6},
        email="verified",
        address=ADDRESS,
        apps=("slack",),
        completions=(_done("flow-any"),),
    ),
    # Completed, then removed the confirmed email, cleared the address, disconnected:
    # what they reached stays reached.
    Path(
        "completed, then removed everything",
        2,
        6,
        {"store-pass": 6},
        email="unverified",
        completions=(_done("store-pass"),),
    ),
    # A manual grant to someone who never connected: not the engine's eligibility.
    Path(
        "granted by hand, never connected",
        2,
        3,
        email="verified",
        address=ADDRESS,
        completions=(Done("gh-badge", State.COMPLETED, (Reason.GRANTED, *ENGINE_DONE), ADDRESS),),
        outside=True,
    ),
    # A grant checks no email: granted by hand to a member who never confirmed one.
    Path(
        "granted by hand, never confirmed",
        1,
        1,
        email="unverified",
        address=ADDRESS,
        completions=(Done("gh-badge", State.COMPLETED, (Reason.GRANTED, *ENGINE_DONE), ADDRESS),),
        outside=True,
        ahead={"*": 3},
    ),
    # Found eligible, the delivery failed, then staff granted it: the engine's finding
    # came first. And a delivery re-issued to a corrected address.
    Path(
        "eligible, failed, then granted",
        1,
        6,
        {"gh-badge": 6, "flow-any": 4},
        email="verified",
        address=ADDRESS,
        apps=("github",),
        completions=(
            Done(
                "gh-badge",
                State.COMPLETED,
                (Reason.DELIVERING, Reason.ERROR, Reason.GRANTED, *ENGINE_DONE),
                ADDRESS,
            ),
        ),
    ),
    Path(
        "completed, then re-issued",
        1,
        6,
        {"store-pass": 6, "gh-badge": 4, "flow-any": 4},
        email="verified",
        address=ADDRESS,
        apps=("github", "discord"),
        completions=(
            Done(
                "store-pass",
                State.COMPLETED,
                (*ENGINE_DONE, Reason.REISSUED, *ENGINE_DONE),
                ADDRESS,
            ),
        ),
    ),
    Path(
        "two claims, one completed",
        3,
        6,
        {"gh-badge": 6, "store-pass": 5, "flow-any": 4},
        email="verified",
        address=ADDRESS,
        apps=("github", "discord"),
        completions=(
            _done("gh-badge"),
            Done("store-pass", State.RETRYING, (Reason.DELIVERING, Reason.ERROR), ADDRESS),
        ),
    ),
    Path(
        "staff, everything",
        2,
        0,
        {"gh-badge": 0, "store-pass": 0, "flow-any": 0, "no-rules": 0},
        email="verified",
        address=ADDRESS,
        apps=("github", "discord", "slack"),
        completions=(_done("gh-badge"),),
        staff=True,
    ),
]
UNITS = sum(path.weight for path in PATHS)  # 100


def per_claim(path: Path, slug: str) -> int:
    """The furthest stage `path` reaches for claim `slug`."""
    return path.per_claim.get(slug, min(path.overall, 3))


def ahead(path: Path, scope: str) -> int | None:
    """The stage whose fact `path`'s members hold without the stage before, in `scope`
    ("" overall, or a claim's slug); None when their facts nest."""
    return path.ahead.get(scope, path.ahead.get("*"))


def expected(counts: dict[str, int], stage_of) -> list[int]:
    """Members in each of the six stages, given how many took each path."""
    return [
        sum(counts[path.name] for path in PATHS if stage_of(path) >= stage) for stage in range(1, 7)
    ]


def seed_claims() -> dict[str, Claim]:
    apps = {
        slug: App.objects.create(slug=slug, name=slug.title(), enabled=True)
        for slug in ("github", "discord", "slack")
    }
    claims = {}
    for slug, (delivery, requirements) in CLAIMS.items():
        claims[slug] = claim = Claim.objects.create(
            slug=slug, name=slug.replace("-", " ").title(), delivery=delivery, enabled=True
        )
        Requirement.objects.bulk_create(
            Requirement(claim=claim, app=apps[app], group=group, position=position)
            for position, (app, group) in enumerate(requirements)
        )
    return claims


def seed_members(
    claims: dict[str, Claim], *, scale: int, joined: datetime.datetime | None = None
) -> dict[str, int]:
    """`scale` x 100 members, each path by its weight, in a few bulk inserts. Returns
    how many took each path."""
    joined = joined or timezone.now() - datetime.timedelta(days=3)
    numbers = itertools.count(get_user_model().objects.count() + 1)
    apps = {app.slug: app for app in App.objects.all()}
    users, plan = [], []
    for path in PATHS:
        for _ in range(path.weight * scale):
            number = next(numbers)
            users.append(
                get_user_model()(
                    username=f"m{number}",
                    email=f"m{number}@example.com",
                    first_name=path.name,
                    password="!",
                    address=path.address,
                    is_staff=path.staff,
                    date_joined=joined,
                )
            )
            plan.append(path)
    users = get_user_model().objects.bulk_create(users, batch_size=2000)
    emails, accounts, completions, reasons = [], [], [], []
    for user, path in zip(users, plan, strict=True):
        if path.email != "none":
            verified = path.email == "verified"
            emails.append(EmailAddress(user=user, email=user.email, verified=verified))
        for slug in path.apps:
            accounts.append(
                ConnectedAccount(member=user, app=apps[slug], pipedream_id=f"apn_{user.pk}_{slug}")
            )
        for done in path.completions:
            completions.append(
                Completion(
                    claim=claims[done.claim],
                    member=user,
                    state=done.state,
                    address=done.address,
                    completed_at=joined if done.state == State.COMPLETED else None,
                )
            )
            reasons.append(done.reasons)
    EmailAddress.objects.bulk_create(emails, batch_size=2000)
    ConnectedAccount.objects.bulk_create(accounts, batch_size=2000)
    completions = Completion.objects.bulk_create(completions, batch_size=2000)
    events = []
    for completion, why in zip(completions, reasons, strict=True):
        state: str = State.CHECKING
        for reason in why:
            to_state = {
                Reason.DELIVERING: State.DELIVERING,
                Reason.DELIVERED: State.COMPLETED,
                Reason.GRANTED: State.WAITING,
                Reason.REISSUED: State.WAITING,
            }.get(reason, completion.state)
            events.append(
                CompletionEvent(
                    completion=completion,
                    from_state=state,
                    to_state=to_state,
                    reason=reason,
                    actor_kind=ActorKind.WORKER,
                    at=joined,
                )
            )
            state = to_state
    CompletionEvent.objects.bulk_create(events, batch_size=2000)
    return {path.name: path.weight * scale for path in PATHS}


def seed_visits(claims: dict[str, Claim], days: list[datetime.date], per_day: int) -> None:
    ClaimVisit.objects.bulk_create(
        ClaimVisit(claim=claim, day=day, count=per_day) for claim in claims.values() for day in days
    )

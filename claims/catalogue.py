"""The public list of claims, /c/: every enabled claim, its badge, the apps it needs and
whether it is open; for a member also where they stand on each.

`catalogue()` reads it in a fixed number of queries whatever the number of claims, and
at most CATALOGUE_CAP of them (the page says so when there are more). It counts no
visit: ClaimVisit counts the landing pages only. `apps_to_fix()` says which apps a
member has to connect or reconnect for a claim; the home page uses it too.
"""

from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_not_required
from django.db.models import Case, IntegerField, Prefetch, Q, Value, When
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from claims import life
from claims.models import Claim, Completion, Requirement
from connections.models import App, ConnectedAccount
from users.selectors import member_email_state

TEMPLATE = "claims/catalogue.html"
CATALOGUE_CAP = 200  # more than this are not listed; the page says so

# Open claims first, then those that open later, then those paused or used up, then closed.
_STOP_RANK = {None: 0, "not_open": 1, "halted": 2, "used_up": 3, "closed": 4}
# Of those, for a member: what needs them first, what is earned last.
_STATE_RANK = {"needs_you": 0, "new": 1, "in_progress": 2, "not_yet": 3}

STATE_LABELS = {
    "completed": "Completed",
    "in_progress": "In progress",
    "needs_you": "Needs you",
    "not_yet": "Not yet",
    "waiting": "Waiting for the site",
    "stopped": "",  # the claim's own sentence (closed, used up, paused) says it
    "removed": "Removed by the organiser",
    "new": "Not started",
}


@dataclass
class Fix:
    """What a member has to do about apps before a claim can be checked."""

    connect: list[App] = field(default_factory=list)  # no account of these yet
    reconnect: list[ConnectedAccount] = field(default_factory=list)  # accounts to reconnect
    unavailable: list[App] = field(default_factory=list)  # the site has to enable these

    def __bool__(self) -> bool:
        return bool(self.connect or self.reconnect or self.unavailable)


def apps_to_fix(claim: Claim, accounts: list[ConnectedAccount]) -> Fix:
    """The apps of `claim` the member lacks a usable account of, from their accounts (read
    once by the caller) and the claim's prefetched requirements. Of the "any"
    requirements' apps one usable account is enough; until then each is offered."""
    fix = Fix()
    required: dict[int, App] = {}
    either: dict[int, App] = {}
    for requirement in claim.requirement_list():
        target = either if requirement.group == Requirement.Group.ANY else required
        target.setdefault(requirement.app_id, requirement.app)
    usable = {account.app_id for account in accounts if account.usable}
    if either and not usable.intersection(either):
        for pk, app in either.items():
            required.setdefault(pk, app)
    for pk, app in required.items():
        if pk in usable:
            continue
        broken = [account for account in accounts if account.app_id == pk]
        if broken:
            fix.reconnect.append(next((a for a in broken if a.dead), broken[0]))
        elif app.enabled:
            fix.connect.append(app)
        else:
            fix.unavailable.append(app)
    return fix


@dataclass
class Entry:
    claim: Claim
    apps: list[App]
    stop: life.Stop | None
    state: str = ""  # a key of STATE_LABELS; "" for visitors

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, "")

    @property
    def earned(self) -> bool:
        return self.state == "completed"

    @property
    def open(self) -> bool:
        return self.stop is None


def _member_state(completion, stop, fix: Fix, *, ready: bool) -> str:
    """Where a member stands on a claim, as a key of STATE_LABELS."""
    if completion is not None:
        if completion.state == Completion.State.COMPLETED:
            return "completed"
        if completion.state == Completion.State.REVOKED:
            return "removed"
    if stop is not None and stop.kind != "not_open":
        return "stopped"
    if completion is not None and completion.in_progress and stop is None:
        return "in_progress"
    if not ready or fix.connect or fix.reconnect:
        return "needs_you"
    if fix.unavailable or stop is not None:
        return "waiting"
    if completion is None:
        return "new"
    if completion.state == Completion.State.INELIGIBLE:
        return "not_yet"
    return "needs_you"  # failed: Check again is theirs to press


def catalogue(*, member=None, now=None) -> tuple[list[Entry], bool]:
    """The enabled claims as listed at /c/, open ones first, and whether more than
    CATALOGUE_CAP exist. With a member, each entry also says where they stand."""
    now = now or timezone.now()
    claims = list(
        Claim.objects.enabled()
        .prefetch_related(
            Prefetch("requirements", queryset=Requirement.objects.select_related("app"))
        )
        # Closed by the site's own end first to the back, so that the cap drops those.
        .annotate(
            ended=Case(
                When(Q(ends_at__lte=now), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("ended", "name", "pk")[: CATALOGUE_CAP + 1]
    )
    more = len(claims) > CATALOGUE_CAP
    claims = claims[:CATALOGUE_CAP]
    entries = [
        Entry(
            claim=claim,
            apps=claim.apps(),
            stop=life.stop_for(claim, now),
        )
        for claim in claims
    ]
    if member is not None and member.is_authenticated:
        _add_member_states(entries, member)
    entries.sort(
        key=lambda entry: (
            _STOP_RANK.get(entry.stop.kind if entry.stop else None, 5),
            _STATE_RANK.get(entry.state, 5),
        )
    )
    return entries, more


def _add_member_states(entries: list[Entry], member) -> None:
    accounts = list(ConnectedAccount.objects.filter(member=member).select_related("app"))
    completions = {
        completion.claim_id: completion
        for completion in Completion.objects.filter(
            member=member, claim_id__in=[entry.claim.pk for entry in entries]
        )
    }
    ready = bool(member.address) and member_email_state(member=member).verified
    for entry in entries:
        entry.state = _member_state(
            completions.get(entry.claim.pk),
            entry.stop,
            apps_to_fix(entry.claim, accounts),
            ready=ready,
        )


@login_not_required
@require_GET
@never_cache
def catalogue_page(request):
    """GET /c/: public. Query parameters are ignored."""
    member = request.user if request.user.is_authenticated else None
    entries, more = catalogue(member=member)
    return render(
        request,
        TEMPLATE,
        {"entries": entries, "more": more, "cap": CATALOGUE_CAP, "member_view": member is not None},
    )

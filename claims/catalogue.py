"""The public list of claims, /c/: every enabled claim, its badge, the apps it needs and
whether it is open; for a member also where they stand on each.

`catalogue()` reads it in a fixed number of queries whatever the number of claims, and
at most CATALOGUE_CAP of them (the page says so when there are more). It counts no
visit: ClaimVisit counts the landing pages only. Where a member stands on each claim
comes from the claim's row (claims/selectors.py), the same one /claims/, the claim page
and the home page read.
"""

from dataclasses import dataclass

from django.contrib.auth.decorators import login_not_required
from django.db.models import Case, IntegerField, Prefetch, Q, Value, When
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from claims import life, selectors
from claims.models import Claim, Completion, Requirement
from connections.models import App

TEMPLATE = "claims/catalogue.html"
CATALOGUE_CAP = 200  # more than this are not listed; the page says so

# Open claims first, then those that open later, then those paused or used up, then closed.
_STOP_RANK = {None: 0, "not_open": 1, "halted": 2, "used_up": 3, "closed": 4}
# Of those, for a member: what needs them first, what is earned last.
_STATE_RANK = {"needs_you": 0, "new": 1, "in_progress": 2, "not_yet": 3}

STATE_LABELS = {
    "completed": gettext_lazy("Completed"),
    "in_progress": gettext_lazy("In progress"),
    "needs_you": gettext_lazy("Needs you"),
    "not_yet": gettext_lazy("Not yet"),
    "waiting": gettext_lazy("Waiting for the site"),
    "stopped": "",  # the claim's own sentence (closed, used up, paused) says it
    "removed": gettext_lazy("Removed by the organiser"),
    "new": gettext_lazy("Not started"),
}


@dataclass
class Entry:
    claim: Claim
    apps: list[App]
    stop: life.Stop | None
    state: str = ""  # a key of STATE_LABELS; "" for visitors

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS.get(self.state, ""))

    @property
    def earned(self) -> bool:
        return self.state == "completed"

    @property
    def open(self) -> bool:
        return self.stop is None


def _member_state(row: selectors.ClaimRow) -> str:
    """Where a member stands on a claim, as a key of STATE_LABELS, from the claim's row as
    /claims/ and the home page read it (claims/selectors.py decides every fix)."""
    if row.state == Completion.State.COMPLETED:
        return "completed"
    if row.state == Completion.State.REVOKED:
        return "removed"
    stop = row.stop
    if stop is not None and stop.kind != "not_open":
        return "stopped"
    if row.in_progress:
        return "in_progress"
    if row.fixes:  # the email, the address, an app to connect or reconnect
        return "needs_you"
    if stop is not None or any(r.fix == selectors.FIX_UNAVAILABLE for r in row.requirements):
        return "waiting"
    if row.completion is None:
        return "new"
    if row.state == Completion.State.INELIGIBLE:
        return "not_yet"
    return "needs_you" if row.can_check else "waiting"  # failed


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
        _add_member_states(entries, member, now)
    entries.sort(
        key=lambda entry: (
            _STOP_RANK.get(entry.stop.kind if entry.stop else None, 5),
            _STATE_RANK.get(entry.state, 5),
        )
    )
    return entries, more


def _add_member_states(entries: list[Entry], member, now) -> None:
    rows = selectors.rows_for([entry.claim for entry in entries], member=member, now=now)
    for entry, row in zip(entries, rows, strict=True):
        entry.state = _member_state(row)


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

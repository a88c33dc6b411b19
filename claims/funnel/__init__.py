"""The admin's funnel: members by sign-up cohort, and how far each of them got.

A member counts in a stage when they reached it, whatever path they took (straight to
sign-up, through a claim's page, Sign in with BitBadges). The stages, for the members
(not staff) who signed up in the chosen range:

1. Signed up: the member exists and joined in the range (the cohort).
2. Email confirmed or address proven: 1, and they hold a verified email address
   (allauth's EmailAddress), or an address proven by Sign in with BitBadges
   (User.address_proven, users.models.proven_q) or a BitBadges login (its uid is an address BitBadges
   proved: a proof cleared since still counts), or they signed up with BitBadges (the
   sign-up proved their address: a login disconnected since still counts), or they have
   connected an account or
   been found eligible (a Connect token needs one of the two,
   users.selectors.member_identity_confirmed: an email removed since still counts).
3. Address set: 2, and they have a BitBadges address, or one of their completions
   carries the address it went to (one cleared since still counts).
4. Required apps connected: 3, and they hold an account (of any health) of each app of a
   claim's "all" and "none" requirements and of one app of its "any" ones, or the engine
   found them eligible for it (it checks those accounts first). A claim without
   requirements is met by nobody. Overall: for at least one claim.
5. Eligible: 4, and the engine found them eligible at least once: their completion has
   an event with reason "delivering" ("eligible: delivery started") that no staff grant
   or re-issue of that completion came before (the delivery after one is recorded as
   "delivering" too, but nothing was checked). Not eligible and failed before delivery
   are not that either.
6. Completed: 5, and that same completion (overall: one of theirs) reached "completed"
   (its state, completed_at, or an event moving it there: one revoked since still
   counts).

Each stage is the one before AND the stage's own fact (what `reached()` reads, each fact
alone). The product makes most facts imply the ones before: the engine finds nobody
eligible without a confirmed email or a proven address, an address and the required
accounts (claims/engine/evaluation.py), nobody connects without one of the two, and a
proof sets the address it proves. Two routes do not nest, and there the "AND" decides,
so a member counts up to the first stage they have not reached, in order:
- email confirmation is optional (ACCOUNT_EMAIL_VERIFICATION), so a member may type an
  address, or be granted a claim by hand, without confirming one: "Signed up" only;
- /connect/ needs no address, so a member may connect a claim's apps before setting one:
  stage 2 only, until they set it.
tests/claims/test_funnel.py checks on 10,000 seeded members that these are the only
members any fact holds for without the stage before; the page and the CSV show, per
stage, how many members took such a route ("also reached out of order"). A member completed without the
engine finding them eligible (a manual grant to someone who never connected) has no
"Completed" fact; they are counted apart, as `completed_outside`, so no completion is
hidden. One the engine found eligible before a failed delivery and staff then granted is
in "Completed".

Anonymous visits of a claim's landing page (ClaimVisit) are counted apart, as visits:
a visitor is nobody until they sign up, so visits are not a stage.

Signing up with BitBadges is a path, not a stage: a member whose account a BitBadges
sign-up made (User.signup_method, recorded at sign-up and read through
users.siwbb.selectors: a password member who connects BitBadges later, even within the
minute, is not one; one who disconnects BitBadges later still is) counts in the stages
like anyone, and beside each stage the page says how many of its members came that way.

Reads only, in two queries whatever the number of members or claims: every figure
(overall and per claim, the out-of-order and BitBadges ones too) in one
(claims/funnel/counts.py: each fact read once per member, then counted), and the claims
with their visits. `reached()` reads the same facts with the ORM, one set per fact, for
checks.
"""

import datetime
import itertools
from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django import forms
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from claims.funnel import counts, version
from claims.models import Claim, ClaimVisit, Completion, CompletionEvent, Requirement
from connections.models import ConnectedAccount
from core import csv_stream
from users.models import proven_q
from users.siwbb.config import PROVIDER_ID as BITBADGES
from users.siwbb.selectors import signed_up_with_bitbadges_exists

STAGES = [
    "Signed up",
    "Email confirmed or address proven",
    "Address set",
    "Required apps connected",
    "Eligible",
    "Completed",
]
# "email_confirmed" is stage 2's key since before a proven address counted there too.
_KEYS = ["signed_up", "email_confirmed", "address_set", "apps_connected", "eligible", "completed"]
_CLAIM_KEYS = _KEYS[3:]  # the stages that depend on the claim
ELIGIBLE_REASON = CompletionEvent.Reason.DELIVERING
# A staff member's grant or re-issue: the delivery after it checks no requirement.
STAFF_REASONS = [CompletionEvent.Reason.GRANTED, CompletionEvent.Reason.REISSUED]


class FunnelForm(forms.Form):
    """The optional date range, from the query string (both ends inclusive)."""

    since = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter the start date as YYYY-MM-DD, e.g. 2026-01-31."},
    )
    until = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter the end date as YYYY-MM-DD, e.g. 2026-01-31."},
    )

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError("The start date must not be after the end date.")
        for day in (since, until):
            if day and not datetime.date(1970, 1, 1) <= day <= datetime.date(9000, 12, 31):
                raise forms.ValidationError("Choose dates between 1970 and 9000.")
        return cleaned

    def bounds(self) -> tuple[datetime.datetime | None, datetime.datetime | None]:
        """[start, end) as aware datetimes in the site's time zone; None for an open end.

        An invalid form counts as no range at all (the page shows the whole history
        alongside the error).
        """
        if not self.is_valid():
            return None, None
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        start = _midnight(since) if since else None
        end = _midnight(until + datetime.timedelta(days=1)) if until else None
        return start, end


def _midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _rate(part: int, whole: int) -> int | None:
    """`part` as a whole percentage of `whole`; None when there is no whole."""
    return round(100 * part / whole) if whole else None


# --- The facts --------------------------------------------------------------------------
# Each fact is a condition on one member's row, seen from some level of nesting: `Ref`
# names a column of an enclosing row (the member's pk, the claim's pk) and goes one
# OuterRef deeper for each subquery the condition opens.


@dataclass(frozen=True)
class Ref:
    name: str
    depth: int = 0

    def down(self) -> "Ref":
        return Ref(self.name, self.depth + 1)

    def expr(self) -> Any:
        value: Any = F(self.name) if self.depth == 0 else self.name
        for _ in range(self.depth):
            value = OuterRef(value)
        return value


@dataclass(frozen=True)
class Fixed:
    """One given claim, the same at any depth (for `reached()`)."""

    pk: int

    def down(self) -> "Fixed":
        return self

    def expr(self) -> Any:
        return self.pk


Scope = Ref | Fixed | None  # the claim's row, one given claim, or overall (None)


def _claim_filter(claim: Scope, path: str) -> dict:
    return {} if claim is None else {path: claim.down().expr()}


def _by_staff_before() -> Exists:
    """Seen from an event: a staff grant or re-issue of its completion came before it
    (the delivery that follows one records "delivering" too, without any check)."""
    earlier = Q(at__lt=OuterRef("at")) | Q(at=OuterRef("at"), pk__lt=OuterRef("pk"))
    return Exists(
        CompletionEvent.objects.filter(
            earlier, completion_id=OuterRef("completion_id"), reason__in=STAFF_REASONS
        )
    )


def _found_eligible() -> Exists:
    """Seen from a completion: an event of the engine finding its member eligible,
    "delivering" before any grant or re-issue of it."""
    return Exists(
        CompletionEvent.objects.filter(
            completion_id=OuterRef("pk"), reason=ELIGIBLE_REASON
        ).exclude(_by_staff_before())
    )


# The member-level facts are sets of member ids, read once per query (or once per claim)
# rather than once per member: `pk IN (...)` on the members' rows.


def _member_in(ids: models.QuerySet) -> Q:
    return Q(pk__in=ids.order_by())


def _of_member(completions: models.QuerySet, claim: Scope) -> Q:
    """The member has one of `completions`: overall a set of member ids read once; for a
    claim (the completion of that member and claim, by its index) looked up per member."""
    if claim is None:
        return _member_in(completions.values("member_id"))
    return Q(Exists(completions.filter(member_id=OuterRef("pk"), claim_id=claim.down().expr())))


def _engine_eligible(claim: Scope) -> Q:
    """The engine found the member eligible (for `claim`, or for any claim)."""
    return _of_member(Completion.objects.filter(_found_eligible()), claim)


def _has_account(member: Ref, app: Ref) -> Exists:
    return Exists(
        ConnectedAccount.objects.filter(member_id=member.down().expr(), app_id=app.down().expr())
    )


def _accounts_for(member: Ref, claim: Ref | Fixed) -> Q:
    """The member holds an account of every app the claim's "all" and "none"
    requirements name, and of one app of its "any" ones (the landing page's steps)."""

    def requirements(**filters):
        return Requirement.objects.filter(claim_id=claim.down().expr(), **filters)

    inner_member, app = member.down(), Ref("app_id")
    missing = requirements().exclude(group=Requirement.Group.ANY)
    missing = missing.exclude(_has_account(inner_member, app))
    one_of = requirements(group=Requirement.Group.ANY)
    one_met = one_of.filter(_has_account(inner_member, app))
    return (
        Q(Exists(requirements())) & ~Q(Exists(missing)) & (~Q(Exists(one_of)) | Q(Exists(one_met)))
    )


def _apps_connected(member: Ref, claim: Scope) -> Q:
    if claim is not None:
        return Q(_accounts_for(member, claim)) | _engine_eligible(claim)
    some_claim = Claim.objects.filter(_accounts_for(member.down(), Ref("pk")))
    return Q(Exists(some_claim)) | _engine_eligible(None)


def _completed(claim: Scope) -> Q:
    """One completion of the member's (for `claim`) the engine found eligible, that
    reached "completed"."""
    reached = (
        Q(state=Completion.State.COMPLETED)
        | Q(completed_at__isnull=False)
        | Q(
            Exists(
                CompletionEvent.objects.filter(
                    completion_id=OuterRef("pk"), to_state=Completion.State.COMPLETED
                )
            )
        )
    )
    return _of_member(Completion.objects.filter(reached, _found_eligible()), claim)


def _completed_any() -> Q:
    """Holds a completed completion, however it got there."""
    done = Completion.objects.filter(
        Q(state=Completion.State.COMPLETED) | Q(completed_at__isnull=False)
    )
    return _member_in(done.values("member_id"))


def _bitbadges_logins() -> models.QuerySet:
    return SocialAccount.objects.filter(provider=BITBADGES)


def _bitbadges_signup() -> Q:
    """The member's account was made by a sign-up with BitBadges (User.signup_method, as
    users.siwbb.selectors reads it)."""
    return Q(signed_up_with_bitbadges_exists())


def _common_facts() -> list[Q]:
    """The facts of stages 2 and 3, each alone (not including the stage before)."""
    email = (
        _member_in(EmailAddress.objects.filter(verified=True).values("user_id"))
        | proven_q()
        | Q(signup_method=get_user_model().SignupMethod.BITBADGES)
        | _member_in(_bitbadges_logins().values("user_id"))
        | _member_in(ConnectedAccount.objects.values("member_id"))
        | _engine_eligible(None)
    )
    address = ~Q(address="") | _member_in(
        Completion.objects.exclude(address="").values("member_id")
    )
    return [email, address]


def _claim_facts(member: Ref, claim: Scope) -> list[Q]:
    """The facts of stages 4 to 6 for `claim` (None: overall), each alone."""
    return [_apps_connected(member, claim), _engine_eligible(claim), _completed(claim)]


def _common_stages() -> list[Q]:
    """Stages 2 and 3 (the cohort is stage 1), each including the one before."""
    email, address = _common_facts()
    return [email, email & address]


def _claim_stages(member: Ref, claim: Scope, address: Q) -> list[Q]:
    """Stages 4 to 6, for `claim` (None: overall), each including the one before."""
    apps_fact, eligible_fact, completed_fact = _claim_facts(member, claim)
    apps = address & apps_fact
    eligible = apps & eligible_fact
    completed = eligible & completed_fact
    return [apps, eligible, completed]


def cohort(start=None, end=None) -> models.QuerySet:
    """The members (not staff) who signed up in [start, end)."""
    members = get_user_model().objects.filter(is_staff=False, is_superuser=False)
    if start is not None:
        members = members.filter(date_joined__gte=start)
    if end is not None:
        members = members.filter(date_joined__lt=end)
    return members.order_by()


def reached(start=None, end=None, claim: Claim | None = None) -> dict[str, models.QuerySet]:
    """Each stage's own fact WITHOUT the stage before: stage key -> the pks of the
    cohort's members who hold it (for `claim`, or overall), in the stages' order.

    The funnel's stages are these nested; a member in some set but not in the stage
    before is one the nesting drops (see the module's docstring for the two routes that
    do this). Six queries when read; for checks, not for the page.
    """
    scope = None if claim is None else Fixed(claim.pk)
    facts = [Q(), *_common_facts(), *_claim_facts(Ref("pk"), scope)]
    members = cohort(start, end)
    return {
        key: members.filter(fact).values_list("pk", flat=True)
        for key, fact in zip(_KEYS, facts, strict=True)
    }


def _visit_days(start, end) -> Q:
    q = Q()
    if start is not None:
        q &= Q(day__gte=timezone.localtime(start).date())
    if end is not None:
        q &= Q(day__lt=timezone.localtime(end).date())
    return q


def _claim_rows(start, end, claims: models.QuerySet) -> list[dict]:
    """Each claim (by name) with its landing page's visits on the range's days: one
    query."""
    visits = (
        ClaimVisit.objects.filter(_visit_days(start, end), claim_id=OuterRef("pk"))
        .order_by()
        .values("claim_id")
        .annotate(total=Sum("count"))
        .values("total")
    )
    return list(
        claims.order_by("name", "pk")
        .annotate(
            page_visits=Coalesce(models.Subquery(visits, output_field=models.IntegerField()), 0)
        )
        .values("pk", "name", "slug", "enabled", "page_visits")
    )


@version.figures
def figures_compute(start: str, end: str) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    """Every figure of the funnel, overall and per claim, for the members who signed up
    in [start, end) (ISO datetimes, "" for an open end): ONE query
    (claims/funnel/counts.py), whatever the number of members, accounts, completions
    or claims."""
    return counts.count(
        cohort(
            datetime.datetime.fromisoformat(start) if start else None,
            datetime.datetime.fromisoformat(end) if end else None,
        )
    )


def _figures(
    start, end, reading: version.Reading | None = None
) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    """`figures_compute`'s, kept under the data version (claims/funnel/version.py: any
    change to what it counts reads it again), so two queries at first, then one (the
    version; none when the caller's `reading` read it). Exact unless `reading` allows
    the newest figures while they are counted again."""
    reading = reading or version.Reading()
    return reading.get("funnel", "claims.funnel.figures_compute", _iso(start), _iso(end))


def _iso(moment: datetime.datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _stages(numbers: dict, ahead: dict, bitbadges: dict) -> list[dict]:
    """Each stage's row: its members, the share of the stage before, and of its members
    those who reached it out of order and those who signed up with BitBadges."""
    rows, before = [], None
    for label, key in zip(STAGES, _KEYS, strict=True):
        count = numbers[key]
        row = {"label": label, "key": key, "count": count, "rate": _rate(count, before or 0)}
        rows.append({**row, "ahead": ahead[key], "bitbadges": bitbadges[key]})
        before = count
    return rows


def member_funnel(
    start=None, end=None, claim: Claim | None = None, *, reading: version.Reading | None = None
) -> list[tuple[str, int]]:
    """The six stages as (label, members) for the members who signed up in [start, end):
    overall, or for `claim`. As `_figures` reads them (`reading`: the caller's, if it
    read the data version already)."""
    overall, per_claim = _figures(start, end, reading)
    numbers = dict(overall)
    if claim is not None:
        claim_figures = per_claim.get(claim.pk, dict.fromkeys(counts.PER_CLAIM, 0))
        numbers.update({key: claim_figures[key] for key in _CLAIM_KEYS})
    return [(label, numbers[key]) for label, key in zip(STAGES, _KEYS, strict=True)]


@dataclass
class Funnel:
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None
    stages: list[dict] = field(default_factory=list)  # label, key, count, rate, ahead, bitbadges
    completed_outside: int = 0
    visits: int = 0
    bitbadges_signups: int = 0  # of the cohort, signed up with BitBadges
    claims: list[dict] = field(default_factory=list)  # name, slug, ..., stages, visits
    # When the figures shown were computed, if they are not the current ones (the page
    # must say so; newer ones are being counted): None when they are current.
    as_of: datetime.datetime | None = None

    def pairs(self) -> list[tuple[str, int]]:
        return [(stage["label"], stage["count"]) for stage in self.stages]


def funnel_build(*, start=None, end=None, stale_ok: bool = False) -> Funnel:
    """The overall funnel and every claim's, for the members who signed up in [start,
    end), with the claims' landing-page visits on those days, and per stage the members
    who hold its fact without the stage before ("ahead") and those who signed up with
    BitBadges ("bitbadges"): two queries (the figures, the claims and their visits).

    Exact (the CSV) unless `stale_ok` (the page): then, while the figures are counted
    again after a change, the newest ones computed, with `as_of` saying when (and one
    recompute queued on the task worker: claims/funnel/version.py)."""
    reading = version.Reading(stale_ok=stale_ok)
    overall, per_claim = _figures(start, end, reading)
    reading.queue()
    ahead = {key: overall.get(f"ahead_{key}", 0) for key in _KEYS}
    bitbadges = {key: overall[f"bitbadges_{key}"] for key in _KEYS}
    result = Funnel(
        start=start,
        end=end,
        stages=_stages(overall, ahead, bitbadges),
        completed_outside=overall["completed_outside"],
        bitbadges_signups=bitbadges["signed_up"],
        as_of=reading.as_of,
    )
    nothing = dict.fromkeys(counts.PER_CLAIM, 0)
    for row in _claim_rows(start, end, Claim.objects.all()):
        row.update(per_claim.get(row["pk"], nothing))
        numbers = {**overall, **{key: row[key] for key in _CLAIM_KEYS}}
        claim_ahead = {**ahead, **{key: row[f"ahead_{key}"] for key in _CLAIM_KEYS}}
        claim_bitbadges = {**bitbadges, **{key: row[f"bitbadges_{key}"] for key in _CLAIM_KEYS}}
        stages = _stages(numbers, claim_ahead, claim_bitbadges)
        result.claims.append({**row, "visits": row["page_visits"], "stages": stages})
        result.visits += row["page_visits"]
    return result


# --- CSV ----------------------------------------------------------------------------------
# Written by core/csv_stream.py like every export (BOM, quoting, formula prefixes).


def _range_days(data: Funnel) -> tuple[str, str]:
    """The range's first and last days (inclusive) as YYYY-MM-DD; "" for an open end."""
    since = timezone.localtime(data.start).date().isoformat() if data.start else ""
    until = ""
    if data.end:
        until = (timezone.localtime(data.end).date() - datetime.timedelta(days=1)).isoformat()
    return since, until


def csv_filename(data: Funnel) -> str:
    """The file's name: funnel-from-<day>-to-<day>.csv, or today's funnel-<day>.csv."""
    since, until = _range_days(data)
    if not since and not until:
        return csv_stream.dated("funnel")
    parts = ["funnel"]
    if since:
        parts.append(f"from-{since}")
    if until:
        parts.append(f"to-{until}")
    return "-".join(parts) + ".csv"


def csv_header() -> list[str]:
    header = ["scope", "claim", "claim slug", "from", "until", "landing page visits"]
    header += STAGES
    header += [f"{after} (% of {before})" for before, after in itertools.pairwise(STAGES)]
    header += [f"{stage}: also reached out of order" for stage in STAGES[1:]]
    header += [f"{stage}: signed up with BitBadges" for stage in STAGES]
    return header


def csv_rows(data: Funnel) -> list[list[Any]]:
    """The page's numbers as CSV rows: the overall funnel, then each claim (no rate: "")."""
    since, until = _range_days(data)

    def row(scope, name, slug, visits, stages):
        counts = [stage["count"] for stage in stages]
        rates = [stage["rate"] for stage in stages[1:]]
        ahead = [stage["ahead"] for stage in stages[1:]]
        bitbadges = [stage["bitbadges"] for stage in stages]
        return [scope, name, slug, since, until, visits, *counts, *rates, *ahead, *bitbadges]

    rows = [row("overall", "", "", data.visits, data.stages)]
    for claim in data.claims:
        rows.append(row("claim", claim["name"], claim["slug"], claim["visits"], claim["stages"]))
    return rows


BAR_HEIGHT = 24
BAR_STEP = 32


def bars(values: list[tuple], *, width: int = 420) -> dict:
    """A horizontal bar chart as numbers for an SVG: (label, value[, kind]) per bar.

    Drawn with SVG attributes, not inline styles: the site's CSP allows no inline style.
    """
    top = max((value for _, value, *_ in values), default=0)
    rows = [
        {
            "label": label,
            "value": value,
            "kind": rest[0] if rest else "",
            "width": max(1, round(width * value / top)) if top and value else 0,
            "y": index * BAR_STEP,
            "text_y": index * BAR_STEP + BAR_HEIGHT // 2,
        }
        for index, (label, value, *rest) in enumerate(values)
    ]
    return {"rows": rows, "height": max(len(rows) * BAR_STEP, BAR_STEP), "bar": BAR_HEIGHT}

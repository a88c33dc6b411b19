"""The admin home's figures: how the programme is going, and what needs an operator.

`home_build(user)` reads every section the staff member may see, and only those: each
is gated by the view permission of the model it counts (a figure is a read of that
model), and each link goes to the admin list it summarises, filtered. Every section is
a fixed number of queries (aggregates with conditional counts, one grouped read for the
chart), whatever the number of members, accounts, completions or claims.

Windows are whole days in the site's time zone: "the last 7 days" is today and the six
days before it, so a figure and the list its link opens (`date_joined__gte=<midnight>`)
agree.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from claims import funnel, pause
from claims.funnel import version as data_version
from claims.models import Completion, CompletionEvent
from connections.models import ConnectedAccount, SiteAccount, UpstreamAccount
from operations import alerts
from operations.alerts import notify
from operations.home_chart import Chart
from operations.home_chart import build as chart_build

SHORT, LONG = 7, 30
CHART_DAYS = 30
INCIDENTS_SHOWN = 5

State = Completion.State
Health = UpstreamAccount.Health

# What a staff member needs to see each section (a superuser has them all).
PERMISSIONS = {
    "members": "users.view_user",
    "accounts": "connections.view_connectedaccount",
    "site_accounts": "connections.view_siteaccount",
    "completions": "claims.view_completion",
    "pause": "claims.view_deliverypause",
    "claims": "claims.view_claim",
    "incidents": "operations.view_incident",
}


def admin_list(model_label: str, **filters: Any) -> str:
    """The admin's list of `model_label` ("claims_completion"), filtered by `filters`."""
    url = reverse(f"admin:{model_label}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


@dataclass(frozen=True)
class Figure:
    """A number with its label and the admin list it counts (url "" when none)."""

    label: str
    value: int
    url: str = ""


@dataclass(frozen=True)
class Attention:
    """Something an operator should look at: how many, what, where (level: "error" for
    what is broken now, "warning" for what may become so)."""

    label: str
    count: int
    url: str
    level: str = "warning"
    detail: str = ""


@dataclass(frozen=True)
class StateRow:
    state: str
    label: str
    now: int
    short: int
    long: int
    url: str


@dataclass
class Home:
    members: list[Figure] | None = None
    accounts: list[dict] | None = None
    completions: list[StateRow] | None = None
    attention: list[Attention] = field(default_factory=list)
    # Whether the staff member may see any source of attention items at all.
    attention_shown: bool = False
    pause: dict | None = None
    chart: Chart | None = None
    funnel: list[dict] | None = None
    funnel_url: str = ""
    claims_visible: bool = False
    incidents: list[Any] | None = None
    incidents_open: int = 0
    incidents_url: str = ""
    first_short: datetime.date | None = None
    first_long: datetime.date | None = None
    # When the figures shown were computed, if they are not the current ones (the page
    # says so; newer ones are being counted): None when they are current.
    as_of: datetime.datetime | None = None

    @property
    def empty(self) -> bool:
        """Nothing at all to show: a staff member without any of the permissions."""
        return not any(
            (self.members, self.accounts, self.completions, self.funnel, self.attention_shown)
        ) and (self.incidents is None)


def _since(today: datetime.date, days: int) -> datetime.date:
    return today - datetime.timedelta(days=days - 1)


def _midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


# The figures kept under the data version: module-level functions of strings (ISO
# datetimes), so the task that counts them again can name them (claims/funnel/version.py).


@data_version.figures
def members_compute(start_short: str, start_long: str) -> dict[str, int]:
    short = datetime.datetime.fromisoformat(start_short)
    long = datetime.datetime.fromisoformat(start_long)
    return (
        get_user_model()
        .objects.filter(is_staff=False)
        .aggregate(
            total=Count("pk"),
            active=Count("pk", filter=Q(is_active=True)),
            short=Count("pk", filter=Q(date_joined__gte=short)),
            long=Count("pk", filter=Q(date_joined__gte=long)),
        )
    )


@data_version.figures
def accounts_compute() -> dict[str, int]:
    return _health_counts_flat(ConnectedAccount.objects.all())


def members_read(
    first_short: datetime.date,
    first_long: datetime.date,
    reading: data_version.Reading | None = None,
) -> list[Figure]:
    """Members (users who are not staff): all, active, joined in each window. One query,
    kept under the data version and the windows."""
    figures = (reading or data_version.Reading()).get(
        "home-members",
        "operations.home.members_compute",
        _midnight(first_short).isoformat(),
        _midnight(first_long).isoformat(),
    )
    base = {"is_staff__exact": 0}
    return [
        Figure("Members", figures["total"], admin_list("users_user", **base)),
        Figure(
            "Active (may log in)",
            figures["active"],
            admin_list("users_user", is_active__exact=1, **base),
        ),
        Figure(
            f"Joined in the last {SHORT} days",
            figures["short"],
            admin_list("users_user", date_joined__gte=_midnight(first_short).isoformat(), **base),
        ),
        Figure(
            f"Joined in the last {LONG} days",
            figures["long"],
            admin_list("users_user", date_joined__gte=_midnight(first_long).isoformat(), **base),
        ),
    ]


def _health_counts_flat(queryset) -> dict[str, int]:
    """Accounts by health in one pass over the table (no subquery per state)."""
    counts = queryset.aggregate(
        n_healthy=Count("pk", filter=Q(healthy=True, dead=False)),
        n_unhealthy=Count("pk", filter=Q(healthy=False, dead=False)),
        n_dead=Count("pk", filter=Q(dead=True)),
    )
    return {state: counts[f"n_{state}"] for state in Health.values}


def accounts_read(
    user, reading: data_version.Reading | None = None
) -> tuple[list[dict], list[Attention]]:
    """Members' accounts (kept under the data version) and the site's (a few rows, read
    each time), if allowed, by health: one query each."""
    rows: list[dict] = []
    attention: list[Attention] = []
    if user.has_perm(PERMISSIONS["accounts"]):
        counts = (reading or data_version.Reading()).get(
            "home-accounts", "operations.home.accounts_compute"
        )
        rows.append(
            {
                "label": "Members' accounts",
                "figures": [
                    Figure(
                        label,
                        counts[state],
                        admin_list("connections_connectedaccount", health=state),
                    )
                    for state, label in Health.choices
                ],
                "total": sum(counts.values()),
                "url": admin_list("connections_connectedaccount"),
            }
        )
        if counts[Health.DEAD]:
            attention.append(
                Attention(
                    "Dead accounts",
                    counts[Health.DEAD],
                    admin_list("connections_connectedaccount", health=Health.DEAD),
                    "error",
                    "Pipedream can no longer use them: their members must connect again.",
                )
            )
        if counts[Health.UNHEALTHY]:
            attention.append(
                Attention(
                    "Unhealthy accounts",
                    counts[Health.UNHEALTHY],
                    admin_list("connections_connectedaccount", health=Health.UNHEALTHY),
                    "warning",
                    "Claims cannot check them until they are healthy again.",
                )
            )
    if user.has_perm(PERMISSIONS["site_accounts"]):
        counts = _health_counts_flat(SiteAccount.objects.all())
        url = admin_list("connections_siteaccount")
        rows.append(
            {
                "label": "The site's accounts",
                "figures": [Figure(label, counts[state]) for state, label in Health.choices],
                "total": sum(counts.values()),
                "url": url,
            }
        )
        broken = counts[Health.DEAD] + counts[Health.UNHEALTHY]
        if broken:
            attention.append(
                Attention(
                    "The site's accounts not healthy",
                    broken,
                    url,
                    "error",
                    "Triggers on shared resources run on them.",
                )
            )
    return rows, attention


@data_version.figures
def current_compute() -> dict[str, int]:
    return Completion.objects.aggregate(
        **{state: Count("pk", filter=Q(state=state)) for state in State.values},
        unknown=Count("pk", filter=Q(outcome_unknown=True)),
        paused=Count("pk", filter=Q(paused_at__isnull=False)),
    )


@data_version.figures
def reached_compute(start_short: str, start_long: str) -> dict[str, dict[str, int]]:
    short = datetime.datetime.fromisoformat(start_short)
    long = datetime.datetime.fromisoformat(start_long)
    return {
        row["to_state"]: {"short": row["short"], "long": row["long"]}
        for row in CompletionEvent.objects.filter(at__gte=long)
        .exclude(from_state=F("to_state"))
        .values("to_state")
        .annotate(
            long=Count("completion", distinct=True),
            short=Count("completion", distinct=True, filter=Q(at__gte=short)),
        )
        .order_by()
    }


def completions_read(
    first_short: datetime.date,
    first_long: datetime.date,
    now: datetime.datetime,
    reading: data_version.Reading | None = None,
) -> tuple[list[StateRow], dict[str, int]]:
    """Completions by state: how many are in each now (one query, with the counts the
    attention list needs), and how many reached it in each window, from the ledger's
    events (one query): a completion counts once per state it entered. Both kept under
    the data version (and the windows); the backlog due now depends on the clock, so it
    is read each time (one query on the (state, next_attempt_at) index)."""
    reading = reading or data_version.Reading()
    current = dict(reading.get("home-completions", "operations.home.current_compute"))
    current["due"] = Completion.objects.due(now).filter(member__isnull=False).count()
    reached = reading.get(
        "home-reached",
        "operations.home.reached_compute",
        _midnight(first_short).isoformat(),
        _midnight(first_long).isoformat(),
    )
    rows = [
        StateRow(
            state,
            label,
            current[state],
            reached.get(state, {}).get("short", 0),
            reached.get(state, {}).get("long", 0),
            admin_list("claims_completion", state__exact=state),
        )
        for state, label in State.choices
    ]
    return rows, current


def completions_attention(current: dict[str, int], pause_summary: dict | None) -> list[Attention]:
    items = []
    if current[State.FAILED]:
        items.append(
            Attention(
                "Failed completions",
                current[State.FAILED],
                admin_list("claims_completion", state__exact=State.FAILED),
                "error",
                "Gave up after their tries or were refused: Retry starts them over.",
            )
        )
    if current["unknown"]:
        items.append(
            Attention(
                "Outcomes unknown",
                current["unknown"],
                admin_list("claims_completion", outcome_unknown__exact=1),
                "error",
                "Sent without hearing the answer; checked with BitBadges before anything "
                "is sent again.",
            )
        )
    if current["due"]:
        items.append(
            Attention(
                "Backlog: completions due now",
                current["due"],
                admin_list("claims_completion", due="yes"),
                "warning",
                "Waiting or retrying and due, or left by a worker that stopped. A backlog "
                "that grows means no worker or scheduler is taking them.",
            )
        )
    if pause_summary is not None:
        items.append(
            Attention(
                f"Paused: {pause_summary['upstream']} out of credits",
                current["paused"],
                admin_list("claims_completion", paused="yes"),
                "error",
                "They wait without spending a try and go on by themselves once credits "
                "are topped up.",
            )
        )
    return items


@data_version.figures
def chart_compute(first: str) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in Completion.objects.filter(
            state=State.COMPLETED, completed_at__gte=datetime.datetime.fromisoformat(first)
        )
        .annotate(day=TruncDate("completed_at"))
        .values("claim_id", "claim__name", "day")
        .annotate(n=Count("pk"))
        .order_by()
    ]


def chart_read(today: datetime.date, reading: data_version.Reading | None = None) -> Chart:
    """Completions per day per claim over the last CHART_DAYS days: one grouped query,
    kept under the data version and the first day."""
    first = _since(today, CHART_DAYS)
    rows = (reading or data_version.Reading()).get(
        "home-chart", "operations.home.chart_compute", _midnight(first).isoformat()
    )
    return chart_build(rows, first, CHART_DAYS)


def funnel_read(reading: data_version.Reading | None = None) -> list[dict]:
    """The overall member funnel (claims/funnel/): each stage with its share of the
    stage before (kept under the data version, as the funnel page's)."""
    stages = []
    previous: int | None = None
    for label, count in funnel.member_funnel(reading=reading):
        rate = None if previous is None else (round(100 * count / previous) if previous else 0)
        stages.append({"label": label, "count": count, "rate": rate})
        previous = count
    return stages


def home_build(user, now: datetime.datetime | None = None) -> Home:
    """Every section of the admin home `user` may see. While figures are counted again
    after a change, the newest ones computed, and `as_of` says when (one recompute
    queued on the task worker: claims/funnel/version.py)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first_short, first_long = _since(today, SHORT), _since(today, LONG)
    home = Home(first_short=first_short, first_long=first_long)
    # Reads the version BEFORE any figure: what commits after it bumps it.
    reading = data_version.Reading(stale_ok=True)

    if user.has_perm(PERMISSIONS["members"]):
        home.members = members_read(first_short, first_long, reading)

    accounts, attention = accounts_read(user, reading)
    home.accounts = accounts or None
    home.attention_shown = bool(accounts)

    if user.has_perm(PERMISSIONS["completions"]) or user.has_perm(PERMISSIONS["pause"]):
        home.pause = pause.summary()
    if user.has_perm(PERMISSIONS["completions"]):
        home.completions, current = completions_read(first_short, first_long, now, reading)
        attention = completions_attention(current, home.pause) + attention
        home.chart = chart_read(today, reading)
        home.attention_shown = True

    if user.has_perm(PERMISSIONS["incidents"]):
        incidents = alerts.open_incidents()
        home.incidents = list(incidents[:INCIDENTS_SHOWN])
        home.incidents_open = (
            len(home.incidents) if len(home.incidents) < INCIDENTS_SHOWN else incidents.count()
        )
        home.incidents_url = admin_list("operations_incident", open="yes")
        home.attention_shown = True
        if notify.nobody_hears():
            attention.append(
                Attention(
                    "alert recipients",
                    0,
                    reverse("admin:operations_alertendpoint_changelist"),
                    "error",
                    "No one receives alerts: incidents open and nobody is told. Set "
                    "ALERT_EMAILS, give a staff member with an email address the 'Receives "
                    "alert emails' permission, or add an alert webhook.",
                )
            )

    if user.has_perm(PERMISSIONS["claims"]):
        home.claims_visible = True
        home.funnel = funnel_read(reading)
        home.funnel_url = reverse("admin:claims_claim_funnel")

    home.attention = attention
    home.as_of = reading.as_of
    reading.queue()
    return home

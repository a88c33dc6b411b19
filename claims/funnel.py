"""The admin's funnel: links issued -> accounts connected -> claims completed.

Reads only, in a fixed number of queries whatever the number of apps, claims or
members: each figure is a correlated COUNT subquery on the row it belongs to.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from claims.models import Claim, Completion, Requirement
from connections.models import App, ConnectedAccount, ConnectSession


class SubqueryCount(models.Subquery):
    """How many rows a (correlated) queryset has, as one expression of the outer query."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _count)"
    output_field = models.IntegerField()

    def __init__(self, queryset, **extra):
        super().__init__(queryset.order_by().values("pk"), **extra)


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


def _in_range(name: str, start, end) -> Q:
    q = Q()
    if start is not None:
        q &= Q(**{f"{name}__gte": start})
    if end is not None:
        q &= Q(**{f"{name}__lt": end})
    return q


def _rate(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


@dataclass
class Funnel:
    issued: int = 0
    connected: int = 0
    accounts: int = 0
    started: int = 0
    completed: int = 0
    apps: list[dict] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)

    @property
    def stages(self) -> list[tuple[str, int]]:
        return [
            ("Links issued", self.issued),
            ("Accounts connected", self.connected),
            ("Claims completed", self.completed),
        ]


def funnel_build(*, start=None, end=None) -> Funnel:
    """The funnel for sessions, accounts and completions made in [start, end).

    "Members ready" (active members with an account of every required app) is as of
    now: it is a state, not an event in the range.
    """
    apps = (
        App.objects.annotate(
            issued=SubqueryCount(
                ConnectSession.objects.filter(
                    _in_range("created_at", start, end), app=OuterRef("pk")
                )
            ),
            connected=SubqueryCount(
                ConnectSession.objects.filter(
                    _in_range("created_at", start, end),
                    app=OuterRef("pk"),
                    status=ConnectSession.Status.CONNECTED,
                )
            ),
            accounts_count=SubqueryCount(
                ConnectedAccount.objects.filter(
                    _in_range("created_at", start, end), app=OuterRef("pk")
                )
            ),
        )
        .order_by("order", "name")
        .values("pk", "name", "slug", "enabled", "issued", "connected", "accounts_count")
    )

    # A member is ready for a claim when no app that every member needs (its "all" and
    # "none" requirements) lacks one of their accounts.
    missing_app = (
        Requirement.objects.filter(claim_id=OuterRef(OuterRef("pk"))).exclude(
            group=Requirement.Group.ANY
        )
    ).exclude(
        Exists(
            ConnectedAccount.objects.filter(
                member_id=OuterRef(OuterRef("pk")), app_id=OuterRef("app_id")
            )
        )
    )
    ready = get_user_model().objects.filter(is_active=True).exclude(Exists(missing_app))
    completed_in_range = Q(completions__state=Completion.State.COMPLETED) & _in_range(
        "completions__completed_at", start, end
    )
    claims = Claim.objects.annotate(
        ready=SubqueryCount(ready),
        started=models.Count(
            "completions", filter=_in_range("completions__created_at", start, end)
        ),
        completed=models.Count("completions", filter=completed_in_range),
    ).values("pk", "name", "slug", "enabled", "ready", "started", "completed")

    result = Funnel()
    for values in apps:
        row: dict[str, Any] = dict(values)
        if not (row["enabled"] or row["issued"] or row["accounts_count"]):
            continue  # an app nobody may connect and nobody did
        row["rate"] = _rate(row["connected"], row["issued"])
        result.apps.append(row)
        result.issued += row["issued"]
        result.connected += row["connected"]
        result.accounts += row["accounts_count"]
    for claim_values in claims:
        row = dict(claim_values)
        result.claims.append(row)
        result.started += row["started"]
        result.completed += row["completed"]
    return result


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

"""The ledger as CSV: completions with their evidence, one line per requirement checked.

Each piece of evidence (a rule the engine checked: its label, met or not, the value it
saw) gets a line of its own, the completion's columns repeated on it, so that a
spreadsheet filters by requirement ("who did not meet Followers?") on one column; the
first column, the completion's ID, groups a completion's lines. A completion with no
evidence yet has one line with the evidence columns empty.

Values read on members' accounts (the value seen, the detail quoting it, a reason that
quotes it) are written only for staff with `claims.view_member_values`; without it the
same words the change page shows stand in. No secret is read: the claims' passwords and
store keys, Pipedream or BitBadges tokens and the raw delivery reference are not among the
columns, and the query loads only the columns written.
"""

import datetime
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from claims.admin import member_values
from claims.models import Completion
from core import csv_stream

HEADER = (
    "completion",
    "claim",
    "claim slug",
    "delivery",
    "member id",
    "member",
    "address",
    "address proven",
    "state",
    "attempts",
    "outcome unknown",
    "reason",
    "created",
    "last attempt",
    "completed",
    "updated",
    "requirement",
    "rule",
    "met",
    "value seen",
    "detail",
    "checked at",
)
# The only columns read: what HEADER needs, and none of the claim's secrets.
COLUMNS = (
    "state",
    "attempts",
    "outcome_unknown",
    "reason",
    "evidence",
    "address",
    "address_proven",
    "created_at",
    "last_attempt_at",
    "completed_at",
    "updated_at",
    "member_id",
    "member__username",
    "claim__name",
    "claim__slug",
    "claim__delivery",
)
NO_EVIDENCE: tuple[str, ...] = ("",) * 6


def _moment(value: object) -> object:
    """An evidence time (ISO text in the JSON) as a datetime, so it is written like the
    other columns; anything else as it is."""
    try:
        return datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return value


def _evidence(
    completion: Completion, shown: Callable[[dict[str, Any]], dict[str, Any]]
) -> Iterator[Sequence[object]]:
    items = completion.evidence if isinstance(completion.evidence, list) else []
    found = False
    for item in items:
        if not isinstance(item, dict):
            continue
        found = True
        item = shown(item)
        yield (
            item.get("label") or item.get("rule", ""),
            item.get("rule", ""),
            bool(item.get("passed")),
            item.get("value", ""),
            item.get("detail", ""),
            _moment(item.get("at", "")),
        )
    if not found:
        yield NO_EVIDENCE


def rows(request: HttpRequest, queryset: QuerySet[Completion]) -> Iterator[Sequence[object]]:
    """The completions' lines: one query (a server-side cursor on PostgreSQL), read
    CHUNK completions at a time."""
    values_shown = member_values.can_see(request)

    def shown(item: dict[str, Any]) -> dict[str, Any]:
        return item if values_shown else member_values.evidence_item(item)

    completions = (
        queryset.select_related("claim", "member")
        .only(*COLUMNS)
        .iterator(chunk_size=csv_stream.CHUNK)
    )
    for completion in completions:
        member = completion.member
        reason = completion.reason if values_shown else member_values.completion_reason(completion)
        head = (
            completion.pk,
            completion.claim.name,
            completion.claim.slug,
            completion.claim.delivery,
            completion.member_id,
            member.username if member is not None else "(deleted member)",
            completion.address,
            completion.address_proven,
            completion.state,
            completion.attempts,
            completion.outcome_unknown,
            reason,
            completion.created_at,
            completion.last_attempt_at,
            completion.completed_at,
            completion.updated_at,
        )
        for evidence in _evidence(completion, shown):
            yield (*head, *evidence)


class CompletionExport(csv_stream.CSVExportAdmin):
    """The ledger admin's CSV export (CompletionAdmin)."""

    csv_stem = "completions"

    def csv_header(self, request: HttpRequest) -> Sequence[str]:
        return HEADER

    def csv_rows(self, request: HttpRequest, queryset: QuerySet[Any]) -> Iterator[Sequence[object]]:
        return rows(request, queryset)

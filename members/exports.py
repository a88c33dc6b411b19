"""Members as CSV, from the member admin (MemberAdmin).

One line per member: who they are, how they signed up and their id at the host site
(when they sign on from it), whether their email is confirmed (a verified address, as the
admin's column reads it), their BitBadges address and whether (and when) Sign in with
BitBadges proved it, when they joined and last logged in, whether the account is active,
and how many accounts and completions they have. No password hash, no MFA data,
no external ID (Pipedream's name for the member), no BitBadges token (none is kept) is
read: the query loads only the columns written, counts come from subqueries in the same
query.
"""

from collections.abc import Iterator, Sequence
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from claims.models import Completion
from connections.models import ConnectedAccount
from core import csv_stream
from users.hostsso import PROVIDER_ID as HOST_PROVIDER_ID

HEADER = (
    "id",
    "username",
    "email",
    "email confirmed",
    "signed up with",
    "host id",
    "address",
    "address proven",
    "address proven at",
    "date joined",
    "last login",
    "active",
    "accounts",
    "completions",
    "completed",
)
COLUMNS = (
    "username",
    "email",
    "signup_method",
    "address",
    "address_proven_at",
    "date_joined",
    "last_login",
    "is_active",
)


def _count(queryset: QuerySet[Any]) -> Coalesce:
    """How many rows of `queryset` belong to the member of the outer row."""
    counted = (
        queryset.filter(member=OuterRef("pk"))
        .order_by()
        .values("member")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def rows(request: HttpRequest, queryset: QuerySet[Any]) -> Iterator[Sequence[object]]:
    """The members' lines, CHUNK members per fetch, one query for all of them."""
    members = (
        # proven_address: what address_proven compares the address with (not a column).
        queryset.only(*COLUMNS, "proven_address")
        .annotate(
            csv_confirmed=Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)),
            # The host site's `sub` (users.selectors.host_ids reads it the same way).
            csv_host_id=Subquery(
                SocialAccount.objects.filter(user=OuterRef("pk"), provider=HOST_PROVIDER_ID)
                .order_by("pk")
                .values("uid")[:1]
            ),
            csv_accounts=_count(ConnectedAccount.objects.all()),
            csv_completions=_count(Completion.objects.all()),
            csv_completed=_count(Completion.objects.filter(state=Completion.State.COMPLETED)),
        )
        .iterator(chunk_size=csv_stream.CHUNK)
    )
    for member in members:
        yield (
            member.pk,
            member.username,
            member.email,
            member.csv_confirmed,
            member.signup_method,
            member.csv_host_id or "",
            member.address,
            member.address_proven,
            member.address_proven_at if member.address_proven else None,
            member.date_joined,
            member.last_login,
            member.is_active,
            member.csv_accounts,
            member.csv_completions,
            member.csv_completed,
        )


class MemberExport(csv_stream.CSVExportAdmin):
    """The member admin's CSV export."""

    csv_stem = "members"

    def csv_header(self, request: HttpRequest) -> Sequence[str]:
        return HEADER

    def csv_rows(self, request: HttpRequest, queryset: QuerySet[Any]) -> Iterator[Sequence[object]]:
        return rows(request, queryset)

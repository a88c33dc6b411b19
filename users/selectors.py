"""Reads about members: whether their email address is confirmed, and which to write to."""

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db import connections, router

from core import database
from users.hostsso import PROVIDER_ID as HOST_PROVIDER_ID


@dataclass(frozen=True)
class EmailState:
    verified: bool
    # The address a confirmation link went (or would go) to, when none is verified.
    pending: str = ""


def member_email_state(*, member) -> EmailState:
    """Whether `member` has a verified email address, and if not, which one to confirm."""
    addresses = list(EmailAddress.objects.filter(user_id=member.pk).order_by("-primary", "pk")[:20])
    if any(address.verified for address in addresses):
        return EmailState(verified=True)
    pending = addresses[0].email if addresses else (member.email or "")
    return EmailState(verified=False, pending=pending)


@database.written
def _verified_statement(connection) -> str:
    def column(name: str) -> str:
        return database.column(connection, EmailAddress, name)

    table = connection.ops.quote_name(EmailAddress._meta.db_table)
    return (
        f"SELECT 1 FROM {table} WHERE {column('user')} = %s AND {column('verified')} = %s "  # noqa: S608
        "LIMIT 1"
    )


def member_email_verified(*, member) -> bool:
    """Whether `member` has a confirmed email address: one statement, written out (every
    Connect token minted asks it, and compiling it cost most of the query's time)."""
    connection = connections[router.db_for_read(EmailAddress)]
    with connection.cursor() as cursor:
        cursor.execute(_verified_statement(connection), [member.pk, True])
        return cursor.fetchone() is not None


def member_confirmed_address(*, member) -> str | None:
    """The address to write to: the primary one when it is confirmed, else the first
    confirmed one; None when no address is confirmed."""
    address = (
        EmailAddress.objects.filter(user_id=member.pk, verified=True)
        .order_by("-primary", "pk")
        .values_list("email", flat=True)
        .first()
    )
    return address or None


def member_identity_confirmed(*, member) -> bool:
    """Whether `member` holds something only they could prove: a confirmed email address
    or a BitBadges address proven by Sign in with BitBadges. Connecting an app and a
    claim completing need one of the two."""
    if member.address_proven:
        return True
    return member_email_verified(member=member)


def host_ids(member_ids) -> dict[int, str]:
    """The host site's id (its OpenID Connect `sub`) of each of these members who signed
    on from the host site, by member id: one query, whatever the number of members."""
    rows = SocialAccount.objects.filter(provider=HOST_PROVIDER_ID, user_id__in=list(member_ids))
    return dict(rows.order_by("pk").values_list("user_id", "uid"))


def host_id_of(*, member) -> str:
    """The host site's id of `member`, or "" when they never signed on from the host site."""
    return host_ids([member.pk]).get(member.pk, "")


def member_id_for_host_id(host_id: str) -> int | None:
    """The member the host site knows by `host_id`, or None."""
    return (
        SocialAccount.objects.filter(provider=HOST_PROVIDER_ID, uid=host_id)
        .values_list("user_id", flat=True)
        .first()
    )

"""Reads for Pipedream Connect: a member's accounts and the apps offered to them, and
the members a health poll visits."""

from django.contrib.auth import get_user_model
from django.db.models import Min, QuerySet

from connections.models import App, ConnectedAccount


def accounts_for_member(*, member) -> QuerySet[ConnectedAccount]:
    """The member's accounts with their apps, so a page renders in constant queries."""
    return ConnectedAccount.objects.for_member(member).select_related("app")


def account_for_member(*, member, account_id: int) -> ConnectedAccount:
    """One of the member's accounts; DoesNotExist for anyone else's (views answer 404)."""
    return accounts_for_member(member=member).get(pk=account_id)


def apps_available(*, member) -> QuerySet[App]:
    """The apps members may connect, in the admin's order."""
    return App.objects.enabled().order_by("order", "name")


def members_to_poll(limit: int | None = None):
    """Members with accounts, the least recently synced first."""
    members = (
        get_user_model()
        .objects.filter(connected_accounts__isnull=False)
        .annotate(synced=Min("connected_accounts__last_synced_at"))
        .order_by("synced", "pk")
        .distinct()
    )
    return members[:limit] if limit else members

"""Reads for Pipedream Connect, always scoped to one member."""

from django.db.models import QuerySet

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

"""Shared by the connections commands: find a member by username or email."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db.models import Q


def member_lookup(name: str):
    name = (name or "").strip()
    if not name:
        raise CommandError("--user must name a member (username or email).")
    matches = list(get_user_model().objects.filter(Q(username=name) | Q(email__iexact=name))[:2])
    if not matches:
        raise CommandError(f"No member with username or email {name!r}.")
    if len(matches) > 1:
        raise CommandError(f"Several members have the email {name!r}; give the username instead.")
    return matches[0]

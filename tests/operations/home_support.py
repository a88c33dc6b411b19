"""Data for the admin home's tests, made with bulk_create: members, accounts of each
health, claims, completions in each state with their ledger events, and staff members
holding only some permissions."""

import datetime
import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from claims.audit import ActorKind
from claims.models import Claim, Completion, CompletionEvent
from connections.models import App, ConnectedAccount

User = get_user_model()
State = Completion.State

_serial = itertools.count()


def staff(username: str, *perms: str, superuser: bool = False):
    """A staff member holding exactly `perms` ("app_label.codename")."""
    user = User.objects.create_user(
        username=username,
        email=f"{username}@example.com",
        password=None,
        is_staff=True,
        is_superuser=superuser,
    )
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def members(count: int, *, joined_days_ago: int = 100, active: bool = True) -> list:
    """`count` members who joined `joined_days_ago` days ago."""
    joined = timezone.now() - datetime.timedelta(days=joined_days_ago)
    names = [f"m{next(_serial)}" for _ in range(count)]
    User.objects.bulk_create(
        User(
            username=name,
            email=f"{name}@example.com",
            password="!",
            date_joined=joined,
            is_active=active,
        )
        for name in names
    )
    return list(User.objects.filter(username__in=names))


def claims(count: int) -> list[Claim]:
    slugs = [f"claim-{next(_serial)}" for _ in range(count)]
    Claim.objects.bulk_create(
        Claim(slug=slug, name=f"Claim {slug}", delivery=Claim.Delivery.DYNAMIC_STORE)
        for slug in slugs
    )
    return list(Claim.objects.filter(slug__in=slugs).order_by("slug"))


def accounts(people, *, healthy: bool = True, dead: bool = False, app: App | None = None):
    app = app or App.objects.get_or_create(slug="github", defaults={"name": "GitHub"})[0]
    ConnectedAccount.objects.bulk_create(
        ConnectedAccount(
            member=person,
            app=app,
            pipedream_id=f"apn_{next(_serial)}",
            healthy=healthy,
            dead=dead,
        )
        for person in people
    )


def completions(
    claim: Claim,
    people,
    state: str,
    *,
    days_ago: int = 0,
    event: bool = True,
    **fields,
) -> list[Completion]:
    """A completion of `claim` for each of `people` in `state`, reached `days_ago` days
    ago (completed_at then, for completed ones), each with the ledger event that took it
    there (from waiting)."""
    at = timezone.now() - datetime.timedelta(days=days_ago)
    if state == State.COMPLETED:
        fields.setdefault("completed_at", at)
    made = Completion.objects.bulk_create(
        Completion(claim=claim, member=person, state=state, **fields) for person in people
    )
    if event:
        CompletionEvent.objects.bulk_create(
            CompletionEvent(
                completion=row,
                at=at,
                from_state=State.WAITING,
                to_state=state,
                actor_kind=ActorKind.SYSTEM,
            )
            for row in made
        )
    return made

"""Recording events (from the receivers) and the member's choices.

Each event is one Notification row with a key of its own; the receivers queue its send to
the task worker (notifications/tasks.py, once the row is committed). A badge waits NOTIFICATIONS_BADGE_SETTLE_SECONDS, so
every badge one connect or sync earns goes in one email; an account notice waits
NOTIFICATIONS_SETTLE_SECONDS, so every account one sync broke goes in one email and an
account back by then sends nothing.
"""

import datetime
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.models import Kind, Notification, Preference

State = Notification.State
RECOVERED = "The account worked again before the email went."


def _create(**fields) -> Notification | None:
    """The event's row, or None when it is recorded already (a duplicate signal, a retry)."""
    try:
        with transaction.atomic():
            return Notification.objects.create(**fields)
    except IntegrityError:
        return None


def badge_earned(completion) -> Notification | None:
    """A completion became completed: one row per completion (a staff re-issue delivering
    it again adds none), sent with every other badge of the member's settle window."""
    if completion.member_id is None:
        return None
    # The settle window: a badge already waiting sets it (this one joins its email).
    waiting = (
        Notification.objects.filter(
            member_id=completion.member_id, kind=Kind.BADGE_EARNED, state=State.PENDING
        )
        .order_by("send_after")
        .values_list("send_after", flat=True)
        .first()
    )
    settle = datetime.timedelta(seconds=settings.NOTIFICATIONS_BADGE_SETTLE_SECONDS)
    send_after = timezone.now() + settle
    if waiting is not None:
        send_after = min(waiting, send_after)
    return _create(
        member_id=completion.member_id,
        kind=Kind.BADGE_EARNED,
        key=f"completion:{completion.pk}",
        completion_id=completion.pk,
        send_after=send_after,
    )


def account_broke(account, member) -> Notification | None:
    """An account turned unhealthy or dead: a pending notice, unless its broken episode
    has one already (unhealthy then dead is one episode)."""
    if Notification.objects.filter(
        kind=Kind.ACCOUNT_BROKEN, account=account, resolved_at__isnull=True
    ).exists():
        return None
    now = timezone.now()
    send_after = now + datetime.timedelta(seconds=settings.NOTIFICATIONS_SETTLE_SECONDS)
    return _create(
        member=member,
        kind=Kind.ACCOUNT_BROKEN,
        key=f"account:{account.pipedream_id}:{uuid.uuid4().hex}",
        account=account,
        pipedream_id=account.pipedream_id,
        send_after=send_after,
    )


def account_recovered(account) -> int:
    """The account works again: its episode ends, and a notice not yet sent is skipped."""
    episode = Notification.objects.filter(
        kind=Kind.ACCOUNT_BROKEN, account=account, resolved_at__isnull=True
    )
    with transaction.atomic():
        episode.filter(state=State.PENDING).update(state=State.SKIPPED, reason=RECOVERED)
        return episode.update(resolved_at=timezone.now())


def preference_of(member) -> Preference:
    """The member's choices; the defaults (every kind on) when they never chose."""
    return Preference.objects.filter(member=member).first() or Preference(member=member)


def preference_save(member, **choices: bool) -> Preference:
    unknown = set(choices) - set(Kind.values)
    if unknown:
        raise ValueError(f"not a kind of notification: {sorted(unknown)}")
    preference, _ = Preference.objects.update_or_create(member=member, defaults=choices)
    return preference


def unsubscribe(member, kind: str) -> Preference:
    """One kind off (the one-click link in its emails); doing it twice changes nothing."""
    return preference_save(member, **{kind: False})

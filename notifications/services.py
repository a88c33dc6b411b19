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
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from core import database
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


def badge_earned(completion) -> datetime.datetime | None:
    """A completion became completed: one row per completion (a staff re-issue delivering
    it again adds none), sent with every other badge of the member's settle window.
    When the new row is due, or None when there is none (recorded already, or no member).

    One statement: the row, due at the earliest of the member's waiting badges (whose
    email it joins) and the end of a new settle window, unless its key is taken."""
    if completion.member_id is None:
        return None
    connection = connections[Notification.objects.db]
    opts, quote = Notification._meta, connection.ops.quote_name
    table = quote(opts.db_table)

    def column(name: str) -> str:
        return quote(opts.get_field(name).column)

    def value(name: str, value) -> object:
        return opts.get_field(name).get_db_prep_save(value, connection)

    now = timezone.now()
    settle = now + datetime.timedelta(seconds=settings.NOTIFICATIONS_BADGE_SETTLE_SECONDS)
    names = ["member", "kind", "key", "state", "completion", "created_at", "send_after"]
    earliest = (
        f"(SELECT MIN(w.s) FROM (SELECT {column('send_after')} AS s FROM {table} "  # noqa: S608
        f"WHERE {column('member')} = %s AND {column('kind')} = %s AND {column('state')} = %s "
        "UNION ALL SELECT %s) w)"
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(column(n) for n in names)}, "  # noqa: S608
        f"{column('reason')}, {column('pipedream_id')}, {column('attempts')}) "
        f"VALUES (%s, %s, %s, %s, %s, %s, {earliest}, '', '', 0) "
        f"ON CONFLICT DO NOTHING RETURNING {column('send_after')}"
    )
    params = [
        value("member", completion.member_id),
        Kind.BADGE_EARNED.value,
        f"completion:{completion.pk}",
        State.PENDING.value,
        value("completion", completion.pk),
        value("created_at", now),
        value("member", completion.member_id),
        Kind.BADGE_EARNED.value,
        State.PENDING.value,
        value("send_after", settle),
    ]
    with connection.cursor() as cursor:  # one statement: all of it, or nothing
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return (
        None if row is None else database.from_db(connection, opts.get_field("send_after"), row[0])
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

"""Notifications listen to claims' and connections' signals (neither imports this app).

Both are sent on commit; each receiver only records the event (services) and queues its
send (tasks)."""

from django.dispatch import receiver

from claims.signals import completion_completed
from connections.models import ConnectedAccount
from connections.signals import account_connected, account_health_changed
from notifications import services, tasks
from notifications.models import Notification


def _queue(row: Notification | None) -> None:
    """A new row's send, queued for when it is due (nothing for an event already recorded)."""
    if row is not None:
        tasks.queue_send(row.member_id, row.send_after)


@receiver(completion_completed, dispatch_uid="notifications.completion_completed")
def on_completion_completed(sender, *, completion, **kwargs):
    due = services.badge_earned(completion)
    if due is not None:
        tasks.queue_send(completion.member_id, due)


@receiver(account_health_changed, dispatch_uid="notifications.account_health_changed")
def on_account_health_changed(sender, *, account, member, previous, current, **kwargs):
    if current == ConnectedAccount.Health.HEALTHY:
        services.account_recovered(account)
    else:
        _queue(services.account_broke(account, member))


@receiver(account_connected, dispatch_uid="notifications.account_connected")
def on_account_connected(sender, *, account, member, created=True, **kwargs):
    # A reconnect in place that made it work ends its broken episode.
    if not created and account.usable:
        services.account_recovered(account)

"""The host site's webhooks listen to claims', connections' and users' changes.

Each receiver only records the event's messages (events.emit, which builds nothing
when no endpoint wants it) and queues them for the task worker.

- claims.signals.completion_changing (in the move's transaction): completion.completed /
  failed / revoked.
- connections.signals.account_health_changing (in the change's transaction):
  account.health_changed.

Both are sent inside the transaction that makes the change, so the messages commit with
it (a crash after the commit loses none) and a rollback tells nobody.
- an endpoint saved or deleted: events.KEPT.changed(), so every process reads again
  which endpoints are enabled.
- pre_delete of the user model: member.deleted. The member's host id and external id
  are read before the deletion cascades (their host sign-on goes with them); the
  messages are made in the deleting transaction and queued when it commits, so a
  deletion that is rolled back tells nobody.
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from claims.models import Completion
from claims.signals import completion_changing
from connections.signals import account_health_changing
from users.selectors import host_ids
from webhooks import events
from webhooks.models import Endpoint, EventType


@receiver(post_save, sender=Endpoint, dispatch_uid="webhooks.endpoint_saved")
@receiver(post_delete, sender=Endpoint, dispatch_uid="webhooks.endpoint_deleted")
def on_endpoint_changed(sender, **kwargs):
    events.KEPT.changed()


@receiver(completion_changing, dispatch_uid="webhooks.completion_changing")
def on_completion_changed(sender, *, completion_id, from_state, to_state, **kwargs):
    event_type = events.COMPLETION_EVENTS.get(to_state)
    if event_type is None:
        return
    try:
        events.emit(event_type, lambda: events.completion_data(completion_id, from_state, to_state))
    except Completion.DoesNotExist:
        return  # gone since it moved (nothing deletes a completion today)


@receiver(account_health_changing, dispatch_uid="webhooks.account_health_changing")
def on_account_health_changed(sender, *, account, member, previous, current, **kwargs):
    events.emit(
        EventType.ACCOUNT_HEALTH_CHANGED,
        lambda: events.account_data(account, member, previous, current),
    )


@receiver(pre_delete, sender=get_user_model(), dispatch_uid="webhooks.member_deleted")
def on_member_deleted(sender, *, instance, **kwargs):
    events.emit(
        EventType.MEMBER_DELETED,
        lambda: events.member_deleted_data(
            instance.pk,
            instance.external_id,
            host_ids([instance.pk]).get(instance.pk),
            timezone.now(),
        ),
    )

"""Each message reaches the host site once per try it is due, and none is lost.

- A message whose queueing was lost (the process stopped between saving it and queueing
  its task) is sent by the scheduler's `send_webhooks` pass, once.
- A try is claimed before the call (core.webhooks.claim): a second worker, or the pass,
  takes nothing meanwhile; no database lock is held while the receiver answers; a worker
  stopped mid-try leaves the message pending (never stuck), taken again after its claim.
- A try whose claim ran out and was taken over leaves the other's outcome standing.
- Anything unexpected in a try is a counted, failed try, not a message tried for ever.
- An endpoint deleted while its message waits ends its tries without a call.
"""

import datetime
import threading
import time

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from core import webhooks
from webhooks import events, sending
from webhooks.models import Delivery, Endpoint, EventType
from webhooks.tasks import webhook_delivery_task

pytestmark = pytest.mark.django_db

DATA = {"member": None, "deleted_at": None}
URL = "https://93.184.215.14/hooks/connect"  # never called


def one_message() -> Delivery:
    [delivery] = events.emit(EventType.MEMBER_DELETED, DATA)
    return delivery


def sweep() -> None:
    call_command("send_webhooks", verbosity=0)


def test_a_message_whose_queueing_was_lost_is_sent_by_the_next_pass_once(
    receiver, endpoint_to, django_capture_on_commit_callbacks
):
    hook = receiver()
    endpoint_to(hook.url)
    with django_capture_on_commit_callbacks(execute=False) as queueing:
        delivery = one_message()  # ...and the process stops before its queueing runs
    assert len(queueing) == 1 and not DBTaskResult.objects.exists()
    sweep()
    assert hook.requests == []  # within a minute it is still the worker's
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=61)):
        sweep()
        sweep()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, len(hook.requests)) == ("delivered", 1, 1)


def test_a_try_cut_short_by_a_stopped_worker_is_taken_again_after_its_claim(receiver, endpoint_to):
    hook = receiver()
    endpoint_to(hook.url)
    delivery = one_message()
    with transaction.atomic():  # a worker claims it, then stops before the call ends
        webhooks.claim(webhooks.take_due(Delivery.objects.all(), delivery.pk), seconds=15)
    assert sending.attempt(delivery.pk) is None  # another worker's task takes nothing
    sweep()  # nor the pass
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert "This try has not finished" in delivery.error and hook.requests == []
    with time_machine.travel(delivery.next_attempt_at + datetime.timedelta(seconds=61)):
        sweep()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, len(hook.requests)) == ("delivered", 2, 1)


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_it_once_and_no_lock_is_held_while_the_receiver_answers(
    settings, receiver, endpoint_to
):
    settings.WEBHOOK_SEND_TIMEOUT = 5
    hook = receiver()
    hook.hold()
    endpoint, _ = endpoint_to(hook.url)
    delivery = one_message()

    def first_worker():
        try:
            sending.attempt(delivery.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    try:
        assert hook.arrived.wait(5)
        started = time.monotonic()
        assert sending.attempt(delivery.pk) is None  # the second worker: nothing to take
        with transaction.atomic():  # the row is free for others (staff, the log)
            assert Delivery.objects.select_for_update(nowait=True).filter(pk=delivery.pk)
            Endpoint.objects.filter(pk=endpoint.pk).update(name="Renamed during the try")
        assert time.monotonic() - started < 1.5
    finally:
        hook.release()
        thread.join(10)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, len(hook.requests)) == ("delivered", 1, 1)


def test_a_try_taken_over_after_its_claim_ran_out_leaves_the_others_outcome(endpoint_to):
    endpoint_to(URL)
    delivery = one_message()
    with transaction.atomic():
        row = webhooks.take_due(Delivery.objects.all(), delivery.pk)
        webhooks.claim(row, seconds=1)
    Delivery.objects.filter(pk=delivery.pk).update(attempts=2)  # another took it since
    webhooks.try_once(row, lambda: 200, most=10, wait=lambda *_: datetime.timedelta(), what="t")
    with transaction.atomic():
        assert not webhooks.settle(Delivery.objects.all(), row)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 2)


def test_an_unexpected_error_in_a_try_is_a_counted_failed_try(endpoint_to):
    endpoint_to(URL)
    delivery = one_message()
    with transaction.atomic():
        row = webhooks.take_due(Delivery.objects.all(), delivery.pk)
        webhooks.claim(row, seconds=1)

    def send():
        raise UnicodeEncodeError("latin-1", "https://x/TOKEN123", 0, 1, "not latin-1")

    wait = datetime.timedelta(seconds=5)
    webhooks.try_once(row, send, most=10, wait=lambda *_: wait, what="Webhook delivery")
    with transaction.atomic():
        assert webhooks.settle(Delivery.objects.all(), row)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.error == "The try failed unexpectedly (UnicodeEncodeError)."
    assert delivery.next_attempt_at > timezone.now() + datetime.timedelta(seconds=4)


def test_an_endpoint_deleted_while_its_message_waits_ends_the_tries(receiver, endpoint_to):
    hook = receiver(statuses=[500])
    endpoint, _ = endpoint_to(hook.url)
    delivery = one_message()
    sending.attempt(delivery.pk)
    endpoint.delete()
    assert webhook_delivery_task.call(delivery.pk) == "missing"
    sweep()
    assert len(hook.requests) == 1

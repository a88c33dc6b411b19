"""One try of a message: signatures (and rotation), what counts as delivered, what is
tried again and when, and what the sender never does (follow a redirect, read a huge
answer, wait for ever, call an address inside the network).

Each test sends to a receiver on 127.0.0.1 (plain http is allowed there while SANDBOX
is on, as in development); `send_webhooks` is the scheduler's pass.
"""

import datetime
import io
import ipaddress
import time

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core import netguard, webhooks
from tests.webhooks import receiver_support
from webhooks import events, sending
from webhooks.management.commands import send_webhooks
from webhooks.models import Attempt, Delivery, Endpoint, EventType, endpoint_secrets

pytestmark = pytest.mark.django_db

DATA = {"member": {"host_id": "host-bob-0002", "external_id": "x"}, "deleted_at": None}


def one_message() -> Delivery:
    [delivery] = events.emit(EventType.MEMBER_DELETED, DATA)
    return delivery


def tried(delivery: Delivery, **kwargs) -> Delivery:
    sending.attempt(delivery.pk, **kwargs)
    delivery.refresh_from_db()
    return delivery


def test_both_secrets_sign_during_the_overlap_and_only_the_new_one_after(receiver, endpoint_to):
    hook = receiver()
    endpoint, old = endpoint_to(hook.url)
    new = webhooks.new_secret()
    endpoint.set_secret(new, overlap=datetime.timedelta(hours=1))
    endpoint.save()

    tried(one_message())
    headers, body = hook.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == Webhook(new).verify(body, headers)

    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1, seconds=1)):
        tried(one_message())
        headers, body = hook.requests[1]
        assert len(headers["webhook-signature"].split(" ")) == 1
        Webhook(new).verify(body, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(body, headers)


def test_a_rotation_without_overlap_drops_the_old_secret_at_once(receiver, endpoint_to):
    hook = receiver()
    endpoint, old = endpoint_to(hook.url)
    endpoint.set_secret(webhooks.new_secret())
    endpoint.save()
    tried(one_message())
    headers, body = hook.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


def test_each_try_is_signed_anew_with_the_same_id_and_body(settings, receiver, endpoint_to):
    settings.WEBHOOK_RETRY_BASE = 0
    hook = receiver(statuses=[503])
    endpoint, secret = endpoint_to(hook.url)
    delivery = one_message()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tried(delivery)
        clock.shift(datetime.timedelta(seconds=90))
        tried(delivery)
    (first, body1), (second, body2) = hook.requests
    assert first["webhook-id"] == second["webhook-id"] == delivery.message_id
    assert body1 == body2 == delivery.body.encode()
    assert int(second["webhook-timestamp"]) - int(first["webhook-timestamp"]) == 90
    assert first["webhook-signature"] != second["webhook-signature"]
    assert first["Content-Type"] == "application/json"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed(receiver, endpoint_to, status):
    hook = receiver(statuses=[status])
    endpoint_to(hook.url)
    delivery = tried(one_message())
    assert (delivery.state, delivery.status_code) == ("pending", status)
    assert "a redirect, which webhooks do not follow" in delivery.error
    assert len(hook.requests) == 1


def test_the_backoff_grows_fourfold_with_jitter_and_stops_at_the_ceiling(settings):
    settings.WEBHOOK_RETRY_BASE, settings.WEBHOOK_RETRY_MAX = 5, 86400
    for tries, expected in [(1, 5), (2, 20), (3, 80), (4, 320), (8, 81920), (9, 86400)]:
        waits = {sending.retry_delay(tries).total_seconds() for _ in range(20)}
        assert all(0.8 * expected <= wait <= min(1.2 * expected, 86400) for wait in waits)
        assert len(waits) > 1 or expected == 86400  # jittered, except at the ceiling
    assert sending.retry_delay(1, retry_after=600).total_seconds() == 600
    assert sending.retry_delay(1, retry_after=10**9).total_seconds() == 86400


def test_retry_after_is_honoured(settings, endpoint_to, receiver):
    settings.WEBHOOK_RETRY_BASE = 1
    hook = receiver(statuses=[(503, {"Retry-After": "120"}), 429])
    endpoint_to(hook.url)
    delivery = tried(one_message())
    wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert 119 < wait < 122  # what the receiver asked, not the backoff's second
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery = tried(delivery)  # a 429 without Retry-After: the backoff alone (4 s)
    wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert 3 < wait < 5
    assert webhooks.retry_after_seconds("soon") is None


def test_the_last_try_fails_the_message(settings, receiver, endpoint_to):
    settings.WEBHOOK_ATTEMPTS = 2
    settings.WEBHOOK_RETRY_BASE = 0
    hook = receiver(statuses=[500, 500, 500])
    endpoint_to(hook.url)
    delivery = tried(tried(one_message()))
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
    assert delivery.error == "127.0.0.1 answered 500."
    assert list(delivery.tries.values_list("status_code", flat=True)) == [500, 500]
    assert tried(delivery).attempts == 2  # nothing more is tried
    assert len(hook.requests) == 2


def test_410_gone_turns_the_endpoint_off(receiver, endpoint_to):
    hook = receiver(statuses=[410])
    endpoint, _ = endpoint_to(hook.url)
    delivery, waiting = one_message(), one_message()
    delivery = tried(delivery)
    endpoint.refresh_from_db()
    assert (delivery.state, delivery.status_code, delivery.attempts) == ("failed", 410, 1)
    assert not endpoint.enabled and "410 Gone" in endpoint.disabled_reason
    # What was waiting fails at its turn, without a call; nothing new is made.
    assert tried(waiting).state == "failed"
    assert not events.emit(EventType.MEMBER_DELETED, DATA)
    assert len(hook.requests) == 1


def test_a_message_for_an_endpoint_turned_off_fails_without_a_call(receiver, endpoint_to):
    hook = receiver()
    endpoint, _ = endpoint_to(hook.url)
    delivery = one_message()
    endpoint.enabled = False
    endpoint.save()
    delivery = tried(delivery)
    assert delivery.state == "failed" and delivery.attempts == 0
    assert "the endpoint is turned off" in delivery.error
    assert hook.requests == [] and not Attempt.objects.exists()


def test_a_test_message_goes_to_an_endpoint_that_is_off(receiver, endpoint_to):
    hook = receiver()
    endpoint, secret = endpoint_to(hook.url, enabled=False)
    delivery = tried(events.send_test(endpoint))
    assert delivery.state == "delivered"
    assert Webhook(secret).verify(hook.requests[0][1], hook.requests[0][0])["type"] == (
        "webhook.test"
    )


@pytest.mark.parametrize(
    "url, says",
    [
        ("https://10.0.0.7/hook", "10.0.0.7, which is not a public address"),
        ("http://93.184.215.14/hook", "https only"),
        ("https://user:pw@93.184.215.14/hook", "user name and password"),
    ],
)
def test_a_url_refused_at_send_time_is_not_called(settings, endpoint_to, url, says):
    settings.DEBUG = settings.SANDBOX = False
    endpoint_to(url)  # saved around the form's checks (the admin tests show those)
    delivery = tried(one_message())
    assert delivery.state == "pending" and delivery.status_code is None
    assert delivery.error.startswith("Not sent:") and says in delivery.error
    assert "pw" not in delivery.error


def sent_to(server, endpoint_to) -> Delivery:
    """One message tried against a raw receiver (receiver_support), closed after."""
    try:
        endpoint_to(server.url)
        return tried(one_message())
    finally:
        server.close()


def test_a_slow_receiver_is_cut_when_the_try_time_is_spent(settings, endpoint_to):
    settings.WEBHOOK_SEND_TIMEOUT = 0.3
    delivery = sent_to(receiver_support.dripping(), endpoint_to)
    assert delivery.state == "pending"
    assert delivery.error == "127.0.0.1 took more than 0.3 s to answer."
    assert delivery.tries.get().duration_ms < 3000


def test_a_huge_answer_body_is_not_read(settings, endpoint_to):
    settings.WEBHOOK_SEND_TIMEOUT = 5
    delivery = sent_to(receiver_support.flooding("body"), endpoint_to)
    assert (delivery.state, delivery.status_code) == ("delivered", 200)
    assert delivery.tries.get().duration_ms < 2000


def test_endless_answer_headers_are_a_failed_try_not_a_crash(settings, endpoint_to):
    settings.WEBHOOK_SEND_TIMEOUT = 5
    delivery = sent_to(receiver_support.flooding("headers"), endpoint_to)
    assert delivery.state == "pending"
    assert delivery.error.startswith("127.0.0.1 could not be reached")


def test_an_unreadable_secret_is_a_sentence(settings, receiver, endpoint_to):
    hook = receiver()
    endpoint_to(hook.url)
    settings.CLAIM_SECRETS_KEYS = ["another-key-entirely-0123456789abcdef"]
    delivery = tried(one_message())
    assert "cannot be decrypted with CLAIM_SECRETS_KEYS" in delivery.error
    assert hook.requests == []


def test_send_webhooks_sends_what_no_worker_took_and_prunes_the_old(
    settings, receiver, endpoint_to
):
    hook = receiver()
    endpoint_to(hook.url)
    late = one_message()
    fresh = one_message()
    Delivery.objects.filter(pk=late.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    old = one_message()
    Delivery.objects.filter(pk=old.pk).update(
        state="delivered", created_at=timezone.now() - datetime.timedelta(days=31)
    )
    out = io.StringIO()
    call_command("send_webhooks", stdout=out)
    assert "1 webhook message(s) tried, 1 old row(s) deleted from the log" in out.getvalue()
    late.refresh_from_db()
    fresh.refresh_from_db()
    assert (late.state, fresh.state) == ("delivered", "pending")  # the worker's, still
    assert not Delivery.objects.filter(pk=old.pk).exists()
    assert len(hook.requests) == 1


def test_an_internationalised_host_is_sent_as_its_dns_name(settings, monkeypatch, receiver):
    """The Host header (and TLS's server name) carry the name as DNS knows it (xn--...);
    before, a name outside Latin-1 crashed every try. The lookup is stood in for: there
    is no DNS here, and 例え.test is to be this machine."""
    looked_up = []

    def lookup(host, port):
        looked_up.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(netguard, "resolve", lookup)
    hook = receiver()
    port = hook.url.split(":")[2].split("/")[0]
    endpoint = Endpoint(name="Site", url=f"http://例え.test:{port}/hooks/connect")
    endpoint.set_secret(webhooks.new_secret())
    endpoint.save()
    delivery = tried(one_message())
    assert delivery.state == "delivered", delivery.error
    assert hook.requests[0][0]["Host"] == f"xn--r8jz45g.test:{port}"
    assert looked_up == ["xn--r8jz45g.test"]


def test_a_host_lookup_that_hangs_is_cut_at_the_try_deadline(settings, monkeypatch, endpoint_to):
    """A name server that never answers cannot hold a try past its deadline (the lookup
    is stood in for by one that takes five seconds)."""
    settings.WEBHOOK_SEND_TIMEOUT = 0.2
    monkeypatch.setattr(netguard, "resolve", lambda host, port: time.sleep(5))
    endpoint_to("https://hooks.example.com/connect")
    started = time.monotonic()
    delivery = tried(one_message())
    assert time.monotonic() - started < 2
    assert delivery.state == "pending"
    assert delivery.error == "No address for hooks.example.com was found within 0.2 s."


def test_port_0_is_refused(settings):
    with pytest.raises(webhooks.UrlRefused, match="Port 0"):
        webhooks.check_url("https://93.184.215.14:0/hook")


def test_an_old_secret_no_key_reads_any_more_is_left_out_not_fatal(settings, receiver, endpoint_to):
    """The key that encrypted the secret before a rotation is dropped while the overlap
    lasts: messages still go, signed with the new secret alone."""
    hook = receiver()
    endpoint, _ = endpoint_to(hook.url)
    endpoint.set_secret(webhooks.new_secret(), overlap=datetime.timedelta(hours=1))
    endpoint.save()
    settings.CLAIM_SECRETS_KEYS = ["a-newer-key-0123456789abcdef", *settings.CLAIM_SECRETS_KEYS]
    new = webhooks.new_secret()
    Endpoint.objects.filter(pk=endpoint.pk).update(
        secret_encrypted=endpoint_secrets.encrypt(new)  # the current one, under the new key
    )
    settings.CLAIM_SECRETS_KEYS = settings.CLAIM_SECRETS_KEYS[:1]  # the old key dropped
    delivery = tried(one_message())
    assert delivery.state == "delivered", delivery.error
    headers, body = hook.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(body, headers)


def test_a_replay_is_signed_anew_with_the_same_id_and_body(receiver, endpoint_to):
    hook = receiver()
    _, secret = endpoint_to(hook.url)
    original = tried(one_message())
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=10), tick=False):
        again = tried(events.replay(original))
        (first, body1), (second, body2) = hook.requests
        assert (again.state, again.replay_of) == ("delivered", original)
        assert first["webhook-id"] == second["webhook-id"] == original.message_id
        assert body1 == body2
        assert int(second["webhook-timestamp"]) - int(first["webhook-timestamp"]) >= 600
        assert first["webhook-signature"] != second["webhook-signature"]
        Webhook(secret).verify(body2, second)  # fresh: within the library's five minutes


def test_old_rows_leave_the_log_a_batch_a_pass(monkeypatch, endpoint_to):
    monkeypatch.setattr(send_webhooks, "PRUNE_BATCH", 1)
    endpoint_to("https://93.184.215.14/hooks/connect")
    for _ in range(2):
        Delivery.objects.filter(pk=one_message().pk).update(
            state="failed", created_at=timezone.now() - datetime.timedelta(days=31)
        )
    for left in (1, 0):
        call_command("send_webhooks", verbosity=0)
        assert Delivery.objects.count() == left

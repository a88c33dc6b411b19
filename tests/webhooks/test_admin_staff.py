"""The webhook admin against staff who may do part of it, a forged form, and a secret
no configured key reads any more.

- Every POST of the admin (add, change, Rotate secret, Send test, the log's actions)
  needs its CSRF token: without it, 403 and nothing changed.
- Staff who may change endpoints but not replay: the full URL, Rotate and Send test,
  but no Replay or Retry failed.
- Replay leaves a message still being tried (its own tries go on) and one to an
  endpoint turned off (it would fail unsent), and says so.
- Rotate secret works when the old secret can no longer be read (the error text of
  every try says to rotate it).
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from core import webhooks
from webhooks import events
from webhooks.models import Delivery, Endpoint, EventType

pytestmark = pytest.mark.django_db

LOG = reverse("admin:webhooks_delivery_changelist")
URL = "https://93.184.215.14/hooks/connect/TOKEN123"  # an internet address: never called
DATA = {"member": None, "deleted_at": None}


def staff_with(client, *codenames):
    user = get_user_model().objects.create_user(
        username="ops", email="ops@example.com", password=None, is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="webhooks", codename__in=codenames)
    )
    client.force_login(user)
    return client


def endpoint(name="Community site", **fields) -> tuple[Endpoint, str]:
    secret = webhooks.new_secret()
    made = Endpoint(name=name, url=URL, **fields)
    made.set_secret(secret)
    made.save()
    return made, secret


def failed_message() -> Delivery:
    [delivery] = events.emit(EventType.MEMBER_DELETED, DATA)
    Delivery.objects.filter(pk=delivery.pk).update(state="failed")
    return delivery


def test_every_admin_post_needs_its_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    site, secret = endpoint()
    delivery = failed_message()
    change = reverse("admin:webhooks_endpoint_change", args=[site.pk])
    posts = [
        (reverse("admin:webhooks_endpoint_add"), {"name": "Forged", "url": URL}),
        (change, {"name": "Forged", "url": URL, "enabled": "on"}),
        (reverse("admin:webhooks_endpoint_rotate", args=[site.pk]), {}),
        (reverse("admin:webhooks_endpoint_test", args=[site.pk]), {}),
        (LOG, {"action": "replay", "_selected_action": [delivery.pk]}),
        (LOG, {"action": "retry_failed", "_selected_action": [delivery.pk]}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    site.refresh_from_db()
    assert site.name == "Community site" and site.signing_secrets() == [secret]
    assert Endpoint.objects.count() == 1 and Delivery.objects.count() == 1

    client.get(change)  # the page sets the token; with it, the same POST goes through
    token = client.cookies["csrftoken"].value
    rotate = reverse("admin:webhooks_endpoint_rotate", args=[site.pk])
    assert client.post(rotate, {"csrfmiddlewaretoken": token}).status_code == 200


def test_staff_who_may_change_but_not_replay(client):
    staff = staff_with(client, "view_endpoint", "change_endpoint", "view_delivery")
    site, _ = endpoint()
    delivery = failed_message()
    page = staff.get(reverse("admin:webhooks_endpoint_change", args=[site.pk])).content.decode()
    assert "TOKEN123" in page  # they may change it, so they see it
    assert 'id="webhook-rotate"' in page and 'id="webhook-send-test"' in page
    assert "Replay" not in staff.get(LOG).content.decode()
    for action in ("replay", "retry_failed"):
        staff.post(LOG, {"action": action, "_selected_action": [delivery.pk]})
    assert Delivery.objects.count() == 1
    rotated = staff.post(reverse("admin:webhooks_endpoint_rotate", args=[site.pk]))
    assert rotated.context["secret"].startswith("whsec_")


def test_replay_leaves_messages_still_being_tried_and_endpoints_turned_off(client):
    staff = staff_with(client, "view_delivery", "replay_delivery")
    endpoint("Community site")
    endpoint("Old site")
    waiting, to_off = events.emit(EventType.MEMBER_DELETED, DATA)
    done, _ = events.emit(EventType.MEMBER_DELETED, DATA)
    Delivery.objects.filter(pk__in=[to_off.pk, done.pk]).update(state="failed")
    Endpoint.objects.filter(name="Old site").update(enabled=False)

    response = staff.post(
        LOG,
        {"action": "replay", "_selected_action": [waiting.pk, to_off.pk, done.pk]},
        follow=True,
    )
    assert [row.replay_of_id for row in Delivery.objects.filter(replay_of__isnull=False)] == [
        done.pk
    ]
    said = " ".join(str(message) for message in response.context["messages"])
    assert "1 message(s) queued again" in said
    assert "1 still being tried was left as they are" in said
    assert "Left out, turned off: Old site; turn it on first." in said


def test_rotate_makes_a_new_secret_when_the_old_one_cannot_be_read(admin_client, settings):
    site, _ = endpoint()
    settings.CLAIM_SECRETS_KEYS = ["a-key-that-did-not-encrypt-it-0123456789abcdef"]
    response = admin_client.post(reverse("admin:webhooks_endpoint_rotate", args=[site.pk]))
    assert response.status_code == 200
    new = response.context["secret"]
    assert "the old one no longer verifies" in response.content.decode()
    site.refresh_from_db()
    assert site.signing_secrets() == [new] and site.previous_secret_until is None

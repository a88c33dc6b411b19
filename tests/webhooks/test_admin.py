"""The host site's webhooks in the admin: endpoints, their secrets, the delivery log.

The URL is checked when saved (a refusal is a sentence, nothing is saved); the signing
secret shows once, after saving or rotating, and never again; Rotate secret keeps the
old one signing for the overlap; staff who may only view see the host of the URL, the
log and its bodies, but cannot add, rotate, test, replay or retry.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from core import webhooks
from webhooks import events, sending
from webhooks.models import Delivery, Endpoint, EventType

pytestmark = pytest.mark.django_db

ADD = reverse("admin:webhooks_endpoint_add")
LOG = reverse("admin:webhooks_delivery_changelist")
PUBLIC = "https://93.184.215.14/hooks/connect"  # an address on the internet: no DNS asked
DATA = {"member": None, "deleted_at": None}


def post_endpoint(client, url=PUBLIC, **fields):
    return client.post(ADD, {"name": "Community site", "url": url, "enabled": "on", **fields})


def staff_with(client, *codenames):
    user = get_user_model().objects.create_user(
        username="ops", email="ops@example.com", password=None, is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="webhooks", codename__in=codenames)
    )
    client.force_login(user)
    return client


@pytest.fixture
def viewer(client):
    return staff_with(client, "view_endpoint", "view_delivery", "view_attempt")


@pytest.mark.parametrize(
    "url, says",
    [
        ("https://10.0.0.7/hook", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "not a public address"),
        ("https://127.0.0.1/hook", "not a public address"),
        ("http://93.184.215.14/hook", "https only"),
        ("https://host:secret@93.184.215.14/hook", "user name and password"),
        ("https://93.184.215.14/" + "a" * 600, "at most 500 characters"),
        ("hooks.example.com/connect", "https://"),
    ],
)
def test_a_url_the_site_must_not_call_is_refused_with_a_sentence(admin_client, settings, url, says):
    settings.DEBUG = settings.SANDBOX = False  # production: no http, not even to this machine
    response = post_endpoint(admin_client, url)
    assert response.status_code == 200
    assert says in " ".join(response.context["adminform"].form.errors["url"])
    assert not Endpoint.objects.exists()


def test_the_secret_shows_once_and_is_stored_encrypted(admin_client):
    response = post_endpoint(admin_client, event_types=["member.deleted", "completion.failed"])
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    endpoint = Endpoint.objects.get()
    assert endpoint.signing_secrets() == [secret]
    assert secret.removeprefix("whsec_") not in endpoint.secret_encrypted
    assert endpoint.event_types == ["completion.failed", "member.deleted"]  # as listed

    delivery = events.send_test(endpoint)
    for page in (
        reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]),
        reverse("admin:webhooks_endpoint_changelist"),
        reverse("admin:webhooks_delivery_change", args=[delivery.pk]),
        LOG,
    ):
        body = admin_client.get(page).content.decode()
        assert secret.removeprefix("whsec_") not in body


def test_rotating_shows_the_new_secret_and_keeps_the_old_one_for_the_overlap(
    admin_client, settings
):
    settings.WEBHOOK_SECRET_OVERLAP = 3600
    old = post_endpoint(admin_client).context["secret"]
    endpoint = Endpoint.objects.get()
    rotate = reverse("admin:webhooks_endpoint_rotate", args=[endpoint.pk])
    asked = admin_client.get(rotate).content.decode()  # a question first, nothing rotated
    assert "keeps signing each message beside the new one for 1\xa0hour" in asked
    assert Endpoint.objects.get().signing_secrets() == [old]
    response = admin_client.post(rotate)
    new = response.context["secret"]
    page = response.content.decode()
    assert new != old and new in page and old.removeprefix("whsec_") not in page
    assert "two signatures" in page and "no-store" in response["Cache-Control"]
    endpoint.refresh_from_db()
    assert endpoint.signing_secrets() == [new, old]
    change = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]))
    for secret in (old, new):
        assert secret.removeprefix("whsec_") not in change.content.decode()


def test_send_test_queues_a_signed_test_message(admin_client):
    post_endpoint(admin_client)
    endpoint = Endpoint.objects.get()
    page = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]))
    assert 'id="webhook-send-test"' in page.content.decode()
    response = admin_client.post(reverse("admin:webhooks_endpoint_test", args=[endpoint.pk]))
    assert response.status_code == 302
    assert response["Location"] == f"{LOG}?endpoint__id__exact={endpoint.pk}"
    delivery = Delivery.objects.get()
    assert (delivery.event_type, delivery.endpoint, delivery.state) == (
        "webhook.test",
        endpoint,
        "pending",
    )


def test_turning_an_endpoint_on_again_clears_why_it_was_turned_off(admin_client):
    post_endpoint(admin_client)
    endpoint = Endpoint.objects.get()
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason="410 Gone")
    change = reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])
    response = admin_client.post(change, {"name": "Site", "url": PUBLIC, "enabled": "on"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    assert endpoint.event_types == []  # none ticked: all


def test_staff_who_may_only_view_see_the_host_and_the_log_but_act_on_nothing(viewer):
    url = "https://93.184.215.14/hooks/connect/SECRETTOKEN123?key=SECRETQUERY"
    endpoint = Endpoint(name="Community site", url=url)
    secret = webhooks.new_secret()
    endpoint.set_secret(secret)
    endpoint.save()
    [delivery] = events.emit(EventType.MEMBER_DELETED, DATA)
    Delivery.objects.filter(pk=delivery.pk).update(state="failed", error="answered 500.")

    pages = [
        reverse("admin:webhooks_endpoint_changelist"),
        reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]),
        LOG,
        reverse("admin:webhooks_delivery_change", args=[delivery.pk]),
    ]
    for page in pages:
        response = viewer.get(page)
        assert response.status_code == 200
        body = response.content.decode()
        assert "SECRETTOKEN123" not in body and "SECRETQUERY" not in body
        assert secret.removeprefix("whsec_") not in body
        assert "webhook-rotate" not in body and "webhook-send-test" not in body
    assert "93.184.215.14" in viewer.get(pages[1]).content.decode()
    shown = viewer.get(pages[1]).content.decode()  # the events as words, in their place
    assert shown.count("field-receives") == 1 and "field-event_types" not in shown
    assert '<div class="readonly">All</div>' in shown
    assert "member.deleted" in viewer.get(pages[3]).content.decode()  # the body shows
    assert "Replay" not in viewer.get(LOG).content.decode()  # no such action offered

    assert viewer.post(ADD, {"name": "x", "url": PUBLIC}).status_code == 403
    for name in ("rotate", "test"):
        url = reverse(f"admin:webhooks_endpoint_{name}", args=[endpoint.pk])
        assert viewer.post(url).status_code == 403
    assert (
        viewer.get(reverse("admin:webhooks_endpoint_rotate", args=[endpoint.pk])).status_code == 403
    )
    for action in ("replay", "retry_failed"):
        viewer.post(LOG, {"action": action, "_selected_action": [delivery.pk]})
    assert Delivery.objects.count() == 1  # nothing replayed
    endpoint.refresh_from_db()
    assert endpoint.signing_secrets() == [secret]


def test_retry_failed_replays_only_the_failed_not_yet_replayed(client):
    staff = staff_with(client, "view_delivery", "replay_delivery")
    Endpoint.objects.create(name="Site", url=PUBLIC)
    failed, delivered, replayed = (events.emit(EventType.MEMBER_DELETED, DATA)[0] for _ in "abc")
    Delivery.objects.filter(pk__in=[failed.pk, replayed.pk]).update(state="failed")
    Delivery.objects.filter(pk=delivered.pk).update(state="delivered")
    events.replay(replayed)
    ids = [failed.pk, delivered.pk, replayed.pk]
    response = staff.post(LOG, {"action": "retry_failed", "_selected_action": ids})
    assert response.status_code == 302
    again = Delivery.objects.filter(replay_of=failed).get()
    assert (again.message_id, again.body, again.state) == (
        failed.message_id,
        failed.body,
        "pending",
    )
    assert Delivery.objects.filter(replay_of__isnull=False).count() == 2  # the earlier one too


def test_the_log_filters_by_state_event_and_endpoint(admin_client):
    site = Endpoint.objects.create(name="Site", url=PUBLIC)
    other = Endpoint.objects.create(name="Other", url=PUBLIC, event_types=["webhook.test"])
    [member_gone] = events.emit(EventType.MEMBER_DELETED, DATA)
    test = events.send_test(other)
    Delivery.objects.filter(pk=test.pk).update(state="failed")

    def listed(query):
        return set(admin_client.get(f"{LOG}?{query}").context["cl"].result_list)

    assert listed("state__exact=failed") == {test}
    assert listed("event_type__exact=member.deleted") == {member_gone}
    assert listed(f"endpoint__id__exact={site.pk}") == {member_gone}
    assert listed(f"q={test.message_id}") == {test}
    # The tries show under the delivery, one row each (this endpoint has no secret).
    Delivery.objects.filter(pk=member_gone.pk).update(state="pending")
    sending.attempt(member_gone.pk)
    page = admin_client.get(reverse("admin:webhooks_delivery_change", args=[member_gone.pk]))
    tries = page.context["inline_admin_formsets"][0]
    assert [form.original.error for form in tries] == [
        "The webhook has no signing secret: rotate it to make one."
    ]

"""Alert webhooks in the admin: the URL is checked, the secret shown once, staff limited.

A webhook URL the site would call from inside its own network is refused with a
sentence (http, a private or loopback address, a URL far too long, a NUL); the signing
secret appears on the page after saving or rotating and never again, and is stored
encrypted; staff who may only view cannot rotate, test or replay.
"""

import socket

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from standardwebhooks import Webhook
from urllib3 import HTTPSConnectionPool

from core import webhooks
from operations.alerts import notify, sending
from operations.models import AlertDelivery, AlertEndpoint, Incident

pytestmark = pytest.mark.django_db

ADD = reverse("admin:operations_alertendpoint_add")
PUBLIC = "https://93.184.215.14/hooks/alerts"  # an address on the internet: no DNS asked


def post_endpoint(client, url, name="On call"):
    return client.post(ADD, {"name": name, "url": url, "enabled": "on"})


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://93.184.215.14/hook", "https only"),
        ("https://10.0.0.7/hook", "not a public address"),
        ("https://192.168.1.20/hook", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "not a public address"),
        ("https://[fd00::1]/hook", "not a public address"),
        ("https://[::ffff:10.0.0.1]/hook", "not a public address"),
        # IPv6 forms that carry a private IPv4 inside: NAT64, 6to4, IPv4-compatible, Teredo
        ("https://[64:ff9b::a9fe:a9fe]/latest", "not a public address"),
        ("https://[64:ff9b:1::a00:7]/hook", "not a public address"),
        ("https://[2002:a9fe:a9fe::1]/hook", "not a public address"),
        ("https://[::a9fe:a9fe]/hook", "not a public address"),
        ("https://[2001:0:4136:e378:8000:63bf:5601:5601]/hook", "not a public address"),
        ("https://127.0.0.1/hook", "not a public address"),
        ("https://0.0.0.0/hook", "not a public address"),
        ("https://user:pw@93.184.215.14/hook", "user name and password"),
        ("https://93.184.215.14/" + "a" * 5000, "at most 500 characters"),
        ("https://93.184.215.14/ho\x00ok", "Null characters"),
        ("https://93.184.215.14:99999/hook", "port"),
        ("ftp://93.184.215.14/hook", "https://"),
        ("hooks.example.com/alerts", "https://"),
    ],
)
def test_a_url_the_site_must_not_call_is_refused_with_a_sentence(admin_client, settings, url, says):
    settings.DEBUG = False
    settings.SANDBOX = False  # production: no http, not even to this machine
    response = post_endpoint(admin_client, url)
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors.get("url", []))
    assert says in errors
    assert not AlertEndpoint.objects.exists()


def test_a_nul_in_the_name_is_refused(admin_client):
    response = post_endpoint(admin_client, PUBLIC, name="On\x00call")
    assert response.status_code == 200
    assert not AlertEndpoint.objects.exists()


def test_the_secret_is_shown_once_and_stored_encrypted(admin_client):
    response = post_endpoint(admin_client, PUBLIC)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    endpoint = AlertEndpoint.objects.get()
    assert endpoint.secret() == secret
    assert secret not in endpoint.secret_encrypted
    assert secret.removeprefix("whsec_") not in endpoint.secret_encrypted
    Webhook(secret)  # the spec's form: the library reads it

    for page in (
        reverse("admin:operations_alertendpoint_change", args=[endpoint.pk]),
        reverse("admin:operations_alertendpoint_changelist"),
    ):
        assert secret.removeprefix("whsec_") not in admin_client.get(page).content.decode()


def test_rotating_shows_a_new_secret_and_the_old_one_no_longer_signs(admin_client):
    secret = post_endpoint(admin_client, PUBLIC).context["secret"]
    endpoint = AlertEndpoint.objects.get()
    rotate = reverse("admin:operations_alertendpoint_rotate", args=[endpoint.pk])
    asked = admin_client.get(rotate).content.decode()  # a question first, nothing rotated
    assert "The current secret stops at once" in asked and "webhook-rotate-confirm" in asked
    assert AlertEndpoint.objects.get().secret() == secret
    response = admin_client.post(rotate)
    new = response.context["secret"]
    assert new != secret and new in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret() == new


def test_send_test_queues_a_signed_test_message(admin_client):
    post_endpoint(admin_client, PUBLIC)
    endpoint = AlertEndpoint.objects.get()
    response = admin_client.post(reverse("admin:operations_alertendpoint_test", args=[endpoint.pk]))
    assert response.status_code == 302
    delivery = AlertDelivery.objects.get()
    assert (delivery.event, delivery.endpoint, delivery.state) == ("test", endpoint, "pending")


@pytest.fixture
def viewer(client):
    """Staff who may view the alert models, and nothing more."""
    user = get_user_model().objects.create_user(
        username="viewer", email="viewer@example.com", password=None, is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="operations", codename__startswith="view_"
        )
    )
    client.force_login(user)
    return client


def test_staff_who_may_only_view_cannot_add_rotate_test_or_replay(viewer):
    endpoint = AlertEndpoint(name="On call", url=PUBLIC)
    endpoint.set_secret(webhooks.new_secret())
    endpoint.save()
    assert viewer.get(reverse("admin:operations_alertendpoint_changelist")).status_code == 200
    assert viewer.post(ADD, {"name": "x", "url": PUBLIC}).status_code == 403
    for name in ("rotate", "test"):
        url = reverse(f"admin:operations_alertendpoint_{name}", args=[endpoint.pk])
        assert viewer.post(url).status_code == 403
    incident = Incident.objects.create(kind="backlog", summary="s", count=1)
    original = notify.notify(incident, AlertDelivery.Event.OPENED)[0]
    response = viewer.post(
        reverse("admin:operations_alertdelivery_changelist"),
        {"action": "replay", "_selected_action": [original.pk]},
    )
    assert response.status_code in (200, 302)
    assert AlertDelivery.objects.count() == 1  # nothing replayed
    assert (
        viewer.get(reverse("admin:operations_incident_changelist") + "?open=yes").status_code == 200
    )


def test_replay_sends_the_same_message_with_the_same_id(admin_client):
    endpoint = AlertEndpoint(name="On call", url=PUBLIC)
    endpoint.set_secret(webhooks.new_secret())
    endpoint.save()
    incident = Incident.objects.create(kind="credits", key="bitbadges", summary="s", count=3)
    made = notify.notify(incident, AlertDelivery.Event.OPENED)
    assert [d.channel for d in made] == ["email", "webhook"]  # the superuser gets email
    original = made[1]
    response = admin_client.post(
        reverse("admin:operations_alertdelivery_changelist"),
        {"action": "replay", "_selected_action": [original.pk]},
    )
    assert response.status_code == 302
    again = AlertDelivery.objects.get(replay_of__isnull=False)
    assert again.replay_of == original
    assert (again.message_id, again.payload) == (original.message_id, original.payload)
    assert admin_client.get(reverse("admin:operations_alertdelivery_changelist")).status_code == 200


def resolving_to(monkeypatch, address: str) -> None:
    """Every host name resolves to `address` (no DNS is asked)."""

    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_that_resolves_into_the_network_is_refused_when_saved_and_when_sent(
    admin_client, monkeypatch
):
    resolving_to(monkeypatch, "10.1.2.3")
    response = post_endpoint(admin_client, "https://hooks.example.test/alerts")
    assert "hooks.example.test is at 10.1.2.3" in str(response.context["adminform"].form.errors)

    resolving_to(monkeypatch, "93.184.215.14")  # public when saved...
    assert post_endpoint(admin_client, "https://hooks.example.test/alerts").status_code == 200
    endpoint = AlertEndpoint.objects.get()
    delivery = notify.send_test(endpoint)
    resolving_to(monkeypatch, "169.254.169.254")  # ...then it points inside (rebinding)
    monkeypatch.setattr(
        HTTPSConnectionPool, "urlopen", lambda *a, **k: pytest.fail("must not connect")
    )
    sending.attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.attempts == 1
    assert "169.254.169.254, which is not a public address" in delivery.error


def test_staff_who_may_only_view_see_the_host_but_not_the_path_of_the_url(viewer, admin_client):
    url = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN123?x=SECRETQUERY"
    endpoint = AlertEndpoint(name="Slack", url=url)
    endpoint.set_secret(webhooks.new_secret())
    endpoint.save()
    change = reverse("admin:operations_alertendpoint_change", args=[endpoint.pk])
    for page in (change, reverse("admin:operations_alertendpoint_changelist")):
        response = viewer.get(page)
        assert response.status_code == 200
        body = response.content.decode()
        assert "hooks.slack.com" in body
        assert "SECRETTOKEN123" not in body and "SECRETQUERY" not in body
        assert "/services/" not in body
    # Staff who may change it edit the whole URL.
    assert "SECRETTOKEN123" in admin_client.get(change).content.decode()

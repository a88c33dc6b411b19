"""The sending side without the sandboxes: the email layout's colours (light and dark),
two workers never sending one row, a mail server refusing, and the staff's read-only
list."""

import datetime
import re
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone

from branding.colours import contrast
from notifications import emails, sending
from notifications.models import Kind, Notification
from tests.notifications.notify_support import as_sent
from tests.notifications.smtp_support import accepting_smtp

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("palette", [emails.LIGHT, emails.DARK], ids=["light", "dark"])
def test_the_email_colours_pass_aa(palette):
    for text, background in emails.READ_ON:
        ratio = contrast(palette[text], palette[background])
        assert ratio >= 4.5, (text, background, round(ratio, 2))


def test_the_layout_follows_the_light_or_dark_setting(member):
    email = emails.build(
        member,
        Kind.BADGE_EARNED,
        "badge_earned",
        {
            "badge": "Star <Gazer>",
            "count": 1,
            "items": [{"badge": "Star <Gazer>", "url": "https://claims.example.com/c/s/"}],
        },
    )
    html = email.html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    dark = re.search(r"@media \(prefers-color-scheme: dark\) \{(.*?)\n  \}", html, re.S).group(1)
    for colour in (emails.DARK["card"], emails.DARK["text"], emails.DARK["link"]):
        assert colour in dark
    assert f"background-color:{emails.LIGHT['card']}" in html  # inline, for every client
    assert "Star &lt;Gazer&gt;" in html and "<Gazer>" not in html
    assert email.subject == "[Connect & Claim] You earned Star <Gazer>"
    assert "Star <Gazer>" in email.text  # plain text is not HTML-escaped


def _badge_row(member, completion=None):
    return Notification.objects.create(
        member=member,
        kind=Kind.BADGE_EARNED,
        key=f"test:{Notification.objects.count()}",
        completion=completion,
        send_after=timezone.now() - datetime.timedelta(seconds=1),
    )


def test_a_row_another_worker_holds_is_not_taken_again(member):
    row = _badge_row(member)
    Notification.objects.filter(pk=row.pk).update(state="sending")  # a worker mid-send
    assert sending.send_due(member.pk).summary == "nothing due"
    row.refresh_from_db()
    assert row.state == "sending" and mail.outbox == []


def test_the_second_of_two_workers_finds_nothing(member):
    _badge_row(member)  # no completion: skipped, but taken once only
    first = sending.send_due(member.pk)
    second = sending.send_due(member.pk)
    assert first.summary == "sent 0 of 1" and second.summary == "nothing due"
    assert Notification.objects.get().reason == sending.NOT_COMPLETED


def test_a_refusing_mail_server_leaves_a_pending_row_to_try_again(member, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 1, "timeout": 2},
        }
    }
    row = Notification.objects.create(
        member=member,
        kind=Kind.ACCOUNT_BROKEN,
        key="account:x:1",
        send_after=timezone.now(),
    )
    Notification.objects.filter(pk=row.pk).update(state="sending", batch=uuid.uuid4())
    rows = [Notification.objects.get(pk=row.pk)]
    email = emails.build(member, Kind.ACCOUNT_BROKEN, "account_broken", {"items": [], "count": 2})
    sent, again_at = sending._deliver(rows, "alice@example.com", email)
    row.refresh_from_db()
    assert sent == 0 and again_at is not None
    assert (row.state, row.attempts, row.send_after) == ("pending", 1, again_at)
    assert row.reason.startswith("Sending failed (ConnectionRefusedError); trying again at ")


def test_the_headers_are_rfc_8058s(member):
    email = emails.build(member, Kind.ACCOUNT_BROKEN, "account_broken", {"items": [], "count": 2})
    emails.send(email, "alice@example.com")
    sent = as_sent(mail.outbox[0])
    assert re.fullmatch(
        r"<https?://[^>]+/notifications/unsubscribe/[^/>]+/>", sent["List-Unsubscribe"]
    )
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent.get_body(preferencelist=("html",)) is not None


def test_the_unsubscribe_header_goes_on_the_wire_unencoded(member, settings):
    """What the SMTP backend writes, read as bytes: a re-parse would decode RFC 2047
    encoded-words, which RFC 2369/8058 do not allow in List-Unsubscribe."""
    settings.PUBLIC_URL = "https://claims.example.org"
    email = emails.build(member, Kind.ACCOUNT_BROKEN, "account_broken", {"items": [], "count": 2})
    with accepting_smtp(settings) as received:
        emails.send(email, "alice@example.com")
    assert len(received) == 1
    header = re.search(rb"\r\nList-Unsubscribe: ([^\r]*)\r\n(?![ \t])", received[0])
    assert header, received[0][:1500]
    assert re.fullmatch(
        rb"<https://claims\.example\.org/notifications/unsubscribe/[^/>\s]+/>", header[1]
    ), header[1]
    assert b"=?utf-8?" not in header[1]


def test_staff_with_view_permission_read_the_list_and_change_nothing(
    client, member, django_user_model
):
    _badge_row(member)
    staff = django_user_model.objects.create_user(username="sam", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(staff)
    listing = client.get("/admin/notifications/notification/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "alice" in body and "alice@example.com" not in body
    row = Notification.objects.get()
    page = client.get(f"/admin/notifications/notification/{row.pk}/change/")
    assert page.status_code == 200 and "alice@example.com" not in page.content.decode()
    assert client.post(f"/admin/notifications/notification/{row.pk}/delete/").status_code == 403
    assert client.get("/admin/notifications/notification/add/").status_code == 403


def test_a_bug_building_an_email_leaves_failed_rows_not_sending_ones(member, monkeypatch):
    row = _badge_row(member)
    Notification.objects.filter(pk=row.pk).update(completion=None)

    def broken(*args, **kwargs):
        raise RuntimeError("template missing")

    monkeypatch.setattr(sending, "_badges", broken)
    with pytest.raises(RuntimeError):
        sending.send_due(member.pk)
    row.refresh_from_db()
    # The class only: an exception's text may hold an address.
    assert row.state == "failed" and row.reason == "Not sent: RuntimeError"

"""The member's two email switches on /profile/ and /profile/notifications/; their
rows go with the member and are in the member's data download."""

import json
import re
import tempfile

import pytest
from django.contrib.messages import get_messages

from members import data_export
from notifications.models import Kind, Notification, Preference
from notifications.services import preference_of

pytestmark = pytest.mark.django_db

URL = "/profile/notifications/"


def checked(body: str, kind: str) -> bool:
    start = body.index(f'id="notify-{kind}"')
    tag = body[body.rindex("<input", 0, start) : body.index(">", start)]
    return " checked" in tag


def test_login_required(client):
    for response in (client.get(URL), client.post(URL, {"badge_earned": "on"})):
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not Preference.objects.exists()


def test_profile_shows_both_switches_on_by_default(client, member):
    client.force_login(member)
    body = client.get("/profile/").content.decode()
    assert 'id="notifications"' in body
    assert checked(body, "badge_earned") and checked(body, "account_broken")
    assert 'action="/profile/notifications/"' in body
    page = client.get(URL)
    assert page.status_code == 200 and checked(page.content.decode(), "badge_earned")


def test_saving_turns_one_off_and_says_so(client, member):
    client.force_login(member)
    response = client.post(URL, {"badge_earned": "on"})
    assert response.status_code == 302 and response["Location"] == "/profile/#notifications"
    preference = Preference.objects.get(member=member)
    assert preference.badge_earned and not preference.account_broken
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Your email choices are saved."
    ]
    body = client.get("/profile/").content.decode()
    assert checked(body, "badge_earned") and not checked(body, "account_broken")
    client.post(URL, {"account_broken": "on"})
    preference.refresh_from_db()
    assert not preference.badge_earned and preference.account_broken


@pytest.mark.parametrize(
    "data",
    [
        {"badge_earned": "maybe"},
        {"account_broken": "true"},
        {"badge_earned": "on", "account_broken": "x" * 100_000},
        {"badge_earned": "\x00"},
    ],
)
def test_bad_values_are_a_form_error_and_save_nothing(client, member, data):
    client.force_login(member)
    response = client.post(URL, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "This switch is either on or off." in body
    assert not Preference.objects.exists()
    # A box given a bogus value does not show as ticked; one given "on" does.
    for name, value in data.items():
        box = re.search(rf'<input type="checkbox" name="{name}"[^>]*>', body).group(0)
        assert (" checked" in box) == (value == "on"), box


def test_other_methods_are_refused(client, member):
    client.force_login(member)
    assert client.put(URL).status_code == 405


def test_a_deleted_members_rows_go_with_them(member):
    Preference.objects.create(member=member, badge_earned=False)
    Notification.objects.create(
        member=member, kind=Kind.BADGE_EARNED, key="completion:1", send_after="2026-01-01T00:00Z"
    )
    member.delete()
    assert not Preference.objects.exists() and not Notification.objects.exists()


def test_the_data_download_lists_the_choices_and_the_emails(member):
    assert preference_of(member).badge_earned  # no row: the defaults
    Preference.objects.create(member=member, account_broken=False)
    Notification.objects.create(
        member=member,
        kind=Kind.ACCOUNT_BROKEN,
        key="account:apn_1:x",
        pipedream_id="apn_1",
        send_after="2026-01-01T00:00Z",
        state="skipped",
        reason="The member turned these emails off.",
    )
    with tempfile.TemporaryFile() as out:
        data_export.write(member, out)
        out.seek(0)
        data = json.load(out)
    assert data["email_choices"][0]["account_broken"] is False
    [sent] = data["emails_sent"]
    assert sent["pipedream_id"] == "apn_1" and sent["state"] == "skipped"
    assert "key" not in sent and "batch" not in sent

"""The emailed Connect link names nobody, works once and soon expires: made by the
service, opened over HTTP with the Pipedream sandbox (live_server)."""

import base64
import datetime
import html

import pytest
from django.test import Client

from connections import services
from connections.models import ConnectedAccount, ConnectSession
from tests.connections.views_support import connect_by_link, local
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_link_and_its_login_page_name_no_member_nor_id(client, upstreams, apps, member):
    account = ConnectedAccount.objects.create(
        member=member, app=apps["github"], pipedream_id="apn_alice0001"
    )
    link = services.emailed_link_make(
        member=member,
        app=apps["github"],
        expires=datetime.timedelta(days=1),
        reconnect_account=account,
    )
    path = local(link)
    signed = path.removeprefix("/connect/l/").rstrip("/")
    raw = base64.urlsafe_b64decode(signed + "=" * (-len(signed) % 4))
    shown = [
        member.username,
        str(member.external_id),
        member.external_id.hex,
        "apn_alice0001",
        "github",
        f"account={account.pk}",
    ]
    for value in shown:
        assert value not in link and value.encode() not in raw
    assert "?" not in link

    login = client.get(path, follow=True)
    assert login.status_code == 200
    assert member.username not in text(login) and "Log in" in text(login)
    # Another member logged in learns nothing about whose link it is.
    mallory = verify_email(
        member.__class__.objects.create_user(username="mallory", password="pw-12345678")
    )
    other = Client()
    other.force_login(mallory)
    refused = other.get(path)
    assert refused.status_code == 403 and member.username not in text(refused)


def test_the_link_works_once(client, upstreams, apps, member):
    client.force_login(member)
    link = services.emailed_link_make(
        member=member, app=apps["github"], expires=datetime.timedelta(days=1)
    )

    done = connect_by_link(client, local(link), "octocat")
    again = client.get(local(link))

    assert "Your GitHub account is connected." in text(done)
    assert ConnectSession.objects.get().status == ConnectSession.Status.CONNECTED
    assert again.status_code == 410 and "already connected" in text(again)
    assert ConnectSession.objects.count() == 1  # no token minted for the spent link


def test_an_unfinished_opening_leaves_the_link_usable(client, upstreams, apps, member):
    client.force_login(member)
    link = services.emailed_link_make(
        member=member, app=apps["github"], expires=datetime.timedelta(days=1)
    )
    first = client.get(local(link))
    assert first.status_code == 302  # to the hosted page; the member closes it
    done = connect_by_link(client, local(link), "octocat")
    assert "Your GitHub account is connected." in text(done)
    assert client.get(local(link)).status_code == 410


def test_the_link_expires_after_the_setting_whatever_was_asked(
    client, upstreams, apps, member, settings, time_machine
):
    settings.CONNECT_EMAILED_LINK_HOURS = 24
    client.force_login(member)
    link = services.emailed_link_make(
        member=member, app=apps["github"], expires=datetime.timedelta(days=7)
    )
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=25))

    expired = client.get(local(link))

    assert expired.status_code == 410 and "expired" in text(expired)
    assert not ConnectSession.objects.exists()


@pytest.mark.parametrize("signed", ["x", "a" * 600, "gAAAAA" + "A" * 200, "%00", "..", "é" * 10])
def test_a_bad_link_is_a_4xx(client, db, signed):
    response = client.get(f"/connect/l/{signed}/")
    assert 400 <= response.status_code < 500

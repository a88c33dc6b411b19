"""After a Deny at BitBadges, the cancelled page starts again where the member was going
(users/siwbb/ renders it with siwbb_next and siwbb_process); a cancelled connect says
so. Against the sandbox over HTTP."""

import re

import pytest
from django.contrib.auth import get_user_model

from tests.siwbb.siwbb_support import page_text, sign_in

# What the pages say: the database engine changes none of it (CI: one database).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database]

PASSWORD = "connect-demo-password"
NEXT_FIELD = re.compile(r'<input type="hidden" name="next" value="([^"]*)">')


def actions(page: str) -> str:
    """The page's own buttons (not the site banner's)."""
    return page[page.index('class="confirm-actions"') :]


def test_after_a_deny_starting_again_keeps_where_the_member_was_going(client, siwbb):
    response = sign_in(client, decision="deny", next_url="/claims/")
    if response.status_code == 302:
        response = client.get(response["Location"])
    page = page_text(response)
    assert "Sign-in cancelled" in page
    assert NEXT_FIELD.findall(actions(page)) == ["/claims/"]
    assert 'href="/login/?next=/claims/"' in page or 'href="/login/?next=%2Fclaims%2F"' in page
    assert not get_user_model().objects.exists()


def test_a_cancelled_connect_says_connecting_was_cancelled(client, siwbb):
    member = get_user_model().objects.create_user(username="erin", password=PASSWORD)
    client.force_login(member)
    assert client.post("/reauthenticate/", {"password": PASSWORD}).status_code == 302
    response = sign_in(client, decision="deny", process="connect", next_url="/claims/")
    if response.status_code == 302:
        response = client.get(response["Location"])
    page = page_text(response)
    assert "Connecting BitBadges cancelled" in page and "Sign-in cancelled" not in page
    assert re.search(r'name="process" value="connect"', actions(page))
    assert NEXT_FIELD.findall(actions(page)) == ["/claims/"]
    member.refresh_from_db()
    assert not member.address_proven


def test_a_cancelled_second_connect_offers_another_address(client, siwbb):
    member = get_user_model().objects.create_user(username="erin", password=PASSWORD)
    client.force_login(member)
    assert client.post("/reauthenticate/", {"password": PASSWORD}).status_code == 302
    assert sign_in(client, process="connect", next_url="/profile/").status_code == 302
    response = sign_in(client, decision="deny", process="connect", next_url="/profile/")
    page = page_text(client.get(response["Location"]))
    assert ">Connect another BitBadges address</button>" in actions(page)

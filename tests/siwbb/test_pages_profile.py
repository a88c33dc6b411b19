"""What a member who signed in with BitBadges reads on /email/, /profile/ and /auth/social/.

They have a proven address and may have no email and no password: /email/ says an email
is optional and offers to set a password (not change one); where BitBadges is their only
way in, no Disconnect is offered (it could only fail), a link to set a password is; the
address's two spellings read as one account; a second connect is labelled as such; the
email switches say an email is needed to get them. Against the sandbox over HTTP.
"""

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from tests.members_support import verify_email
from tests.siwbb.siwbb_support import ALICE_0X, ALICE_BB, ALICE_EIP55, page_text, sign_in

# What the pages say: the database engine changes none of it (CI: one database).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database]

PASSWORD = "connect-demo-password"
SET_PASSWORD_LINK = "Set a password to be able to disconnect BitBadges"
DISCONNECT_FORM = re.compile(r'<form[^>]*action="/profile/bitbadges/disconnect/"')


@pytest.fixture
def newcomer(client, siwbb):
    """A member made by a sign-in with BitBadges: proven address, no email, no password."""
    assert sign_in(client).status_code == 302
    member = get_user_model().objects.get()
    assert member.address_proven and not member.has_usable_password() and not member.email
    return member


def test_the_email_page_tells_a_bitbadges_member_an_email_is_optional(client, newcomer):
    response = client.get("/email/")
    page = page_text(response)
    assert response.status_code == 200
    assert "you cannot connect accounts" not in page
    assert "You have no email address, and you need none:" in page
    assert "reset your password" in page
    # No password to change: the page offers to set one, as /profile/ does.
    assert 'href="/password/set/"' in page and "Set a password" in page
    assert "Change password" not in page and 'href="/password/change/"' not in page


def test_the_email_page_still_warns_a_member_without_a_proven_address(client, db):
    member = get_user_model().objects.create_user(username="dora", password=PASSWORD)
    client.force_login(member)
    page = page_text(client.get("/email/"))
    assert "without a confirmed address you cannot connect accounts" in page
    assert 'href="/password/change/"' in page and "Set a password" not in page


def test_the_email_page_with_an_email_says_it_is_optional_when_proven(client, newcomer):
    verify_email(newcomer, "alice@example.com")
    page = page_text(client.get("/email/"))
    assert "alice@example.com" in page
    assert "an email address is optional" in page
    assert "need at least one confirmed address" not in page


def test_no_disconnect_where_bitbadges_is_the_only_way_in(client, newcomer):
    profile = client.get("/profile/").content.decode()
    assert not DISCONNECT_FORM.search(profile)
    assert SET_PASSWORD_LINK in page_text(client.get("/profile/"))
    assert '<a href="/password/set/">' + SET_PASSWORD_LINK in profile
    connections = client.get("/auth/social/")
    page = page_text(connections)
    assert connections.status_code == 200
    assert ALICE_BB in page and SET_PASSWORD_LINK in page
    assert 'name="account"' not in page and ">Disconnect<" not in page


def test_with_a_password_disconnect_is_offered_again(client, newcomer):
    newcomer.set_password(PASSWORD)
    newcomer.save()
    client.force_login(newcomer)
    profile = client.get("/profile/").content.decode()
    assert DISCONNECT_FORM.search(profile) and SET_PASSWORD_LINK not in profile
    page = page_text(client.get("/auth/social/"))
    assert 'name="account"' in page and ">Disconnect</button>" in page
    assert SET_PASSWORD_LINK not in page


SAME_ACCOUNT = re.compile(
    rf'<span class="address">{ALICE_EIP55}</span> <span class="siwbb-same">'
    rf'\(<span class="address">{ALICE_BB}</span> on BitBadges: the same account\)</span>'
)


def test_the_profile_shows_both_spellings_as_one_account(client, newcomer):
    # The member's own (EIP-55) spelling, not BitBadges' lower case, then the bb1 one.
    assert SAME_ACCOUNT.search(page_text(client.get("/profile/")))
    assert SAME_ACCOUNT.search(page_text(client.get("/auth/social/")))


def test_a_login_of_another_address_shows_its_own_spellings(client, newcomer):
    newcomer.address = "0x0000000000000000000000000000000000000001"
    newcomer.save()  # a typed address of another account: the proof goes
    page = page_text(client.get("/profile/"))
    assert f'<span class="address">{ALICE_0X}</span> <span class="siwbb-same">' in page
    assert "Changing it removes the BitBadges proof" not in page


def test_the_data_download_says_how_a_member_without_a_password_confirms(client, newcomer):
    page = page_text(client.get("/profile/"))
    assert "If you have not typed your password" not in page
    assert "confirm it is you with BitBadges" in page


def test_a_second_connect_is_secondary_and_says_another(client, newcomer):
    page = page_text(client.get("/profile/"))
    button = re.search(
        r'<button type="submit" class="([^"]*)">Connect another BitBadges address', page
    )
    assert button and "primary" not in button.group(1)
    assert ">Connect BitBadges<" not in page
    assert "Connect another BitBadges address" in page_text(client.get("/auth/social/"))


def test_the_email_switches_say_an_email_is_needed(client, newcomer):
    page = page_text(client.get("/profile/"))
    assert re.search(r'<a href="/email/">Add an email address</a> to get these', page), page
    verify_email(newcomer, "alice@example.com")
    assert "to get these" not in page_text(client.get("/profile/"))


def test_the_address_help_says_changing_it_drops_the_proof(client, newcomer):
    page = page_text(client.get("/profile/"))
    assert page.count("Changing it removes the BitBadges proof") == 1  # said once
    assert "some claims need a proven address" in page


def test_a_member_with_no_bitbadges_login_sees_one_primary_connect(client, siwbb):
    member = get_user_model().objects.create_user(username="erin", password=PASSWORD)
    client.force_login(member)
    page = page_text(client.get("/profile/"))
    assert re.search(r'<button type="submit" class="button primary">Connect BitBadges<', page)
    assert "Connect another BitBadges address" not in page
    assert "Changing it removes the BitBadges proof" not in page
    assert not SocialAccount.objects.exists()

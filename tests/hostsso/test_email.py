"""The host's email address and the members here.

A verified address that names a member here makes no account and no login to theirs:
the page says to log in to that account and connect the host from its profile, which
then leads there. An unverified address tells nothing: the account is made, the address
listed unconfirmed, and only a notice (never a link) goes to an address another member
confirmed.
"""

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core import mail

from tests.hostsso.host_support import (
    ALICE_EMAIL,
    ALICE_SUB,
    BOB_EMAIL,
    at_host,
    back,
    messages_of,
    nothing_written,
    page_text,
    sign_on,
)
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "carol-Pa55word-here"


@pytest.fixture
def carol(django_user_model):
    """A member here with a password whose confirmed address is alice's at the host."""
    member = django_user_model.objects.create_user(
        username="carol", email=ALICE_EMAIL, password=PASSWORD
    )
    return verify_email(member)


def connect_host(client, *, member: str = "alice"):
    """Connect the host from /profile/: the button, the password, the host, our callback."""
    response = client.post(
        "/auth/oidc/host/login/", {"process": "connect", "next": "/profile/#host"}
    )
    assert response["Location"].startswith("/reauthenticate/"), response
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return back(client, at_host(response["Location"], member=member))


def test_a_verified_email_of_a_member_here_makes_no_account_and_says_what_to_do(
    client, host, carol
):
    response = sign_on(client, member="alice", next_url="/c/github-starter/")
    assert response.status_code == 409
    text = page_text(response)
    assert "You may already have an account here" in text
    assert f"An account here already uses {ALICE_EMAIL}" in text
    assert "then connect Sandbox Community from your profile" in text
    assert 'href="/login/?next=/profile/%23host"' in text
    # No new account, no host login, and carol was not logged in by her email.
    nothing_written(users_before=1)
    assert not client.get("/profile/").wsgi_request.user.is_authenticated


def test_the_member_connects_the_host_and_then_logs_in_with_it(client, host, carol):
    assert client.login(username="carol", password=PASSWORD)
    response = connect_host(client)
    assert response.status_code == 302 and response["Location"] == "/profile/#host"
    assert "Sandbox Community is connected" in " ".join(messages_of(response))
    login = SocialAccount.objects.get()
    assert (login.user_id, login.provider, login.uid) == (carol.pk, "host", ALICE_SUB)
    [notice] = mail.outbox
    assert "Log in with Sandbox Community was connected" in notice.body
    client.logout()
    assert sign_on(client, member="alice").status_code == 302
    assert client.get("/profile/").wsgi_request.user == carol
    assert get_user_model().objects.count() == 1


def test_an_unconfirmed_user_email_here_still_counts_as_taken(client, host, django_user_model):
    # Whose account's own address it is signs in with it: a verified host email of it
    # would make a twin. No account.
    django_user_model.objects.create_user(username="dave", email=ALICE_EMAIL, password=PASSWORD)
    assert sign_on(client, member="alice").status_code == 409
    nothing_written(users_before=1)


def test_an_address_only_listed_elsewhere_blocks_nobody(client, host, django_user_model):
    erin = django_user_model.objects.create_user(username="erin", email="erin@example.com")
    EmailAddress.objects.create(user=erin, email=ALICE_EMAIL, verified=False, primary=False)
    assert sign_on(client, member="alice").status_code == 302
    member = get_user_model().objects.get(signup_method="host")
    assert EmailAddress.objects.get(user=member).verified
    assert not EmailAddress.objects.get(user=erin, email=ALICE_EMAIL).verified


def test_an_unverified_email_another_member_confirmed_gets_a_notice_not_a_link(
    client, host, django_user_model
):
    frank = verify_email(django_user_model.objects.create_user(username="frank", email=BOB_EMAIL))
    response = sign_on(client, member="bob")
    assert response.status_code == 302
    member = get_user_model().objects.get(signup_method="host")
    assert member.email == ""
    [listed] = EmailAddress.objects.filter(user=member)
    assert (listed.email, listed.verified, listed.primary) == (BOB_EMAIL, False, False)
    # The same "we sent a link" a new address gets; frank's address gets a notice only.
    said = " ".join(messages_of(response))
    assert f"We sent a confirmation link to {BOB_EMAIL}" in said
    [notice] = mail.outbox
    assert notice.to == [BOB_EMAIL] and "/confirm-email/" not in notice.body
    assert EmailAddress.objects.get(user=frank).verified

"""users.siwbb.signals.address_proven is news only: a proof the member did not have, or
another address. A log-in that renews the proof sends nothing (claims listen to it and
would re-queue every failed and ineligible claim of the member at each log-in)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.members_support import verify_email
from tests.siwbb.siwbb_support import (
    ALICE_0X,
    ALICE_EIP55,
    CONFIRM_PATH,
    at_bitbadges,
    back,
    confirm_with_bitbadges,
    sign_in,
)
from users.siwbb.signals import address_proven

pytestmark = pytest.mark.django_db(transaction=True)

TYPED = "0x0000000000000000000000000000000000000001"


@pytest.fixture
def heard():
    said: list[tuple[str, str]] = []

    def listener(sender, *, member, address, previous, **kwargs):
        said.append((address, previous))

    address_proven.connect(listener, dispatch_uid="test-proof-signal")
    yield said
    address_proven.disconnect(dispatch_uid="test-proof-signal")


def test_only_news_is_sent(client, siwbb, heard):
    sign_in(client, address=ALICE_0X)
    member = verify_email(get_user_model().objects.get(), "bea@example.com")
    assert heard == []  # a new member: nothing waits for the proof
    for _ in range(2):  # logging in again renews the proof, quietly
        client.logout()
        sign_in(client, address=ALICE_0X)
    member.refresh_from_db()
    assert member.address_proven and heard == []
    # Typed another address: a log-in keeps it (not proven), and says nothing.
    assert client.post("/profile/address/", {"address": TYPED}).status_code == 302
    client.logout()
    sign_in(client, address=ALICE_0X)
    assert heard == []
    # Connecting BitBadges again proves it: news, once.
    held = client.post("/auth/bitbadges/login/", {"process": "connect", "next": "/profile/"})
    assert held["Location"].startswith(CONFIRM_PATH)
    started = confirm_with_bitbadges(client, held["Location"], address=ALICE_0X)
    back(client, at_bitbadges(started["Location"], address=ALICE_0X))
    assert heard == [(ALICE_EIP55, TYPED)]
    client.logout()
    sign_in(client, address=ALICE_0X)
    assert heard == [(ALICE_EIP55, TYPED)]


def test_a_login_that_proves_a_typed_address_is_news(client, siwbb, heard, django_user_model):
    sign_in(Client(), address=ALICE_0X)
    member = django_user_model.objects.get()
    django_user_model.objects.filter(pk=member.pk).update(address_proven_at=None, proven_address="")
    sign_in(client, address=ALICE_0X)
    member.refresh_from_db()
    assert member.address_proven and heard == [(ALICE_EIP55, ALICE_EIP55)]

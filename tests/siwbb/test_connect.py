"""Connecting and disconnecting BitBadges from /profile/, against the sandbox over HTTP.

Connecting asks for the password first, then the address BitBadges proves replaces the
typed one (the member is told); an address another account holds is refused and nothing
is written; disconnecting drops the proof of that address, and a member whose only way
in is BitBadges cannot disconnect it. A typed address of another account drops the proof.
"""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core import mail

from tests.members_support import verify_email
from tests.siwbb.siwbb_support import (
    ALICE_BB,
    ALICE_EIP55,
    BOB_BB,
    CONFIRM_PATH,
    at_bitbadges,
    back,
    confirm_with_bitbadges,
    page_text,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "connect-demo-password"
TYPED = "0x0000000000000000000000000000000000000001"


@pytest.fixture
def carol(django_user_model):
    """A member with a password, a confirmed email and a typed (unproven) address."""
    member = django_user_model.objects.create_user(
        username="carol", email="carol@example.com", password=PASSWORD
    )
    member.address = TYPED
    member.save()
    return verify_email(member)


def connect(client, *, address: str, password: str = PASSWORD):
    """Connect BitBadges from /profile/: the button, the password, BitBadges, our callback."""
    response = client.post(
        "/auth/bitbadges/login/", {"process": "connect", "next": "/profile/#bitbadges"}
    )
    if response["Location"].startswith("/reauthenticate/"):
        response = client.post(response["Location"], {"password": password})
    elif response["Location"].startswith(CONFIRM_PATH):  # a member without a password
        response = confirm_with_bitbadges(client, response["Location"], address=address)
    assert response.status_code == 302, response.content[:300]
    return back(client, at_bitbadges(response["Location"], address=address))


def test_connecting_asks_for_the_password_then_replaces_the_typed_address(client, siwbb, carol):
    client.force_login(carol)
    first = client.post("/auth/bitbadges/login/", {"process": "connect", "next": "/profile/"})
    assert first.status_code == 302 and first["Location"].startswith("/reauthenticate/")
    response = connect(client, address="0x742d35cc6634c0532925a3b844bc9e7595f0beb1")
    assert response.status_code == 302 and response["Location"] == "/profile/#bitbadges"
    carol.refresh_from_db()
    assert carol.address == ALICE_EIP55 and carol.address_proven
    assert carol.has_usable_password() and carol.email == "carol@example.com"
    login = SocialAccount.objects.get()
    assert (login.user, login.uid) == (carol, ALICE_BB)
    profile = page_text(client.get("/profile/"))
    assert (
        f"BitBadges proved that {ALICE_EIP55} is yours: your badges go there now, instead of "
        f"{TYPED}, the address you had typed." in profile
    )
    assert "Proven" in profile and ALICE_BB in profile
    [notice] = [m for m in mail.outbox if "BitBadges login connected" in m.subject]
    assert notice.to == ["carol@example.com"] and ALICE_BB in notice.body


def test_connecting_an_address_another_account_holds_is_refused_and_writes_nothing(
    client, siwbb, carol
):
    sign_in(client, address=BOB_BB)
    holder = get_user_model().objects.get(address=BOB_BB)
    client.logout()
    client.force_login(carol)
    response = connect(client, address=BOB_BB)
    assert response.status_code == 302 and response["Location"] == "/profile/#bitbadges"
    carol.refresh_from_db()
    assert carol.address == TYPED and not carol.address_proven
    assert list(SocialAccount.objects.values_list("user", "uid")) == [(holder.pk, BOB_BB)]
    assert "This BitBadges address is connected to another account on this site" in page_text(
        client.get("/profile/")
    )


def test_disconnecting_from_the_profile_drops_the_proof(client, siwbb, carol):
    client.force_login(carol)
    connect(client, address=ALICE_BB)
    login = SocialAccount.objects.get()
    response = client.post("/profile/bitbadges/disconnect/", {"account": login.pk})
    assert response.status_code == 302 and response["Location"] == "/profile/#bitbadges"
    assert not SocialAccount.objects.exists()
    carol.refresh_from_db()
    assert carol.address == ALICE_BB and not carol.address_proven
    profile = page_text(client.get("/profile/"))
    assert "Not proven" in profile and "BitBadges is disconnected" in profile
    assert any("BitBadges login disconnected" in m.subject for m in mail.outbox)
    # Another address can now take it; the freed one can be connected again.
    assert connect(client, address=ALICE_BB).status_code == 302
    carol.refresh_from_db()
    assert carol.address_proven


def test_disconnecting_on_allauths_connections_page_drops_the_proof_too(client, siwbb, carol):
    client.force_login(carol)
    connect(client, address=ALICE_BB)
    login = SocialAccount.objects.get()
    page = page_text(client.get("/auth/social/"))
    assert ALICE_BB in page and "Disconnect" in page
    assert client.post("/auth/social/", {"account": login.pk}).status_code == 302
    carol.refresh_from_db()
    assert not carol.address_proven and not SocialAccount.objects.exists()


def test_a_member_whose_only_way_in_is_bitbadges_cannot_disconnect_it(client, siwbb):
    sign_in(client)
    member = get_user_model().objects.get()
    login = SocialAccount.objects.get()
    held = client.post("/profile/bitbadges/disconnect/", {"account": login.pk})
    response = confirm_with_bitbadges(client, held["Location"])
    assert response.status_code == 400
    assert "BitBadges is the only way you log in here, so it cannot be disconnected." in (
        page_text(response)
    )
    member.refresh_from_db()
    assert SocialAccount.objects.count() == 1 and member.address_proven


@pytest.mark.parametrize("value", ["", "abc", "99999", "1" * 5000, "<script>"])
def test_a_disconnect_naming_no_login_of_the_member_changes_nothing(client, siwbb, carol, value):
    sign_in(client)  # someone else's login
    client.logout()
    client.force_login(carol)
    assert client.post("/reauthenticate/", {"password": PASSWORD}).status_code == 302
    other = SocialAccount.objects.get()
    for account in (value, str(other.pk)):
        response = client.post("/profile/bitbadges/disconnect/", {"account": account})
        assert response.status_code == 400
        assert "Choose one of your BitBadges logins to disconnect" in page_text(response)
    assert SocialAccount.objects.count() == 1


def test_typing_another_account_on_the_profile_drops_the_proof(client, siwbb):
    sign_in(client)
    # With a confirmed email (without one, the proof is the member's way through the
    # gate and claims.forms.AddressForm keeps it).
    member = verify_email(get_user_model().objects.get(), "bea@example.com")
    # The same account in its other spelling keeps the proof.
    client.post("/profile/address/", {"address": ALICE_BB})
    member.refresh_from_db()
    assert member.address == ALICE_BB and member.address_proven
    response = client.post("/profile/address/", {"address": TYPED})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.address == TYPED and not member.address_proven
    assert "Your new address is not proven." in page_text(client.get("/profile/"))
    # Logging in with BitBadges again keeps the typed address, not proven.
    client.logout()
    sign_in(client)
    member.refresh_from_db()
    assert member.address == TYPED and not member.address_proven


def test_connecting_the_same_bitbadges_again_restores_the_proven_address(client, siwbb):
    sign_in(client)  # a BitBadges member without a password: confirms with BitBadges
    member = verify_email(get_user_model().objects.get(), "bea@example.com")
    client.post("/profile/address/", {"address": TYPED})
    member.refresh_from_db()
    assert not member.address_proven
    response = connect(client, address=ALICE_BB)
    assert response.status_code == 302 and response["Location"] == "/profile/#bitbadges"
    member.refresh_from_db()
    assert member.address == ALICE_BB and member.address_proven
    assert SocialAccount.objects.count() == 1
    assert f"instead of {TYPED}, the address you had typed." in page_text(client.get("/profile/"))

"""A member whose proven address is their only way through the gate (issue 22, review):

- one with no email is never told "we sent a link" (none was sent); where Sign in with
  BitBadges is on, a member with neither a confirmed email nor a proven address is told
  both ways;
- one who signed up with BitBadges (no email) cannot replace the proven address by typing
  another account's address, on /claims/ or /profile/ (the same form): a sentence says
  what to do instead; other proven members are told that a change drops the proof.

Through HTTP: a real sign-up with BitBadges against the sandbox, the pages' POSTs, and
the real task worker for the claim's check.
"""

import pytest
from django.contrib.auth import get_user_model

from claims import wording
from claims.models import Claim, Completion
from core.addresses import eth_checksum, to_bitbadges_address
from tests.claims.claims_support import ALICE_ADDRESS, run_worker
from tests.members_support import verify_email
from tests.siwbb.siwbb_support import ALICE_EIP55, sign_in, siwbb_on
from users.siwbb import proof

pytestmark = pytest.mark.django_db(transaction=True)

OTHER = eth_checksum("1234" * 10)
KEEP_PROOF = (
    "This address is proven by BitBadges, and it is what lets you connect apps without an "
    "email. To use another address, connect BitBadges with it, or add and confirm an email "
    "first."
)
DROPS_PROOF = "Changing it removes the BitBadges proof; some claims need a proven address."
PAGES = [("/claims/address/", "/claims/"), ("/profile/address/", "/profile/")]


@pytest.fixture
def starter(demo_claims):
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    return claim


@pytest.mark.parametrize("bitbadges", [True, False], ids=["siwbb-on", "siwbb-off"])
def test_a_member_without_email_is_not_told_a_link_was_sent(
    starter, django_user_model, connect, client, settings, bitbadges
):
    if bitbadges:
        settings.BITBADGES_CLIENT_ID, settings.BITBADGES_CLIENT_SECRET = "id", "secret"
    else:
        settings.BITBADGES_CLIENT_ID = settings.BITBADGES_CLIENT_SECRET = ""
    # Neither an email nor a proof (e.g. their BitBadges login was disconnected).
    ned = django_user_model.objects.create_user(username="ned", email="", address=ALICE_ADDRESS)
    connect(ned, "github", "ned-gh")
    run_worker()

    row = Completion.objects.get(claim=starter, member=ned)
    expected = wording.ADD_EMAIL_OR_PROVE if bitbadges else wording.ADD_EMAIL
    assert (row.state, row.reason) == ("ineligible", expected)
    assert "we sent" not in row.reason.lower()
    assert ("connect BitBadges" in row.reason) is bitbadges  # told both ways when it can
    client.force_login(ned)
    assert "we sent" not in client.get("/claims/").text.lower()


def test_a_member_with_an_unconfirmed_email_is_told_where_the_link_went(
    starter, django_user_model, connect, settings
):
    settings.BITBADGES_CLIENT_ID, settings.BITBADGES_CLIENT_SECRET = "id", "secret"
    eve = django_user_model.objects.create_user(
        username="eve", email="eve@example.com", address=ALICE_ADDRESS
    )
    connect(eve, "github", "eve-gh")
    run_worker()
    reason = Completion.objects.get(claim=starter, member=eve).reason
    assert reason == wording.CONFIRM_EMAIL_OR_PROVE_TO % {"email": "eve@example.com"}


@pytest.fixture
def signed_up(client, settings, live_server):
    """A member who signed up with BitBadges: no email, no password, the address proven."""
    siwbb_on(settings, live_server)
    assert sign_in(client).status_code == 302
    member = get_user_model().objects.get()
    assert member.address_proven and member.email == ""
    return member


@pytest.mark.parametrize(("post_to", "page"), PAGES, ids=["claims", "profile"])
def test_a_bitbadges_member_without_email_keeps_their_proven_address(
    signed_up, client, post_to, page
):
    assert DROPS_PROOF in client.get(page).text

    response = client.post(post_to, {"address": OTHER})
    assert response.status_code == 400
    assert KEEP_PROOF in response.text
    signed_up.refresh_from_db()
    assert (signed_up.address, signed_up.address_proven) == (ALICE_EIP55, True)

    # The same account in its other spelling is no other address: saved, still proven.
    response = client.post(post_to, {"address": to_bitbadges_address(ALICE_EIP55)})
    assert response.status_code == 302
    signed_up.refresh_from_db()
    assert signed_up.address == to_bitbadges_address(ALICE_EIP55)
    assert signed_up.address_proven


@pytest.mark.parametrize(
    "hostile",
    ["", "   ", "x" * 10_000, "<script>alert(1)</script>", "0x\x00" + "1" * 40, "bb1" + "q" * 90],
    ids=["empty", "blank", "10kb", "html", "nul", "bad-bb1"],
)
def test_bad_input_from_a_proven_member_is_a_400_and_changes_nothing(signed_up, client, hostile):
    response = client.post("/claims/address/", {"address": hostile})
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.text
    signed_up.refresh_from_db()
    assert (signed_up.address, signed_up.address_proven) == (ALICE_EIP55, True)


@pytest.mark.parametrize(("post_to", "page"), PAGES, ids=["claims", "profile"])
def test_a_proven_member_with_a_confirmed_email_may_change_it_and_is_told_first(
    django_user_model, client, post_to, page
):
    pia = verify_email(
        django_user_model.objects.create_user(
            username="pia", email="pia@example.com", password="connect-demo", address=ALICE_EIP55
        )
    )
    proof.prove(
        pia, {"bitbadgesAddress": to_bitbadges_address(ALICE_EIP55), "address": ALICE_EIP55}
    )
    client.force_login(pia)
    assert DROPS_PROOF in client.get(page).text

    assert client.post(post_to, {"address": OTHER}).status_code == 302
    pia.refresh_from_db()
    assert (pia.address, pia.address_proven) == (OTHER, False)
    # No longer proven: the help text no longer speaks of a proof.
    assert DROPS_PROOF not in client.get("/claims/").text


def test_a_proven_member_whose_email_is_not_confirmed_keeps_the_address_too(
    django_user_model, client
):
    una = django_user_model.objects.create_user(
        username="una", email="una@example.com", password="connect-demo", address=ALICE_EIP55
    )
    proof.prove(
        una, {"bitbadgesAddress": to_bitbadges_address(ALICE_EIP55), "address": ALICE_EIP55}
    )
    client.force_login(una)
    response = client.post("/claims/address/", {"address": OTHER})
    assert response.status_code == 400 and KEEP_PROOF in response.text

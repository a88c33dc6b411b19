"""Staff actions and the address rules (issue 22), through the admin's pages (HTTP
POSTs), the BitBadges sandbox over real HTTP and the real task worker.

- A Re-issue goes to the member's address as it is now: on a claim that requires a
  proven address, one the member typed (the proof dropped) is refused, with a sentence.
- A Grant overrides the claim's rules, the proven address too: its confirmation page and
  its sentence say that the address is not proven.
- A completion re-issued away from an address keeps it held (one completion per
  address), as the ledger says the earlier delivery is still there.
"""

import pytest
from django.test import Client
from django.urls import reverse

from claims.models import Claim, Completion, CompletionEvent
from core.addresses import eth_checksum, to_bitbadges_address
from sandbox.bitbadges import attempts as bb_attempts
from tests.claims.claims_support import ALICE_ADDRESS, run_worker
from tests.members_support import verify_email
from users.siwbb import proof

pytestmark = pytest.mark.django_db(transaction=True)

ALICE_BB1 = to_bitbadges_address(ALICE_ADDRESS)
OTHER = eth_checksum("1234" * 10)
OTHER_BB1 = to_bitbadges_address(OTHER)
NOT_PROVEN = "is not proven"


@pytest.fixture
def proven_claim(demo_claims, settings):
    """The GitHub starter claim (BitBadges claim), requiring a proven address, alone;
    Sign in with BitBadges on."""
    settings.BITBADGES_CLIENT_ID = "site-client"
    settings.BITBADGES_CLIENT_SECRET = "site-secret"
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    claim.require_proven_address = True
    claim.save()
    return claim


@pytest.fixture
def boss_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("boss", "b@x.test", "pw"))
    return client


def member(django_user_model, name, address=ALICE_ADDRESS, *, proven=False):
    user = django_user_model.objects.create_user(
        username=name, email=f"{name}@example.com", password="connect-demo", address=address
    )
    if proven:
        prove(user)
    return verify_email(user)


def prove(user):
    """What Sign in with BitBadges does when it returns the member's address."""
    user.refresh_from_db()
    proof.prove(
        user, {"bitbadgesAddress": to_bitbadges_address(user.address), "address": user.address}
    )


def url(name, *args):
    return reverse(f"admin:claims_completion_{name}", args=args)


def test_a_reissue_to_an_address_the_member_typed_is_refused(
    proven_claim, django_user_model, connect, boss_client
):
    bea = member(django_user_model, "bea", proven=True)
    connect(bea, "github", "bea-gh")
    run_worker()
    done = Completion.objects.get(member=bea)
    assert (done.state, done.address, done.address_proven) == ("completed", ALICE_BB1, True)

    # She types another address on her profile: the proof drops.
    bea.refresh_from_db()
    bea.address = OTHER
    bea.save()
    bea.refresh_from_db()
    assert not bea.address_proven

    page = boss_client.get(url("reissue", done.pk)).content.decode()
    assert f"{OTHER_BB1} {NOT_PROVEN}: bea typed it" in page  # said before anyone presses
    events = CompletionEvent.objects.count()
    refused = boss_client.post(url("reissue", done.pk), {"reason": "Wrong address."})
    assert refused.status_code == 409
    text = refused.content.decode()
    assert "this claim requires a proven address" in text and "Nothing was re-issued" in text
    done.refresh_from_db()
    assert (done.state, done.address, done.lease_token) == ("completed", ALICE_BB1, None)
    assert CompletionEvent.objects.count() == events

    # Once she proves the new address, the Re-issue goes there, proven.
    prove(bea)
    assert boss_client.post(url("reissue", done.pk), {"reason": "Proven now."}).status_code == 302
    run_worker()
    done.refresh_from_db()
    assert (done.state, done.address, done.address_proven) == ("completed", OTHER_BB1, True)
    assert bb_attempts.completions(proven_claim.bitbadges_claim_id) == 2


def test_a_grant_says_that_the_address_is_not_proven_and_delivers(
    proven_claim, django_user_model, connect, boss_client
):
    tom = member(django_user_model, "tom")  # typed
    connect(tom, "github", "tom-gh")
    run_worker()
    row = Completion.objects.get(member=tom)
    assert row.state == "ineligible"

    chosen = {"claim": proven_claim.pk, "member": "tom", "reason": "Known to us."}
    confirm = boss_client.post(url("grant"), chosen)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "(typed, not proven)" in page
    assert 'id="grant-confirm-unproven"' in page and "Granting delivers there anyway." in page

    granted = boss_client.post(url("grant"), {**chosen, "confirmed": tom.pk}, follow=True)
    said = [str(message) for message in granted.context["messages"]]
    assert said == [
        f"Granted to tom: delivery to {ALICE_BB1} queued. {ALICE_BB1} {NOT_PROVEN}: tom "
        "typed it (Sign in with BitBadges did not return it), and this claim requires a "
        "proven address. Your grant delivers there anyway."
    ]
    run_worker()
    row.refresh_from_db()
    assert (row.state, row.address, row.address_proven) == ("completed", ALICE_BB1, False)


def test_a_grant_to_a_proven_member_says_nothing_of_it(
    proven_claim, django_user_model, boss_client
):
    ann = member(django_user_model, "ann", proven=True)
    chosen = {"claim": proven_claim.pk, "member": "ann", "reason": "Known to us."}
    page = boss_client.post(url("grant"), chosen).content.decode()
    assert "(proven)" in page and "grant-confirm-unproven" not in page
    granted = boss_client.post(url("grant"), {**chosen, "confirmed": ann.pk}, follow=True)
    said = [str(message) for message in granted.context["messages"]]
    assert said == [f"Granted to ann: delivery to {ALICE_BB1} queued."]


def test_a_completion_reissued_away_keeps_the_earlier_address_held(
    demo_claims, django_user_model, connect, boss_client
):
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    claim.one_completion_per_address = True
    claim.save()
    ann = member(django_user_model, "ann")
    connect(ann, "github", "ann-gh")
    run_worker()
    done = Completion.objects.get(member=ann)
    ann.address = OTHER
    ann.save()
    assert boss_client.post(url("reissue", done.pk), {"reason": "Typo."}).status_code == 302
    run_worker()
    done.refresh_from_db()
    assert (done.state, done.address_key) == ("completed", OTHER_BB1)

    # The BitBadges claim took nothing back: the first address still holds it.
    ben = member(django_user_model, "ben")
    connect(ben, "github", "ben-gh")
    run_worker()
    refused = Completion.objects.get(member=ben)
    assert (refused.state, refused.reason) == ("ineligible", "Already claimed for this address.")
    assert bb_attempts.completions(claim.bitbadges_claim_id) == 2

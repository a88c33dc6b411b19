"""Revoke, re-issue and grant by hand: what keeps them safe. Nothing is delivered twice
to an address that still holds a delivery; a grant that ended does not carry over to a
later check; the admin pages answer bad input with a 4xx; the ledger shows staff their
own reasons. Through the admin over HTTP, the BitBadges sandbox and the real worker.
"""

import pytest
from django.test import Client
from django.urls import reverse

from claims.models import Claim, Completion, CompletionEvent
from core.addresses import to_bitbadges_address
from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import stores as bb_stores
from tests.claims.claims_support import ALICE_ADDRESS, random_address, run_worker

pytestmark = pytest.mark.django_db(transaction=True)

ALICE_BB1 = to_bitbadges_address(ALICE_ADDRESS)


@pytest.fixture
def boss_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


@pytest.fixture
def store_claim(upstreams):
    store = bb_stores.store_create(label="safety")
    claim = Claim(
        slug="store-safety",
        name="Store safety",
        enabled=True,
        delivery="dynamic_store",
        store_id=store.dynamic_data_id,
    )
    claim.set_store_secret(store.data_secret)
    claim.save()
    return claim


@pytest.fixture
def badge_claim(upstreams):
    """A BitBadges-claim delivery on a sandbox claim: BitBadges cannot undo a completion."""
    upstream = bb_claims.claim_create(password="pw")  # noqa: S106 (the sandbox's)
    claim = Claim(
        slug="badge-safety",
        name="Badge safety",
        enabled=True,
        delivery="bitbadges",
        bitbadges_claim_id=upstream.claim_id,
        password_instance_id="pwd",
    )
    claim.set_password("pw")
    claim.save()
    return claim


def url(name, *args):
    return reverse(f"admin:claims_completion_{name}", args=args)


def grant(client, claim, member="alice", reason="Met it offline."):
    return client.post(url("grant"), {"claim": claim.pk, "member": member, "reason": reason})


# --- Finding 1: an address that still holds a delivery is not delivered to again ------


def test_reissue_after_revoke_to_the_same_address_is_refused_when_the_badge_stays(
    badge_claim, alice, boss_client
):
    assert grant(boss_client, badge_claim).status_code == 302
    run_worker()
    completion = Completion.objects.get(claim=badge_claim, member=alice)
    assert completion.state == "completed", completion.reason
    assert bb_attempts.complete_calls(badge_claim.bitbadges_claim_id, ALICE_BB1) == 1
    revoke = boss_client.post(url("revoke", completion.pk), {"reason": "Duplicate."})
    assert revoke.status_code == 302
    assert completion.events.get(reason="revoked").details["withdrawn"] is False

    page = boss_client.get(url("reissue", completion.pk)).content.decode()
    assert "would deliver twice" in page
    events = CompletionEvent.objects.count()
    response = boss_client.post(url("reissue", completion.pk), {"reason": "Oops."})

    assert response.status_code == 409
    assert "would deliver twice" in response.content.decode()
    run_worker()
    completion.refresh_from_db()
    assert completion.state == "revoked" and completion.lease_token is None
    assert CompletionEvent.objects.count() == events
    assert bb_attempts.complete_calls(badge_claim.bitbadges_claim_id, ALICE_BB1) == 1
    assert bb_attempts.completions(badge_claim.bitbadges_claim_id, ALICE_BB1) == 1
    # A corrected address is re-issued to, once.
    alice.address = random_address()
    alice.save(update_fields=["address"])
    assert boss_client.post(url("reissue", completion.pk), {"reason": "New."}).status_code == 302
    run_worker()
    completion.refresh_from_db()
    assert completion.state == "completed", completion.reason
    assert completion.address == to_bitbadges_address(alice.address)
    # And back to the first address: it still holds the first badge.
    alice.address = ALICE_ADDRESS
    alice.save(update_fields=["address"])
    back = boss_client.post(url("reissue", completion.pk), {"reason": "Back."})
    assert back.status_code == 409 and "would deliver twice" in back.content.decode()
    assert bb_attempts.complete_calls(badge_claim.bitbadges_claim_id, ALICE_BB1) == 1


def test_reissue_after_revoke_to_the_same_address_goes_ahead_when_the_store_took_it_back(
    store_claim, alice, boss_client
):
    assert grant(boss_client, store_claim).status_code == 302
    run_worker()
    completion = Completion.objects.get(claim=store_claim, member=alice)
    assert boss_client.post(url("revoke", completion.pk), {"reason": "x"}).status_code == 302
    assert completion.events.get(reason="revoked").details["withdrawn"] is True
    assert not bb_stores.store_contains(store_claim.store_id, ALICE_BB1)

    response = boss_client.post(url("reissue", completion.pk), {"reason": "Mistake."})

    assert response.status_code == 302
    run_worker()
    completion.refresh_from_db()
    assert completion.state == "completed", completion.reason
    assert bb_stores.store_contains(store_claim.store_id, ALICE_BB1)

"""What changes while a worker checks a completion is seen by the delivering move itself
(claims/engine/delivery._start_delivery: written-out conditions on its UPDATE), so
nothing goes out for a member deactivated, a cap reached or an identity taken in the
meantime; the row says which. The change is made by a hook on the step right before
the move (the delivery method's prepare), as staff or another worker would make it."""

import datetime
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from claims import services
from claims.audit import Actor
from claims.engine import ledger
from claims.engine.methods.base import DeliveryMethod
from claims.engine.methods.bitbadges_claim import BitBadgesClaim
from claims.models import Completion
from connections.models import App, ConnectedAccount
from sandbox.bitbadges import attempts as bb_sandbox
from tests.claims.claims_support import only, random_address, run_worker
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)


def _meanwhile(monkeypatch, change):
    """Make `change` once, right before the delivering move of the next completion,
    whatever the claim's delivery method."""
    done = []
    for method in (DeliveryMethod, BitBadgesClaim):
        real = method.prepare

        def prepare(self, claim, address, real=real):
            if not done:
                done.append(True)
                change()
            return real(self, claim, address)

        monkeypatch.setattr(method, "prepare", prepare)


def _bob(login: str = "octo-bob"):
    bob = verify_email(
        get_user_model().objects.create_user(
            "bob", email="bob@example.com", password=None, address=random_address()
        )
    )
    github = App.objects.get(slug="github")
    ConnectedAccount.objects.create(member=bob, app=github, pipedream_id="apn_bob", name=login)
    return bob


def _process(claim, member) -> Completion:
    completion = services.completion_request(claim=claim, member=member, actor=Actor.system("t"))
    services.completion_process(completion.pk)
    return Completion.objects.get(pk=completion.pk)


def test_a_member_deactivated_meanwhile_is_held_and_nothing_goes_out(
    demo_claims, alice, connect, monkeypatch
):
    claim = only(demo_claims, "github-starter")
    _meanwhile(
        monkeypatch,
        lambda: get_user_model().objects.filter(pk=alice.pk).update(is_active=False),
    )
    connect(alice, "github", "octo")
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert (completion.state, completion.reason) == ("ineligible", ledger.HELD_REASON)
    assert bb_sandbox.complete_calls(claim.bitbadges_claim_id) == 0


def test_a_cap_reached_meanwhile_stops_the_delivery(demo_claims, alice, connect, monkeypatch):
    claim = only(demo_claims, "github-starter")
    bob = _bob()
    assert _process(claim, bob).state == "completed"
    # Staff cap the claim at what is given out already while alice is being checked.
    _meanwhile(monkeypatch, lambda: type(claim).objects.filter(pk=claim.pk).update(cap=1))
    connect(alice, "github", "octo")
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "ineligible"
    assert completion.reason == "All 1 of this claim have been given out."
    assert bb_sandbox.complete_calls(claim.bitbadges_claim_id) == 1  # bob's alone


def test_an_identity_taken_meanwhile_is_named(demo_claims, alice, connect, monkeypatch):
    claim = only(demo_claims, "github-builders")  # one per GitHub login
    bob = _bob()

    def bobs_worker_takes_it():
        # Another worker, delivering to bob, holds the same GitHub login.
        Completion.objects.create(
            claim=claim,
            member=bob,
            state="delivering",
            upstream_identity="github:octo-pro",
            lease_token=uuid.uuid4(),
            lease_expires_at=timezone.now() + datetime.timedelta(minutes=5),
        )

    _meanwhile(monkeypatch, bobs_worker_takes_it)
    connect(alice, "github", "octo-pro")
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "ineligible"
    assert completion.reason == (
        "This GitHub account (octo-pro) has already earned this claim for another member."
    )
    assert bb_sandbox.complete_calls(claim.bitbadges_claim_id) == 0

"""A deactivated member (is_active off) earns nothing (issue 17 a).

Whatever asks for a check (an account connected, a queued task, the cron commands), a
deactivated member's completion is held, not eligible with a reason the ledger shows,
and nothing reaches BitBadges. Made active again, they earn again.
"""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from claims.engine import ledger
from claims.models import Completion, CompletionEvent
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from tests.claims.claims_support import ALICE_ADDRESS, run_worker

pytestmark = pytest.mark.django_db(transaction=True)


def _held_events(completion) -> list[dict]:
    return [
        event.details
        for event in CompletionEvent.objects.filter(completion=completion)
        if "held" in event.details
    ]


def _command(name, *args) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO(), no_color=True)
    return out.getvalue()


def test_a_deactivated_member_earns_nothing_until_made_active_again(demo_claims, alice, connect):
    claim = demo_claims["github-starter"]
    alice.is_active = False
    alice.save()

    connect(alice, "github", "octo")  # the account_connected signal asks for a check
    run_worker()
    _command("complete_claims")

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == Completion.State.INELIGIBLE
    assert completion.reason == ledger.HELD_REASON
    assert "deactivated" in completion.reason
    assert _held_events(completion) == [{"held": "the member's account is deactivated"}]
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 0

    alice.is_active = True
    alice.save()  # as the admin's change form does
    run_worker()

    completion.refresh_from_db()
    assert completion.state == Completion.State.COMPLETED, completion.reason
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_what_was_queued_before_the_deactivation_is_held_by_the_worker(demo_claims, alice, connect):
    claim = demo_claims["github-starter"]
    connect(alice, "github", "octo")  # queued while she is active
    alice.is_active = False
    alice.save()

    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == Completion.State.INELIGIBLE
    assert completion.reason == ledger.HELD_REASON
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 0
    assert completion.events.filter(to_state="checking").count() == 0  # never leased


def test_complete_claims_holds_a_due_row_and_says_why(demo_claims, alice):
    claim = demo_claims["github-starter"]
    alice.is_active = False
    alice.save()
    completion = Completion.objects.create(
        claim=claim,
        member=alice,
        state=Completion.State.RETRYING,
        attempts=2,
        next_attempt_at=timezone.now() - datetime.timedelta(minutes=1),
    )

    out = _command("complete_claims", "--claim", claim.slug)

    completion.refresh_from_db()
    assert completion.state == Completion.State.INELIGIBLE
    assert f"github-starter · alice: ineligible — {ledger.HELD_REASON}" in out
    assert _held_events(completion) == [{"held": "the member's account is deactivated"}]
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 0
    # Not due any more: the health check's backlog does not grow with held rows.
    assert not Completion.objects.due().filter(pk=completion.pk).exists()


def test_recheck_claims_asks_again_for_held_rows_of_members_active_again(
    demo_claims, alice, connect, django_user_model
):
    claim = demo_claims["github-starter"]
    alice.is_active = False
    alice.save()
    connect(alice, "github", "octo")
    # Made active by a bulk update (no signal): the cron is the net.
    django_user_model.objects.filter(pk=alice.pk).update(is_active=True)
    run_worker()
    assert Completion.objects.get(claim=claim, member=alice).state == Completion.State.INELIGIBLE

    _command("recheck_claims", "--stale", "0")
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == Completion.State.COMPLETED, completion.reason

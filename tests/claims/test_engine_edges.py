"""Edges of exactly-once: errors after a send, impatient members, claims not yet open."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from claims import bitbadges, pause, services
from claims.audit import Actor
from claims.models import Completion
from sandbox.bitbadges import attempts as bb_sandbox
from tests.claims.claims_support import ALICE_ADDRESS, only, run_worker
from tests.live_support import wait_until_served

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "error",
    [
        bitbadges.PaymentRequired(
            "Insufficient API credits.", operation="get claim attempt status"
        ),
        bitbadges.ClaimRejected("Forbidden", operation="get claim attempt status", status=403),
    ],
    ids=["402-while-polling", "unclassified-4xx-while-polling"],
)
def test_an_error_while_polling_after_complete_never_leads_to_a_second_complete(
    demo_claims, alice, connect, monkeypatch, error
):
    claim = only(demo_claims, "github-starter")

    def fails(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(bitbadges.BitBadgesClient, "wait_for_attempt", fails)
    connect(alice, "github", "octo")
    run_worker()
    monkeypatch.undo()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.outcome_unknown, completion.state
    assert bb_sandbox.complete_calls(claim.bitbadges_claim_id) == 1
    if isinstance(error, bitbadges.PaymentRequired):
        # Out of credits: the completion waits on the pause, its try not spent; the
        # pause ends when BitBadges answers (here at once: the 402 was this test's).
        assert completion.state == "waiting" and completion.paused_at is not None
        assert completion.attempts == 0
        assert pause.probe(force=True) == pause.Probed("resumed", 1)

    # Whatever happens next (the retry, or an admin's Retry of a failed row), BitBadges
    # is asked first; the attempt did succeed, so nothing is sent again.
    services.completion_request(
        claim=claim, member=alice, actor=Actor.staff(None, "test"), force=True
    )
    later = timezone.now() + datetime.timedelta(hours=1)
    with time_machine.travel(later, tick=True):
        result = services.completion_process(completion.pk)
    assert result.state == "completed", result.reason
    assert bb_sandbox.complete_calls(claim.bitbadges_claim_id) == 1
    assert bb_sandbox.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_check_again_does_not_hurry_an_unknown_outcome(demo_claims, alice, connect, settings):
    claim = only(demo_claims, "github-starter")
    settings.BITBADGES_TIMEOUT = 0.5
    settings.SANDBOX_FAULTS = {"bitbadges.claims.complete": {"hang_seconds": 1.0}}
    connect(alice, "github", "octo")
    run_worker()
    settings.SANDBOX_FAULTS = {}
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "retrying" and completion.outcome_unknown
    due = completion.next_attempt_at
    assert due >= timezone.now() + services.unknown_outcome_wait() - datetime.timedelta(seconds=5)

    services.member_check_again(claim=claim, member=alice)
    completion.refresh_from_db()
    assert (completion.state, completion.next_attempt_at) == ("retrying", due)
    assert services.completion_process(completion.pk).state == "retrying"  # not due yet
    # The hung request finishes on the server (and must not outlive the test).
    wait_until_served(1.2)
    assert bb_sandbox.complete_calls(claim.bitbadges_claim_id) == 1


def test_a_claim_not_yet_open_waits_for_its_start_then_completes(demo_claims, alice, connect):
    claim = only(demo_claims, "github-starter")
    opens = timezone.now() + datetime.timedelta(days=2)
    claim.starts_at = opens
    claim.save()
    connect(alice, "github", "octo")
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "waiting"
    assert completion.next_attempt_at == opens
    assert completion.reason.startswith("This claim opens on")
    assert bb_sandbox.complete_calls(claim.bitbadges_claim_id) == 0

    with time_machine.travel(opens + datetime.timedelta(seconds=1), tick=True):
        result = services.completion_process(completion.pk)
    assert result.state == "completed", result.reason


def test_a_failure_before_anything_was_sent_frees_the_upstream_identity(
    demo_claims, alice, connect, settings
):
    claim = only(demo_claims, "github-builders")
    settings.SANDBOX_FAULTS = {"bitbadges.store.actions": {"status": 401}}
    settings.CLAIMS_MAX_ATTEMPTS = 1
    connect(alice, "github", "octo-pro")
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    # The store add itself was refused (401): it may not be repeated blindly, so the
    # identity stays taken and the outcome is checked before any resend.
    assert completion.state == "failed"
    assert completion.outcome_unknown and completion.upstream_identity == "github:octo-pro"


def test_a_failure_while_checking_frees_the_upstream_identity(
    demo_claims, alice, connect, settings
):
    claim = only(demo_claims, "github-builders")
    settings.SANDBOX_FAULTS = {"pipedream.actions.run": {"status": 503}}
    settings.CLAIMS_MAX_ATTEMPTS = 1
    connect(alice, "github", "octo-pro")
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "failed" and not completion.outcome_unknown
    assert completion.upstream_identity == ""


def test_an_unverified_member_waits_and_goes_on_once_the_email_is_confirmed(
    demo_claims, alice, connect, client
):
    from allauth.account.models import EmailAddress, EmailConfirmationHMAC

    claim = only(demo_claims, "github-starter")
    EmailAddress.objects.filter(user=alice).update(verified=False)
    connect(alice, "github", "octo")  # (an account a sync found, say)
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "ineligible"
    assert completion.reason == "Confirm your email address: we sent a link to alice@example.com."
    assert bb_sandbox.complete_calls(claim.bitbadges_claim_id) == 0

    # She follows the link in the email: nothing else to do.
    address = EmailAddress.objects.get(user=alice)
    key = EmailConfirmationHMAC(address).key
    client.force_login(alice)
    response = client.post(f"/confirm-email/{key}/")
    assert response.status_code == 302
    run_worker()
    completion.refresh_from_db()
    assert completion.state == "completed", completion.reason

"""Unknown outcomes, refusals and answers that say nothing, as BitBadges and Pipedream
really give them: both sandboxes over real HTTP, the engine as the worker runs it.

What each test pins is in docs/fidelity.md: the success route BitBadges removed (its 404
is "cannot tell", never "no"), the attempts route that replaced it, refusals as 500s with
texts, sign-in claims, store secrets, and Pipedream's default HTTP response.
"""

import datetime

import pytest
import requests
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from claims import services
from claims.models import Claim, Completion, CompletionEvent
from core.addresses import to_bitbadges_address
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.bitbadges import stores as bb_sandbox_stores
from sandbox.bitbadges.models import BitBadgesClaim, BitBadgesStoreEntry
from tests.claims.claims_support import ALICE_ADDRESS, require, run_worker
from tests.live_support import wait_until_served

pytestmark = pytest.mark.django_db(transaction=True)

ALICE_BB = to_bitbadges_address(ALICE_ADDRESS)


def completion_of(claim, member) -> Completion:
    return Completion.objects.get(claim=claim, member=member)


def events(completion) -> list[CompletionEvent]:
    return list(CompletionEvent.objects.filter(completion=completion).order_by("at", "pk"))


def after(moment, seconds=1):
    return time_machine.travel(moment + datetime.timedelta(seconds=seconds), tick=True)


def process_when_due(completion: Completion) -> Completion:
    """Run the completion at the time it is due (the worker would, then)."""
    completion.refresh_from_db()
    with after(completion.next_attempt_at):
        return services.completion_process(completion.pk)


# --- Verified on live routes ---------------------------------------------------------------


@pytest.mark.parametrize("success_route", [False, True], ids=["success-route-gone", "both"])
def test_a_lost_answer_to_complete_is_confirmed_through_the_attempts_route(
    demo_claims, alice, connect, upstreams, settings, success_route
):
    settings.SANDBOX_BITBADGES_SUCCESS_ROUTE = success_route
    legacy = f"{upstreams.url}/sandbox/bitbadges/api/v0/claims/success/c0ffee/{ALICE_BB}"
    answer = requests.get(legacy, headers={"x-api-key": settings.BITBADGES_API_KEY}, timeout=5)
    assert (answer.status_code == 404) is not success_route  # the switch works
    claim = demo_claims["github-starter"]
    settings.BITBADGES_TIMEOUT = 0.5
    settings.SANDBOX_FAULTS = {"bitbadges.claims.complete": {"hang_seconds": 1.2}}
    connect(alice, "github", "octo")
    run_worker()
    completion = completion_of(claim, alice)
    assert completion.state == "retrying" and completion.outcome_unknown
    assert completion.delivery_reference == ""  # no attempt id ever came back

    wait_until_served(1.5)  # the sandbox finishes the request our client gave up on
    settings.SANDBOX_FAULTS = {}
    settings.BITBADGES_TIMEOUT = 5
    result = process_when_due(completion)
    assert result.state == "completed", result.reason
    assert result.reason == "Completed (confirmed with BitBadges after a lost answer)."
    assert result.delivery_reference == f"confirmed by BitBadges' attempts for {ALICE_BB}"
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_an_unrecognised_refusal_after_complete_is_verified_then_sent_once(
    demo_claims, alice, connect, settings
):
    claim = demo_claims["github-starter"]
    settings.SANDBOX_FAULTS = {
        "bitbadges.claims.complete": {"status": 500, "error_message": "Something brand new"}
    }
    connect(alice, "github", "octo")
    run_worker()
    completion = completion_of(claim, alice)
    assert completion.state == "retrying", completion.reason
    assert completion.outcome_unknown  # not "failed": BitBadges may have queued it
    failed = [e for e in events(completion) if e.to_state == "retrying"][-1]
    assert "Something brand new" in failed.details["error"]
    assert completion.next_attempt_at >= timezone.now() + datetime.timedelta(seconds=250)

    settings.SANDBOX_FAULTS = {}
    result = process_when_due(completion)
    assert result.state == "completed", result.reason
    verified = [e for e in events(result) if e.details.get("verified")]
    assert verified and verified[0].details["verified"] == "not delivered"
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_a_store_delivery_is_verified_in_the_store_only(demo_claims, alice, connect, settings):
    # The store claim also names a BitBadges claim; its attempts are not how a store
    # delivery is checked (a refusing attempts route must not matter here).
    claim = demo_claims["github-builders"]
    settings.BITBADGES_TIMEOUT = 0.5
    settings.SANDBOX_FAULTS = {"bitbadges.store.actions": {"hang_seconds": 1.2}}
    connect(alice, "github", "octo-pro")
    run_worker()
    completion = completion_of(claim, alice)
    assert completion.state == "retrying" and completion.outcome_unknown

    wait_until_served(1.5)  # the sandbox finishes the request our client gave up on
    settings.BITBADGES_TIMEOUT = 5
    settings.SANDBOX_FAULTS = {"bitbadges.claims.attempts": {"status": 500}}
    result = process_when_due(completion)
    assert result.state == "completed", result.reason
    assert "confirmed in the store" in result.reason
    assert bb_sandbox_stores.store_contains(claim.store_id, ALICE_ADDRESS)


def test_an_unverifiable_outcome_is_checked_again_never_failed_for_a_missing_route(
    apps, upstreams, alice, connect, settings
):
    # A claim that hides its state lists its attempts to its manager only: BitBadges
    # cannot tell us. The completion keeps checking; it is never read as "not sent".
    upstream = bb_sandbox_claims.claim_create(password="pw", hide_current_state=True)
    claim = _bitbadges_claim(apps, upstream)
    settings.BITBADGES_TIMEOUT = 0.5
    settings.SANDBOX_FAULTS = {"bitbadges.claims.complete": {"hang_seconds": 1.2}}
    settings.CLAIMS_MAX_ATTEMPTS = 3
    connect(alice, "github", "octo")
    run_worker()

    wait_until_served(1.5)  # the sandbox finishes the request our client gave up on
    settings.SANDBOX_FAULTS = {}
    settings.BITBADGES_TIMEOUT = 5
    completion = completion_of(claim, alice)
    second = process_when_due(completion)
    assert second.state == "retrying" and second.outcome_unknown
    assert second.reason == "We are checking with BitBadges whether this was delivered."
    last = process_when_due(second)
    assert last.state == "failed" and last.outcome_unknown
    assert bb_sandbox_attempts.complete_calls(upstream.claim_id) == 1  # never sent again by itself

    # The admin looks on BitBadges and retries: now "cannot tell" allows a resend.
    admin = get_user_model().objects.create_user("admin", is_staff=True)
    assert services.admin_retry(completion=last, admin=admin)
    final = process_when_due(completion_of(claim, alice))
    assert final.state == "completed", final.reason
    assert not final.resend_approved
    assert bb_sandbox_attempts.complete_calls(upstream.claim_id) == 2
    retried = [e for e in events(final) if e.details.get("verified")]
    assert "cannot tell" in retried[-1].details["note"]


# --- Refusals that are the admin's to fix -------------------------------------------------


def _bitbadges_claim(apps, upstream, *, password="pw", slug=None) -> Claim:
    claim = Claim(
        slug=slug or f"claim-{upstream.claim_id[:8]}",
        name="A BitBadges claim",
        delivery="bitbadges",
        bitbadges_claim_id=upstream.claim_id,
        password_instance_id=upstream.password_instance_id,
        enabled=True,
    )
    claim.set_password(password)
    claim.save()
    require(claim, apps["github"])
    return claim


@pytest.mark.parametrize("wording", ["docs", "idx-2024"])
def test_a_claim_that_needs_sign_in_fails_with_what_to_change(
    apps, upstreams, alice, connect, settings, wording
):
    settings.SANDBOX_BITBADGES_WORDING = wording
    upstream = bb_sandbox_claims.claim_create(password="pw", requires_sign_in=True)
    claim = _bitbadges_claim(apps, upstream)
    connect(alice, "github", "octo")
    run_worker()
    completion = completion_of(claim, alice)
    assert completion.state == "failed"
    assert "sign in" in completion.reason and "admins have been told" in completion.reason
    assert "BitBadges does not accept your address" not in completion.reason
    failed = [e for e in events(completion) if e.to_state == "failed"][-1]
    assert "turn off the claim's sign-in requirement" in failed.details["error"]
    assert bb_sandbox_attempts.complete_calls(upstream.claim_id) == 0


def test_a_wrong_store_secret_fails_at_once_with_a_sentence_for_the_admin(
    apps, upstreams, alice, connect
):
    store = bb_sandbox_stores.store_create(secret="the-right-secret")
    claim = Claim(
        slug="store-claim",
        name="Store claim",
        delivery="dynamic_store",
        store_id=store.dynamic_data_id,
        enabled=True,
    )
    claim.set_store_secret("a-wrong-secret")
    claim.save()
    require(claim, apps["github"])
    connect(alice, "github", "octo")
    run_worker()
    completion = completion_of(claim, alice)
    assert completion.state == "failed"
    assert completion.attempts == 1  # not retried six times
    assert completion.reason == (
        "This claim's settings need attention; the site's admins have been told."
    )
    failed = [e for e in events(completion) if e.to_state == "failed"][-1]
    assert "Invalid data secret" in failed.details["error"]
    assert "store secret" in failed.details["error"]
    assert "a-wrong-secret" not in str(failed.details)
    assert not bb_sandbox_stores.store_contains(store.dynamic_data_id, ALICE_ADDRESS)


def test_addresses_reach_the_store_as_bb1(demo_claims, alice, connect):
    claim = demo_claims["github-builders"]
    assert alice.address.startswith("0x")
    connect(alice, "github", "octo-pro")
    run_worker()
    completion = completion_of(claim, alice)
    assert completion.state == "completed", completion.reason
    assert completion.address == ALICE_BB
    entries = BitBadgesStoreEntry.objects.filter(store__dynamic_data_id=claim.store_id)
    assert list(entries.values_list("address", flat=True)) == [ALICE_BB]


# --- Workflows that say nothing ---------------------------------------------------------------


def _workflow_claim(demo_claims, upstreams, endpoint: str, *, claim_id=True) -> Claim:
    claim = demo_claims["github-workflow"]
    claim.workflow_url = f"{upstreams.url}/sandbox/pipedream/workflows/{endpoint}/"
    if not claim_id:
        claim.bitbadges_claim_id = ""
    claim.save()
    return claim


@pytest.mark.parametrize(
    "endpoint", ["en-sandbox-claim-github-default", "en-sandbox-claim-github-default-json"]
)
def test_pipedreams_default_response_leaves_the_outcome_unknown_until_bitbadges_confirms(
    demo_claims, alice, connect, upstreams, endpoint
):
    claim = _workflow_claim(demo_claims, upstreams, endpoint)
    connect(alice, "github", "octo")
    run_worker()
    completion = completion_of(claim, alice)
    assert completion.state == "retrying" and completion.outcome_unknown
    assert completion.reason == "We are checking with BitBadges whether this was delivered."
    assert "To customize this response" in completion.delivery_reference
    unknown = [e for e in events(completion) if e.to_state == "retrying"][-1]
    assert "Pipedream's default response" in unknown.details["error"]

    result = process_when_due(completion)
    assert result.state == "completed", result.reason
    assert result.reason == "Completed (confirmed with BitBadges after a lost answer)."
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_a_workflow_that_threw_before_responding_is_never_resent_by_itself(
    demo_claims, alice, connect, upstreams, settings
):
    # BitBadges' own Pipedream action throws one sentence whatever went wrong, so a
    # custom-response workflow answers 400 "No $.respond called in workflow": that says
    # nothing of the outcome. Here the claim is exhausted, so nothing lands.
    claim = _workflow_claim(demo_claims, upstreams, "en-sandbox-claim-github-action")
    upstream = BitBadgesClaim.objects.get(claim_id=claim.bitbadges_claim_id)
    upstream.max_uses = upstream.num_uses
    upstream.save()
    settings.CLAIMS_MAX_ATTEMPTS = 2
    connect(alice, "github", "octo")
    run_worker()
    completion = completion_of(claim, alice)
    assert completion.state == "retrying" and completion.outcome_unknown
    assert "No $.respond called in workflow" in completion.delivery_reference

    last = process_when_due(completion)
    assert last.state == "failed" and last.outcome_unknown
    assert last.reason == (
        "We gave up after 2 tries without confirming whether this was delivered; the site's "
        "admins will check."
    )
    assert (
        bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1
    )  # once, by the workflow

    # An admin reads why, makes room on BitBadges, and retries: the workflow runs again.
    upstream.max_uses = upstream.num_uses + 1
    upstream.save()
    admin = get_user_model().objects.create_user("admin", is_staff=True)
    assert services.admin_retry(completion=last, admin=admin)
    final = process_when_due(completion_of(claim, alice))
    assert final.state == "completed", final.reason
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_a_default_response_without_a_claim_id_is_left_to_an_admin(
    demo_claims, alice, connect, upstreams
):
    claim = _workflow_claim(
        demo_claims, upstreams, "en-sandbox-claim-github-default", claim_id=False
    )
    connect(alice, "github", "octo")
    run_worker()
    completion = completion_of(claim, alice)
    assert completion.state == "retrying" and completion.outcome_unknown
    result = process_when_due(completion)
    assert result.state == "failed" and result.outcome_unknown
    assert result.reason == (
        "We could not confirm whether this was delivered; the site's admins will check."
    )
    failed = [e for e in events(result) if e.to_state == "failed"][-1]
    assert "no BitBadges claim ID" in failed.details["error"]

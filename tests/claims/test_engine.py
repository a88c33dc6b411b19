"""The claims engine end to end: both sandboxes over real HTTP, the real task worker.

Nothing is faked: alice's account is created in the Pipedream sandbox and recorded by
the app's own service; account_connected queues the evaluation; `db_worker` runs it;
the BitBadges client talks HTTP to the BitBadges sandbox, whose counters say what was
really completed.
"""

import threading

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from claims import services
from claims.audit import Actor
from claims.engine import ledger
from claims.models import Claim, Completion, CompletionEvent
from core.addresses import to_bitbadges_address
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.bitbadges import stores as bb_sandbox_stores
from tests.claims.claims_support import ALICE_ADDRESS, random_address, require, run_worker
from tests.live_support import wait_until_served
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)


def completion_of(claim, member) -> Completion:
    return Completion.objects.get(claim=claim, member=member)


def transitions(completion) -> list[tuple[str, str]]:
    return [
        (event.from_state, event.to_state)
        for event in CompletionEvent.objects.filter(completion=completion).order_by("at", "pk")
    ]


# --- Each delivery method, after alice connects the app -------------------------------


def test_bitbadges_claim_completes_after_connecting_github(demo_claims, alice, connect):
    claim = demo_claims["github-starter"]
    connect(alice, "github", "octo")
    run_worker()

    completion = completion_of(claim, alice)
    assert completion.state == "completed", completion.reason
    assert completion.address == to_bitbadges_address(ALICE_ADDRESS)  # as BitBadges keeps it
    assert len(completion.delivery_reference) == 64  # BitBadges' claim attempt id
    assert completion.completed_at is not None
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1
    assert {rule["rule"]: rule["passed"] for rule in completion.evidence} == {
        "app:github": True,
        "healthy:github": True,
        "address": True,
        "email": True,
    }
    path = transitions(completion)
    assert path[0] == ("", "waiting")
    assert ("waiting", "checking") in path and ("checking", "delivering") in path
    assert path[-1] == ("delivering", "completed")
    actors = {
        event.actor_display() for event in CompletionEvent.objects.filter(completion=completion)
    }
    assert "signal: account connected" in actors and "worker" in actors


def check_of(completion: Completion) -> dict:
    """The evidence of the claim's only check (its requirement's rule)."""
    [check] = [r for r in completion.claim.requirements.all() if r.runs_check]
    return next(rule for rule in completion.evidence if rule["rule"] == check.rule_key)


def test_dynamic_store_claim_completes_when_the_criterion_holds(demo_claims, alice, connect):
    claim = demo_claims["github-builders"]
    connect(alice, "github", "octo-pro")  # "pro" sandbox accounts have 25+ public repos
    run_worker()

    completion = completion_of(claim, alice)
    assert completion.state == "completed", completion.reason
    assert bb_sandbox_stores.store_contains(claim.store_id, ALICE_ADDRESS)
    criterion = check_of(completion)
    assert criterion["passed"] is True and int(criterion["value"]) >= 25
    assert completion.upstream_identity == "github:octo-pro"


def test_workflow_claim_completes_through_the_workflow(demo_claims, alice, connect):
    claim = demo_claims["github-workflow"]
    connect(alice, "github", "octo-pro")
    run_worker()

    completion = completion_of(claim, alice)
    assert completion.state == "completed", completion.reason
    assert '"success": true' in completion.delivery_reference
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_a_failing_criterion_leaves_the_claim_ineligible_with_the_value_seen(
    demo_claims, alice, connect
):
    claim = demo_claims["github-builders"]
    connect(alice, "github", "octo")  # a new account: 0 to 3 public repos
    run_worker()

    completion = completion_of(claim, alice)
    assert completion.state == "ineligible"
    criterion = check_of(completion)
    assert criterion["passed"] is False and int(criterion["value"]) < 5
    assert completion.reason == (
        f"Have at least 5 public repositories: you have {criterion['value']}."
    )
    assert not bb_sandbox_stores.store_contains(claim.store_id, ALICE_ADDRESS)


@pytest.mark.parametrize(
    ("address", "reason_start"),
    [
        ("", "Add your BitBadges address"),
        ("0x742d35cC6634c0532925A3b844bc9E7595F0BEB1", "Your BitBadges address is not valid"),
        ("bb1notanaddress", "Your BitBadges address is not valid"),
    ],
)
def test_a_missing_or_invalid_address_is_caught_before_any_call_to_bitbadges(
    demo_claims, alice, connect, address, reason_start
):
    # An address stored before validation existed, or edited behind the form's back.
    type(alice).objects.filter(pk=alice.pk).update(address=address)
    alice.refresh_from_db()
    claim = demo_claims["github-starter"]
    connect(alice, "github", "octo")
    run_worker()

    completion = completion_of(claim, alice)
    assert completion.state == "ineligible"
    assert completion.reason.startswith(reason_start)
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 0


def test_a_disabled_claim_or_another_app_queues_nothing(demo_claims, alice, connect):
    Claim.objects.filter(slug="github-starter").update(enabled=False)
    connect(alice, "discord", "octo")
    connect(alice, "github", "octo")
    run_worker()
    assert not Completion.objects.filter(claim__slug="github-starter").exists()
    assert set(Completion.objects.values_list("claim__slug", flat=True)) == {
        "github-builders",
        "github-workflow",
    }


# --- One upstream identity, one completion -------------------------------------------------


def test_one_github_identity_completes_a_claim_once_whoever_connected_it(
    demo_claims, alice, connect, django_user_model
):
    claim = demo_claims["github-builders"]
    bob = verify_email(
        django_user_model.objects.create_user(
            username="bob", password="connect-demo", address=random_address()
        )
    )
    connect(alice, "github", "octo-pro")
    run_worker()
    connect(bob, "github", "octo-pro")  # the same GitHub login, through another member
    run_worker()

    assert completion_of(claim, alice).state == "completed"
    second = completion_of(claim, bob)
    assert second.state == "ineligible"
    assert "already earned this claim for another member" in second.reason
    assert not bb_sandbox_stores.store_contains(claim.store_id, bob.address)


# --- Exactly once ---------------------------------------------------------------------------


def test_twenty_threads_on_one_completion_deliver_once(demo_claims, alice, connect, settings):
    claim = demo_claims["github-starter"]
    for other in Claim.objects.exclude(pk=claim.pk):
        other.enabled = False
        other.save()
    connect(alice, "github", "octo")  # queued, not yet run
    completion = completion_of(claim, alice)
    assert completion.state == "waiting"

    barrier = threading.Barrier(20)
    errors = []

    def work():
        try:
            barrier.wait(timeout=10)
            services.completion_process(completion.pk, actor=Actor.system("thread"))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors, errors
    completion.refresh_from_db()
    assert completion.state == "completed"
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id) == 1
    assert transitions(completion).count(("checking", "delivering")) == 1
    run_worker()  # the queued task finds nothing to do
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1


class WorkerDied(BaseException):
    """Stands for the process being killed: no handler in the engine catches it."""


@pytest.mark.parametrize("dies_in", ["_record_reference", "wait_for_attempt"])
def test_a_worker_dying_after_complete_does_not_complete_twice(
    demo_claims, alice, connect, monkeypatch, dies_in
):
    claim = demo_claims["github-starter"]
    connect(alice, "github", "octo")
    completion = completion_of(claim, alice)

    if dies_in == "_record_reference":  # before the attempt id is written down

        def die(*args, **kwargs):
            raise WorkerDied

        monkeypatch.setattr(ledger, "record_reference", die)
    else:  # the attempt id is recorded, the answer never read
        from claims import bitbadges

        def die(self, *args, **kwargs):
            raise WorkerDied

        monkeypatch.setattr(bitbadges.BitBadgesClient, "wait_for_attempt", die)
    with pytest.raises(WorkerDied):
        services.completion_process(completion.pk)
    monkeypatch.undo()
    completion.refresh_from_db()
    assert completion.state == "delivering"
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1

    # Before the lease runs out, nobody touches it.
    assert services.completion_process(completion.pk).state == "delivering"
    # After it, the next run asks BitBadges before sending anything.
    later = timezone.now() + services.lease_duration() + timezone.timedelta(seconds=1)
    with time_machine.travel(later, tick=True):
        result = services.completion_process(completion.pk)
    assert result.state == "completed", result.reason
    assert "confirmed with BitBadges" in result.reason
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_a_request_arriving_after_a_worker_died_mid_delivery_does_not_resend(
    demo_claims, alice, connect, monkeypatch
):
    claim = demo_claims["github-starter"]
    connect(alice, "github", "octo")
    completion = completion_of(claim, alice)

    def die(*args, **kwargs):
        raise WorkerDied

    monkeypatch.setattr(ledger, "record_reference", die)
    with pytest.raises(WorkerDied):
        services.completion_process(completion.pk)
    monkeypatch.undo()

    later = timezone.now() + services.lease_duration() + timezone.timedelta(seconds=1)
    with time_machine.travel(later, tick=True):
        # The member presses "Check again" (or an account signal arrives) first.
        services.completion_request(
            claim=claim, member=alice, actor=Actor.member(alice), force=True
        )
        assert completion_of(claim, alice).state == "delivering"
        run_worker()
    result = completion_of(claim, alice)
    assert result.state == "completed", result.reason
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1


def test_a_worker_that_lost_its_lease_sends_nothing(demo_claims, alice, connect, monkeypatch):
    import uuid

    from claims import bitbadges

    claim = demo_claims["github-starter"]
    connect(alice, "github", "octo")
    completion = completion_of(claim, alice)
    real_simulate = bitbadges.BitBadgesClient.simulate

    def slow_simulate(self, *args, **kwargs):
        # While this worker waits on BitBadges, its lease runs out and another takes over.
        attempt = real_simulate(self, *args, **kwargs)
        Completion.objects.filter(pk=completion.pk).update(lease_token=uuid.uuid4())
        return attempt

    monkeypatch.setattr(bitbadges.BitBadgesClient, "simulate", slow_simulate)
    services.completion_process(completion.pk)

    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 0
    # Its lease was lost during the simulation, before the delivering move: that move,
    # fenced on the lease, is not made; the row is the new holder's to finish.
    assert completion_of(claim, alice).state == "checking"


# --- Transient and permanent failures ---------------------------------------------------------


def test_a_failing_bitbadges_is_retried_with_backoff_then_completes(
    demo_claims, alice, connect, settings
):
    claim = demo_claims["github-starter"]
    settings.CLAIMS_RETRY_BASE = settings.CLAIMS_RETRY_MAX = 600  # not due again in this run
    settings.SANDBOX_FAULTS = {"bitbadges.claims.complete": {"status": 503}}
    connect(alice, "github", "octo")
    run_worker()

    completion = completion_of(claim, alice)
    assert completion.state == "retrying"
    assert completion.attempts == 1
    assert "not answering" in completion.reason
    assert completion.next_attempt_at > timezone.now()
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 0

    settings.SANDBOX_FAULTS = {}
    with time_machine.travel(completion.next_attempt_at + timezone.timedelta(seconds=1), tick=True):
        result = services.completion_process(completion.pk)
    assert result.state == "completed", result.reason
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_a_timeout_during_complete_is_checked_before_sending_again(
    demo_claims, alice, connect, settings
):
    claim = demo_claims["github-starter"]
    settings.BITBADGES_TIMEOUT = 0.5
    settings.SANDBOX_FAULTS = {"bitbadges.claims.complete": {"hang_seconds": 1.2}}
    connect(alice, "github", "octo")
    run_worker()

    completion = completion_of(claim, alice)
    assert completion.state == "retrying" and completion.outcome_unknown
    assert completion.next_attempt_at >= timezone.now() + timezone.timedelta(seconds=50)
    wait_until_served(1.5)  # the sandbox finishes serving the request our client gave up on
    settings.SANDBOX_FAULTS = {}
    settings.BITBADGES_TIMEOUT = 5
    with time_machine.travel(completion.next_attempt_at + timezone.timedelta(seconds=2), tick=True):
        result = services.completion_process(completion.pk)
    assert result.state == "completed", result.reason
    # The hung request did complete upstream; the retry saw that and sent nothing.
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_giving_up_after_the_last_attempt_says_why(demo_claims, alice, connect, settings):
    claim = demo_claims["github-starter"]
    settings.CLAIMS_RETRY_BASE = settings.CLAIMS_RETRY_MAX = 600  # not due again in this run
    settings.SANDBOX_FAULTS = {"bitbadges.claims.simulate": {"status": 500}}
    settings.CLAIMS_MAX_ATTEMPTS = 2
    connect(alice, "github", "octo")
    run_worker()
    completion = completion_of(claim, alice)
    with time_machine.travel(completion.next_attempt_at + timezone.timedelta(seconds=1), tick=True):
        result = services.completion_process(completion.pk)
    assert result.state == "failed"
    assert result.reason.startswith("We gave up after 2 tries")
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 0


def bitbadges_claim(apps, *, max_uses: int, upstream_password: str, password: str) -> Claim:
    """A claim of ours on a fresh sandbox claim, needing only GitHub."""
    upstream = bb_sandbox_claims.claim_create(max_uses=max_uses, password=upstream_password)
    claim = Claim(
        slug=f"claim-{upstream.claim_id[:8]}",
        name="A BitBadges claim",
        delivery="bitbadges",
        bitbadges_claim_id=upstream.claim_id,
        password_instance_id="pwd",
        enabled=True,
    )
    claim.set_password(password)
    claim.save()
    require(claim, apps["github"])
    return claim


def test_a_used_up_claim_fails_with_a_reason_and_is_not_retried(apps, upstreams, alice, connect):
    claim = bitbadges_claim(apps, max_uses=0, upstream_password="pw", password="pw")
    connect(alice, "github", "octo")
    run_worker()

    completion = completion_of(claim, alice)
    assert completion.state == "failed"
    assert completion.reason == "All of this claim's badges have been given out."
    assert completion.next_attempt_at is None


def test_a_wrong_password_is_an_admin_problem_not_the_members(apps, upstreams, alice, connect):
    claim = bitbadges_claim(apps, max_uses=10, upstream_password="right", password="wrong")
    connect(alice, "github", "octo")
    run_worker()

    completion = completion_of(claim, alice)
    assert completion.state == "failed"
    assert "admins have been told" in completion.reason
    event = CompletionEvent.objects.filter(completion=completion, to_state="failed").get()
    assert "Incorrect password" in event.details["error"]


def test_an_unhealthy_account_pauses_the_claim_and_recovery_resumes_it(
    demo_claims, alice, connect, settings
):
    from connections import services as connections_services
    from sandbox.pipedream import services as pd_sandbox
    from sandbox.pipedream.models import Account

    claim = demo_claims["github-starter"]
    settings.CLAIMS_RETRY_BASE = settings.CLAIMS_RETRY_MAX = 600  # not due again in this run
    settings.SANDBOX_FAULTS = {"bitbadges.claims.simulate": {"status": 503}}
    account = connect(alice, "github", "octo")
    run_worker()
    upstream = Account.objects.get(account_id=account.pipedream_id)
    pd_sandbox.account_set_health(upstream, state="unhealthy")
    connections_services.accounts_sync(member=alice)  # sends account_health_changed
    settings.SANDBOX_FAULTS = {}
    completion = completion_of(claim, alice)
    with time_machine.travel(completion.next_attempt_at + timezone.timedelta(seconds=1), tick=True):
        services.completion_process(completion.pk)
    completion.refresh_from_db()
    assert completion.state == "ineligible"
    assert completion.reason.startswith("Your GitHub account needs reconnecting")

    pd_sandbox.account_set_health(upstream, state="healthy")
    connections_services.accounts_sync(member=alice)
    run_worker()
    completion.refresh_from_db()
    assert completion.state == "completed", completion.reason

"""With both sandboxes failing at random, every completion still settles, once.

5xx, 429 and hangs are injected on BitBadges and on the Pipedream calls claims make
(actions, workflows). `complete_claims` is run round after round, with the clock
moved past every retry's time, until nothing is left in progress. Then each
completion is completed, or failed with a reason a member can read, and BitBadges
holds no second completion for anyone.
"""

import datetime
import io
from collections import Counter

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from claims.models import Completion, CompletionEvent
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import stores as bb_sandbox_stores
from tests.claims.claims_support import random_address
from tests.live_support import wait_until_served
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = 4
ROUNDS = 15
HANG = 1.0  # seconds a hung request takes; the client gives up after 0.6


def test_random_faults_end_completed_or_failed_never_twice(
    demo_claims, connect, django_user_model, settings
):
    settings.CLAIMS_MAX_ATTEMPTS = 8
    settings.BITBADGES_TIMEOUT = 0.6
    settings.PIPEDREAM_TIMEOUT = 2
    members = []
    for number in range(MEMBERS):
        member = verify_email(
            django_user_model.objects.create_user(
                username=f"member{number}", password="connect-demo", address=random_address()
            )
        )
        connect(member, "github", f"member{number}-pro")
        members.append(member)
    assert Completion.objects.count() == MEMBERS * len(demo_claims)

    settings.SANDBOX_FAULTS = {
        "bitbadges.*": {"status": 503, "rate": 0.2},
        "bitbadges.claims.*": {"status": 429, "rate": 0.1, "retry_after": 1},
        "bitbadges.claims.complete": {"hang_seconds": HANG, "rate": 0.15},
        "bitbadges.store.*": {"status": 500, "rate": 0.2},
        "pipedream.actions.run": {"status": 502, "rate": 0.25},
        "pipedream.workflows.invoke": {"status": 503, "rate": 0.25},
    }
    random_faults = dict(settings.SANDBOX_FAULTS)
    # The first round, every `complete` hangs past the client's timeout (and then
    # completes upstream): each starter claim is left with an unknown outcome.
    settings.SANDBOX_FAULTS = {**random_faults, "bitbadges.claims.complete": {"hang_seconds": HANG}}
    now = timezone.now()
    for round_number in range(ROUNDS):
        now += datetime.timedelta(hours=2)  # past every backoff and lease
        with time_machine.travel(now, tick=True):
            call_command("complete_claims", stdout=io.StringIO())
        # A hung request our client gave up on is still being served; in real time the
        # retry waits at least a minute (UNKNOWN_OUTCOME_WAIT), here the clock jumps, so
        # let the server finish before the next round asks BitBadges what happened.
        wait_until_served(HANG + 0.3)
        if round_number == 0:
            starters = Completion.objects.filter(claim=demo_claims["github-starter"])
            assert set(starters.values_list("state", flat=True)) == {"retrying"}
            settings.SANDBOX_FAULTS = random_faults
        if not Completion.objects.filter(state__in=Completion.IN_PROGRESS).exists():
            break
    else:
        pytest.fail(f"Still in progress after {ROUNDS} rounds")
    settings.SANDBOX_FAULTS = {}

    states = Counter(Completion.objects.values_list("state", flat=True))
    assert set(states) <= {"completed", "failed"}, states
    for completion in Completion.objects.filter(state="failed"):
        assert completion.reason, completion
    assert states.get("completed", 0) > 0
    # The faults did bite: completions went through retries and unknown outcomes.
    assert CompletionEvent.objects.filter(to_state="retrying").count() >= MEMBERS

    with time_machine.travel(now + datetime.timedelta(minutes=5), tick=True):
        for member in members:
            for slug in ("github-starter", "github-workflow"):
                claim = demo_claims[slug]
                count = bb_sandbox_attempts.completions(claim.bitbadges_claim_id, member.address)
                completion = Completion.objects.get(claim=claim, member=member)
                assert count <= 1, (slug, member.username, count)
                if completion.state == "completed":
                    assert count == 1, (slug, member.username)
            builders = Completion.objects.get(claim=demo_claims["github-builders"], member=member)
            in_store = bb_sandbox_stores.store_contains(
                demo_claims["github-builders"].store_id, member.address
            )
            if builders.state == "completed":
                assert in_store

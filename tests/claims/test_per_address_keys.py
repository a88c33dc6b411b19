"""One completion per address: only a completion that may have sent something holds the
address (and its upstream identity); one that waits or stops with nothing sent gives it
back, and the members it was refused to are checked again.

The BitBadges and Pipedream sandboxes over real HTTP and the real task worker: their
counters say what was really delivered; the ledger says the rest.
"""

import pytest
import time_machine
from allauth.socialaccount.models import SocialAccount
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from claims import services
from claims.models import Claim, Completion, CompletionEvent
from connections.models import ConnectedAccount
from core.addresses import normalize_address, to_bitbadges_address
from members import scrub
from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import stores as bb_stores
from tests.claims.claims_support import ALICE_ADDRESS, run_worker
from tests.members_support import reauthenticate, verify_email

pytestmark = pytest.mark.django_db(transaction=True)

ALICE_BB1 = to_bitbadges_address(ALICE_ADDRESS)
CLAIMED = "Already claimed for this address."
OTHER_BB1 = to_bitbadges_address("0x" + "5" * 40)


@pytest.fixture
def starter(demo_claims, settings):
    """The GitHub starter claim (completed on BitBadges), one per address, alone; a retry
    is not due again within a test unless the test travels to it."""
    settings.CLAIMS_RETRY_BASE = settings.CLAIMS_RETRY_MAX = 600
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    claim.one_completion_per_address = True
    claim.save()
    return claim


def member(django_user_model, name, address=ALICE_BB1):
    user = django_user_model.objects.create_user(
        username=name, email=f"{name}@example.com", password="connect-demo", address=address
    )
    return verify_email(user)


def row_of(claim, user) -> Completion:
    return Completion.objects.get(claim=claim, member=user)


def at_its_time(row: Completion):
    """The clock when `row`'s retry is due (and after: what it queues is due then too)."""
    return time_machine.travel(row.next_attempt_at + timezone.timedelta(seconds=2), tick=True)


def run_at_its_time(row: Completion) -> Completion:
    """The worker takes `row` when its retry is due."""
    with at_its_time(row):
        services.completion_process(row.pk)
    row.refresh_from_db()
    return row


def test_a_retry_with_nothing_sent_gives_the_address_back(
    starter, django_user_model, connect, settings
):
    # Ann's delivery meets a BitBadges outage before anything is sent: it will retry.
    settings.SANDBOX_FAULTS = {"bitbadges.claims.simulate": {"status": 503}}
    ann = member(django_user_model, "ann")
    connect(ann, "github", "ann-gh")
    run_worker()
    retrying = row_of(starter, ann)
    assert (retrying.state, retrying.outcome_unknown) == ("retrying", False)
    assert retrying.address_key == ""

    # Her GitHub account goes; at its time her row finds her not eligible any more.
    settings.SANDBOX_FAULTS = {}
    ConnectedAccount.objects.filter(member=ann).delete()
    stopped = run_at_its_time(retrying)
    assert (stopped.state, stopped.reason) == ("ineligible", "Connect your GitHub account.")
    assert stopped.address_key == ""

    # Ben owns the address and qualifies: nothing ever went to it, so it is his.
    ben = member(django_user_model, "ben")
    connect(ben, "github", "ben-gh")
    run_worker()
    done = row_of(starter, ben)
    assert (done.state, done.address_key) == ("completed", ALICE_BB1), done.reason
    assert bb_attempts.completions(starter.bitbadges_claim_id) == 1


def test_an_unknown_outcome_found_not_delivered_frees_the_address_for_the_refused(
    starter, django_user_model, connect, settings
):
    # Ann's complete call gets no clear answer: it may have landed, so she holds the address.
    settings.SANDBOX_FAULTS = {"bitbadges.claims.complete": {"status": 503}}
    ann = member(django_user_model, "ann")
    connect(ann, "github", "ann-gh")
    run_worker()
    unknown = row_of(starter, ann)
    assert (unknown.state, unknown.outcome_unknown) == ("retrying", True)
    assert unknown.address_key == ALICE_BB1

    # Meanwhile Ben, same address, is refused: right, while it may have landed.
    ben = member(django_user_model, "ben")
    connect(ben, "github", "ben-gh")
    run_worker()
    assert row_of(starter, ben).reason == CLAIMED

    # BitBadges shows nothing landed, and Ann no longer qualifies: she lets the address go.
    settings.SANDBOX_FAULTS = {}
    ConnectedAccount.objects.filter(member=ann).delete()
    with at_its_time(unknown):
        services.completion_process(unknown.pk)
        stopped = row_of(starter, ann)
        assert (stopped.state, stopped.outcome_unknown, stopped.address_key) == (
            "ineligible",
            False,
            "",
        )

        # Ben is asked again by itself (he pressed nothing), and completes.
        asked = row_of(starter, ben)
        assert asked.state == "waiting"
        event = asked.events.latest("pk")
        assert (event.actor_kind, event.details) == ("system", {"address_free": ALICE_BB1})
        run_worker()
    done = row_of(starter, ben)
    assert (done.state, done.address_key) == ("completed", ALICE_BB1), done.reason
    assert bb_attempts.completions(starter.bitbadges_claim_id) == 1
    assert bb_attempts.complete_calls(starter.bitbadges_claim_id) == 1


def test_an_unknown_outcome_found_not_delivered_frees_the_upstream_identity(
    demo_claims, django_user_model, connect, settings
):
    """The same for the upstream identity (github:octo-pro): Ann's store add got no answer,
    the store shows nothing, she no longer qualifies; Ben's account of the same GitHub
    login completes instead of reading that it earned the claim already."""
    claim = demo_claims["github-builders"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    settings.CLAIMS_RETRY_BASE = settings.CLAIMS_RETRY_MAX = 600
    settings.SANDBOX_FAULTS = {"bitbadges.store.actions": {"status": 503}}
    ann = member(django_user_model, "ann")
    connect(ann, "github", "octo-pro")
    run_worker()
    unknown = row_of(claim, ann)
    assert (unknown.state, unknown.outcome_unknown) == ("retrying", True)
    assert unknown.upstream_identity == "github:octo-pro"

    settings.SANDBOX_FAULTS = {}
    ConnectedAccount.objects.filter(member=ann).delete()
    stopped = run_at_its_time(unknown)
    assert (stopped.state, stopped.upstream_identity) == ("ineligible", "")

    ben = member(django_user_model, "ben", to_bitbadges_address("0x" + "2" * 40))
    connect(ben, "github", "octo-pro")
    run_worker()
    done = row_of(claim, ben)
    assert (done.state, done.upstream_identity) == ("completed", "github:octo-pro"), done.reason
    assert not bb_stores.store_contains(claim.store_id, ALICE_ADDRESS)


def _a_row_left_holding(claim, user, state="retrying"):
    """A row as the engine left them before this fix: waiting on a retry (or stopped),
    nothing sent, still holding the address."""
    Completion.objects.filter(claim=claim, member=user).update(
        state=state, address_key=ALICE_BB1, outcome_unknown=False
    )
    return row_of(claim, user)


def test_a_member_who_deletes_their_account_gives_back_what_sent_nothing(
    starter, django_user_model, connect, client, settings
):
    settings.SANDBOX_FAULTS = {"bitbadges.claims.simulate": {"status": 503}}
    ann = member(django_user_model, "ann")
    connect(ann, "github", "ann-gh")
    run_worker()
    settings.SANDBOX_FAULTS = {}
    left = _a_row_left_holding(starter, ann)
    ben = member(django_user_model, "ben")
    connect(ben, "github", "ben-gh")
    run_worker()
    assert row_of(starter, ben).reason == CLAIMED

    client.force_login(ann)
    reauthenticate(client)
    assert client.post("/profile/delete/", {"confirm": "ann"}).status_code == 302

    left.refresh_from_db()
    assert (left.member_id, left.address, left.address_key) == (None, "", "")
    assert row_of(starter, ben).state == "waiting"  # asked again by itself
    run_worker()
    assert row_of(starter, ben).state == "completed"


def test_a_deleted_members_delivery_keeps_its_address_and_identity(
    demo_claims, django_user_model, connect, client
):
    """Kept on purpose: a new account of the same person cannot claim that address (or
    that GitHub account) again."""
    claim = demo_claims["github-builders"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    claim.one_completion_per_address = True
    claim.save()
    ann = member(django_user_model, "ann", normalize_address(ALICE_ADDRESS))  # 0x
    # An earlier BitBadges login of hers, at another address, is named nowhere after.
    SocialAccount.objects.create(
        user=ann, provider="bitbadges", uid=OTHER_BB1, extra_data={"address": OTHER_BB1}
    )
    assert OTHER_BB1 in scrub.personal_strings(ann) and ALICE_BB1 in scrub.personal_strings(ann)
    connect(ann, "github", "octo-pro")
    run_worker()
    client.force_login(ann)
    reauthenticate(client)
    assert client.post("/profile/delete/", {"confirm": "ann"}).status_code == 302

    kept = Completion.objects.get(claim=claim)
    assert (kept.state, kept.address, kept.address_key, kept.upstream_identity) == (
        "completed",
        "",
        ALICE_BB1,
        "github:octo-pro",
    )
    # The events no longer name the address in either spelling.
    for event in CompletionEvent.objects.filter(completion=kept):
        text = str(event.details).lower()
        assert ALICE_BB1 not in text and ALICE_ADDRESS.lower() not in text


def test_a_deactivated_members_held_row_gives_the_address_back(
    starter, django_user_model, connect, settings
):
    settings.SANDBOX_FAULTS = {"bitbadges.claims.simulate": {"status": 503}}
    ann = member(django_user_model, "ann")
    connect(ann, "github", "ann-gh")
    run_worker()
    settings.SANDBOX_FAULTS = {}
    left = _a_row_left_holding(starter, ann)
    ann.is_active = False
    ann.save()
    left = run_at_its_time(left)
    assert (left.state, left.address_key) == ("ineligible", "")
    assert left.reason.startswith("Held:")

    ben = member(django_user_model, "ben")
    connect(ben, "github", "ben-gh")
    run_worker()
    assert row_of(starter, ben).state == "completed"


# --- The data migration (claims 0024): rows left holding before the fix ------------------

BEFORE = [("claims", "0023_address_rules")]


def test_the_migration_gives_back_what_rows_that_sent_nothing_hold(
    starter, django_user_model, connect
):
    ann, ben, cat, dan = (member(django_user_model, name) for name in ("ann", "ben", "cat", "dan"))
    other = Claim.objects.get(slug="github-builders")
    Claim.objects.filter(pk=other.pk).update(enabled=True, one_completion_per_address=True)
    connect(ann, "github", "ann-gh")
    connect(dan, "github", "octo-pro")
    run_worker()
    assert row_of(starter, ann).state == "completed"
    delivered = row_of(other, dan)
    assert delivered.state == "completed", delivered.reason
    # Kept: an unknown outcome (it may have landed), and a delivered row now re-issued.
    Completion.objects.filter(pk=row_of(starter, ann).pk).update(
        state="failed", outcome_unknown=True
    )
    Completion.objects.filter(pk=delivered.pk).update(state="waiting", staff_granted=True)
    # Given back: a retrying row, a not eligible one (with its identity), on another claim.
    stale = Completion.objects.create(
        claim=other,
        member=ben,
        state="ineligible",
        address_key=to_bitbadges_address("0x" + "3" * 40),
        upstream_identity="github:ben-gh",
    )
    retrying = Completion.objects.create(
        claim=other,
        member=cat,
        state="retrying",
        address_key=to_bitbadges_address("0x" + "4" * 40),
        upstream_identity="github:cat-gh",
        staff_granted=True,  # a grant keeps the identity it is delivered with
    )
    # A member refused the address of the retrying row, and one refused Ann's.
    eve = member(django_user_model, "eve", "0x" + "4" * 40)
    fay = member(django_user_model, "fay")
    refused = [
        Completion.objects.create(claim=other, member=eve, state="ineligible", reason=CLAIMED),
        Completion.objects.create(claim=starter, member=fay, state="ineligible", reason=CLAIMED),
    ]

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    def fields(row):
        row.refresh_from_db()
        return row.state, row.address_key, row.upstream_identity

    assert fields(row_of(starter, ann)) == ("failed", ALICE_BB1, "")
    assert fields(delivered) == ("waiting", ALICE_BB1, "github:octo-pro")
    assert fields(stale) == ("ineligible", "", "")
    assert fields(retrying) == ("retrying", "", "github:cat-gh")
    assert [fields(row)[0] for row in refused] == ["waiting", "ineligible"]
    assert refused[0].reason == "Queued for a check."

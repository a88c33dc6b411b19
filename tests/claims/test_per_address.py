"""One completion per address (issue 22): however many site accounts use a BitBadges
address, typed or proven, a one-per-address claim completes once for it.

The BitBadges sandbox over real HTTP and the real task worker: its counters say what was
really completed; the member's page and the ledger say the rest.
"""

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from claims import services
from claims.audit import Actor
from claims.engine import staff_actions
from claims.engine.dry_run import ADDRESS_HELD_WORDS, claim_dry_run
from claims.models import Claim, Completion
from core.addresses import normalize_address, to_bitbadges_address
from sandbox.bitbadges import attempts as bb_attempts
from tests.claims.claims_support import ALICE_ADDRESS, run_worker
from tests.core.exports_support import as_dicts, export_action, read_csv, staff
from tests.members_support import verify_email
from users.siwbb import proof

pytestmark = pytest.mark.django_db(transaction=True)

ALICE_BB1 = to_bitbadges_address(ALICE_ADDRESS)
CLAIMED = "Already claimed for this address."


@pytest.fixture
def starter(demo_claims):
    """The GitHub starter claim (completed on BitBadges), one per address, alone."""
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    claim.one_completion_per_address = True
    claim.save()
    return claim


def member(django_user_model, name, address, *, proven=False):
    user = django_user_model.objects.create_user(
        username=name, email=f"{name}@example.com", password="connect-demo", address=address
    )
    if proven:  # as Sign in with BitBadges leaves it
        proof.set_proven(
            user, {"bitbadgesAddress": to_bitbadges_address(address), "address": address}
        )
        user.save()
    return verify_email(user)


def completion_of(claim, user) -> Completion:
    return Completion.objects.get(claim=claim, member=user)


def test_a_second_account_proving_the_same_address_reads_already_claimed(
    starter, django_user_model, connect, client
):
    first = member(django_user_model, "ann", normalize_address(ALICE_ADDRESS), proven=True)
    second = member(django_user_model, "ben", ALICE_BB1, proven=True)  # the bb1 spelling
    connect(first, "github", "ann-gh")
    run_worker()
    connect(second, "github", "ben-gh")
    run_worker()

    done = completion_of(starter, first)
    assert done.state == "completed", done.reason
    assert (done.address, done.address_key, done.address_proven) == (ALICE_BB1, ALICE_BB1, True)
    refused = completion_of(starter, second)
    assert (refused.state, refused.reason) == ("ineligible", CLAIMED)
    assert refused.address_key == ""
    # BitBadges holds one completion, and was asked once.
    assert bb_attempts.completions(starter.bitbadges_claim_id) == 1
    assert bb_attempts.complete_calls(starter.bitbadges_claim_id) == 1

    # Their page says why, and where to look at their address.
    client.force_login(second)
    row = client.get("/claims/").text.split('id="claim-github-starter"')[1]
    assert CLAIMED in row
    assert 'href="#address" data-fix="address-claimed">Check your address above' in row


def test_a_typed_address_counts_too_and_the_first_keeps_it(starter, django_user_model, connect):
    first = member(django_user_model, "ann", normalize_address(ALICE_ADDRESS))
    second = member(django_user_model, "ben", ALICE_ADDRESS.lower())  # the same, typed
    connect(first, "github", "ann-gh")
    run_worker()
    connect(second, "github", "ben-gh")
    run_worker()

    done = completion_of(starter, first)
    assert (done.state, done.address_proven, done.address_key) == ("completed", False, ALICE_BB1)
    assert completion_of(starter, second).reason == CLAIMED
    assert bb_attempts.complete_calls(starter.bitbadges_claim_id) == 1

    # The second member corrects their address: it goes on, to the other one.
    other = to_bitbadges_address(normalize_address("0x" + "1" * 40))
    second.address = other
    second.save()
    services.requests_for_member(member=second, actor=Actor.member(second))
    run_worker()
    moved = completion_of(starter, second)
    assert (moved.state, moved.address_key) == ("completed", other), moved.reason
    assert bb_attempts.completions(starter.bitbadges_claim_id) == 2


def test_two_workers_at_once_deliver_to_one_address_once(starter, django_user_model, connect):
    first = member(django_user_model, "ann", ALICE_BB1)
    second = member(django_user_model, "ben", ALICE_BB1)
    connect(first, "github", "ann-gh")  # queued, not run yet
    connect(second, "github", "ben-gh")
    rows = [completion_of(starter, first).pk, completion_of(starter, second).pk]
    barrier = threading.Barrier(2)
    errors = []

    def work(pk):
        try:
            barrier.wait(timeout=10)
            services.completion_process(pk, actor=Actor.system("thread"))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(pk,)) for pk in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    # A worker that met the other's write (SQLite's lock) retries: let it run out.
    for _ in range(3):
        Completion.objects.filter(state="retrying").update(next_attempt_at=timezone.now())
        run_worker()

    states = sorted(Completion.objects.filter(claim=starter).values_list("state", "reason"))
    assert [state for state, _ in states] == ["completed", "ineligible"], states
    assert CLAIMED in dict(states).values()
    assert bb_attempts.complete_calls(starter.bitbadges_claim_id) == 1
    assert Completion.objects.filter(claim=starter, address_key=ALICE_BB1).count() == 1


def test_the_database_keeps_one_completion_per_claim_and_address(starter, django_user_model):
    first = member(django_user_model, "ann", ALICE_BB1)
    second = member(django_user_model, "ben", ALICE_BB1)
    Completion.objects.create(claim=starter, member=first, address_key=ALICE_BB1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Completion.objects.create(claim=starter, member=second, address_key=ALICE_BB1)
    # Empty keys (claims that are not one-per-address) are not constrained.
    Completion.objects.filter(member=first).update(address_key="")
    Completion.objects.create(claim=starter, member=second)


def test_a_revoked_completion_keeps_its_address_taken(starter, django_user_model, connect):
    boss = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    first = member(django_user_model, "ann", ALICE_BB1)
    second = member(django_user_model, "ben", ALICE_BB1)
    connect(first, "github", "ann-gh")
    run_worker()
    done = completion_of(starter, first)
    staff_actions.revoke(completion_id=done.pk, staff=boss, reason="two accounts, one person")
    done.refresh_from_db()
    assert (done.state, done.address_key) == ("revoked", ALICE_BB1)

    connect(second, "github", "ben-gh")
    run_worker()
    assert completion_of(starter, second).reason == CLAIMED
    # Nor does a grant by hand deliver there again.
    with pytest.raises(staff_actions.StaffActionRefused, match="one completion per address"):
        staff_actions.grant(claim=starter, member=second, staff=boss, reason="asked nicely")
    assert bb_attempts.complete_calls(starter.bitbadges_claim_id) == 1

    # The dry run says so, in words without any value read upstream.
    report = claim_dry_run(claim=starter, members=[second], show_values=False)
    assert report.rows[0][2] == ADDRESS_HELD_WORDS


def test_without_the_rule_two_accounts_both_complete(demo_claims, django_user_model, connect):
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    first = member(django_user_model, "ann", ALICE_BB1)
    second = member(django_user_model, "ben", ALICE_BB1)
    connect(first, "github", "ann-gh")
    connect(second, "github", "ben-gh")
    run_worker()
    assert set(Completion.objects.values_list("state", "address_key")) == {("completed", "")}
    assert bb_attempts.complete_calls(claim.bitbadges_claim_id) == 2


def test_the_ledger_shows_the_address_and_whether_it_was_proven(
    starter, django_user_model, connect, client
):
    first = member(django_user_model, "ann", ALICE_BB1, proven=True)
    connect(first, "github", "ann-gh")
    run_worker()
    done = completion_of(starter, first)

    staff(client, "auditor", "claims.view_completion")
    listing = client.get("/admin/claims/completion/").text
    assert '<td class="field-address">' + ALICE_BB1 in listing
    assert '<td class="field-address_proven"><img src="/static/admin/img/icon-yes.svg"' in listing
    detail = client.get(f"/admin/claims/completion/{done.pk}/change/").text
    assert "Address proven" in detail and "Address key" in detail
    assert client.get("/admin/claims/completion/", {"address_proven": "1"}).status_code == 200

    lines = as_dicts(
        read_csv(export_action(client, "/admin/claims/completion/", [done.pk]), "completions")
    )
    assert {(line["address"], line["address proven"]) for line in lines} == {(ALICE_BB1, "yes")}

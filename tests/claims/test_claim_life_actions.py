"""Revoke, re-issue and grant by hand, through the admin (HTTP POSTs with CSRF pages),
against the BitBadges sandbox over real HTTP and the real task worker.

Each action leaves an event in the ledger saying who and why; a dynamic store really
loses (or gains) the address; bad input and a row in the wrong state change nothing.
"""

import threading
from importlib import import_module

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from claims import bitbadges, services
from claims.audit import Actor
from claims.models import Claim, Completion, CompletionEvent
from core.addresses import to_bitbadges_address
from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import stores as bb_stores
from sandbox.bitbadges.models import BitBadgesStoreEntry
from tests.claims.claims_support import ALICE_ADDRESS, random_address, run_worker
from tests.claims.life_actions_support import store_claim_on_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

ALICE_BB1 = to_bitbadges_address(ALICE_ADDRESS)


@pytest.fixture
def store_claim(upstreams):
    return store_claim_on_sandbox("store-life", "Store life")


@pytest.fixture
def boss(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")


@pytest.fixture
def boss_client(boss):
    client = Client()
    client.force_login(boss)
    return client


def delivered(claim, member, address=ALICE_BB1) -> Completion:
    """A completion as the worker leaves it after delivering to `address`."""
    BitBadgesStoreEntry.objects.create(
        store=bb_stores.BitBadgesStore.objects.get(dynamic_data_id=claim.store_id),
        address=address,
    )
    completion = Completion.objects.create(
        claim=claim,
        member=member,
        state="completed",
        address=address,
        completed_at=timezone.now(),
        reason="Completed.",
    )
    CompletionEvent.objects.create(
        completion=completion,
        from_state="delivering",
        to_state="completed",
        reason="delivered",
        actor_kind="worker",
    )
    return completion


def url(name, *args):
    return reverse(f"admin:claims_completion_{name}", args=args)


def reasons(completion) -> list[str]:
    return list(completion.events.order_by("at", "pk").values_list("reason", flat=True))


def test_revoke_removes_the_store_entry_and_the_ledger_says_who_and_why(
    store_claim, alice, boss, boss_client
):
    completion = delivered(store_claim, alice)
    page = boss_client.get(url("revoke", completion.pk))
    assert page.status_code == 200
    assert "removed from the dynamic store" in page.content.decode()

    response = boss_client.post(url("revoke", completion.pk), {"reason": "Fake account."})

    assert response.status_code == 302
    completion.refresh_from_db()
    assert completion.state == "revoked"
    assert not bb_stores.store_contains(store_claim.store_id, ALICE_BB1)
    event = completion.events.get(reason="revoked")
    assert (event.from_state, event.to_state) == ("completed", "revoked")
    assert (event.actor_kind, event.actor_id) == ("staff", boss.pk)
    assert event.details["staff_reason"] == "Fake account."
    assert event.details["address"] == ALICE_BB1
    assert "Removed" in event.details["upstream"]
    # Nothing reopens it by itself: a request for a check, or the member's Check again
    # (refused with a sentence), leaves it revoked.
    services.requests_for_account(member=alice, app_slug="github", actor=Actor.worker())
    services.completion_request(claim=store_claim, member=alice, actor=Actor.worker())
    alice_client = Client()
    alice_client.force_login(alice)
    check = alice_client.post(reverse("claims:check", args=[store_claim.slug]), follow=True)
    assert "This claim is not available." in check.content.decode()
    run_worker()
    completion.refresh_from_db()
    assert completion.state == "revoked"
    assert not bb_stores.store_contains(store_claim.store_id, ALICE_BB1)
    # The member sees it plainly.
    claims_page = alice_client.get(reverse("claims:claims")).content.decode()
    assert '<span class="badge bad">Removed by the organiser</span>' in claims_page
    assert "Check again" not in claims_page
    landing = alice_client.get(reverse("claims:landing", args=[store_claim.slug]))
    assert 'id="landing-revoked"' in landing.content.decode()
    assert "Check now" not in landing.content.decode()


def test_a_badge_already_claimed_through_the_store_stays_after_a_revoke(
    store_claim, alice, boss_client
):
    """Removing the address gates later attempts only: BitBadges keeps the completion."""
    completion = delivered(store_claim, alice)
    upstream = bb_claims.claim_create(store=store_claim.store_id, max_uses_per_address=1)
    client = bitbadges.get_client()
    client.wait_for_attempt(client.complete(upstream.claim_id, ALICE_BB1), interval=0.1, deadline=5)

    response = boss_client.post(url("revoke", completion.pk), {"reason": "Left the programme."})

    assert response.status_code == 302
    assert not bb_stores.store_contains(store_claim.store_id, ALICE_BB1)
    assert bb_attempts.completions(upstream.claim_id, ALICE_BB1) == 1  # the badge stays
    with pytest.raises(bitbadges.BitBadgesError):
        client.simulate(upstream.claim_id, ALICE_BB1)  # and no second one is possible
    assert "stays with that address" in completion.events.get(reason="revoked").details["upstream"]


@pytest.mark.parametrize("fault", ["wrong store secret", "BitBadges unreachable"])
def test_a_removal_bitbadges_does_not_confirm_changes_nothing(
    store_claim, alice, boss_client, settings, fault
):
    completion = delivered(store_claim, alice)
    if fault == "wrong store secret":
        store_claim.set_store_secret("not-the-secret")
        store_claim.save()
    else:
        settings.BITBADGES_API_URL = "http://127.0.0.1:9/sandbox/bitbadges"
    events = CompletionEvent.objects.count()

    response = boss_client.post(url("revoke", completion.pk), {"reason": "Fake account."})

    assert response.status_code == 409
    page = response.content.decode()
    assert "BitBadges did not confirm the removal" in page and "Nothing was changed" in page
    assert "not-the-secret" not in page
    completion.refresh_from_db()
    assert completion.state == "completed" and completion.lease_token is None
    assert CompletionEvent.objects.count() == events
    assert bb_stores.store_contains(store_claim.store_id, ALICE_BB1)


def test_revoking_a_bitbadges_claim_changes_the_ledger_and_says_the_badge_stays(
    upstreams, alice, boss_client
):
    claim = Claim.objects.create(
        slug="bb-life",
        name="BB life",
        enabled=True,
        delivery="bitbadges",
        bitbadges_claim_id="c1",
        password_instance_id="p1",
    )
    completion = Completion.objects.create(
        claim=claim, member=alice, state="completed", address=ALICE_BB1
    )
    response = boss_client.post(
        url("revoke", completion.pk), {"reason": "Duplicate account."}, follow=True
    )
    assert "The badge stays on BitBadges" in response.content.decode()
    completion.refresh_from_db()
    assert completion.state == "revoked"
    assert "cannot undo" in completion.events.get(reason="revoked").details["upstream"]


def test_reissue_takes_the_old_address_out_and_delivers_once_to_the_corrected_one(
    store_claim, alice, boss, boss_client
):
    completion = delivered(store_claim, alice)
    corrected = random_address()
    alice.address = corrected
    alice.save(update_fields=["address"])

    response = boss_client.post(
        url("reissue", completion.pk), {"reason": "Member typed a wrong address."}
    )
    assert response.status_code == 302
    run_worker()

    completion.refresh_from_db()
    new = to_bitbadges_address(corrected)
    assert completion.state == "completed", completion.reason
    assert completion.address == new
    assert bb_stores.store_contains(store_claim.store_id, new)
    assert not bb_stores.store_contains(store_claim.store_id, ALICE_BB1)
    event = completion.events.get(reason="reissued")
    assert (event.actor_kind, event.actor_id) == ("staff", boss.pk)
    assert (event.details["from_address"], event.details["to_address"]) == (ALICE_BB1, new)
    after = reasons(completion)[reasons(completion).index("reissued") :]
    assert after.count("delivered") == 1  # once
    # The member sees it completed, to the corrected address.
    alice_client = Client()
    alice_client.force_login(alice)
    claims_page = alice_client.get(reverse("claims:claims")).content.decode()
    assert f'to <code class="claim-address">{new}</code>' in claims_page
    # Asking again is refused: the completion is already at the member's address.
    again = boss_client.post(url("reissue", completion.pk), {"reason": "Again."})
    assert again.status_code == 409
    assert "nothing to re-issue" in again.content.decode()


def test_a_grant_delivers_to_a_member_the_engine_found_not_eligible(
    store_claim, alice, boss, boss_client
):
    completion = Completion.objects.create(
        claim=store_claim, member=alice, state="ineligible", reason="Needs a star."
    )
    form = boss_client.get(url("grant") + f"?claim={store_claim.pk}")
    assert form.status_code == 200

    response = boss_client.post(
        url("grant"),
        {
            "claim": store_claim.pk,
            "member": "ALICE@example.com",
            "reason": "Met it offline.",
            "confirmed": alice.pk,
        },
    )
    assert response.status_code == 302
    twice = boss_client.post(
        url("grant"),
        {"claim": store_claim.pk, "member": "alice", "reason": "Twice.", "confirmed": alice.pk},
    )
    assert twice.status_code == 409 and "granted to alice already" in twice.content.decode()
    run_worker()

    completion.refresh_from_db()
    assert completion.state == "completed", completion.reason
    assert completion.staff_granted
    assert bb_stores.store_contains(store_claim.store_id, ALICE_BB1)
    event = completion.events.get(reason="granted")
    assert (event.from_state, event.to_state) == ("ineligible", "waiting")
    assert (event.actor_kind, event.actor_id, event.details["staff_reason"]) == (
        "staff",
        boss.pk,
        "Met it offline.",
    )
    # One per member and claim: granting it again is refused, nothing written.
    count = CompletionEvent.objects.count()
    again = boss_client.post(
        url("grant"),
        {"claim": store_claim.pk, "member": "alice", "reason": "Again.", "confirmed": alice.pk},
    )
    assert again.status_code == 409
    assert "Re-issue" in again.content.decode()
    assert CompletionEvent.objects.count() == count


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("", "This field is required"),
        ("   ", "This field is required"),
        ("x" * 10_240, "at most 500 characters"),
        ("bad\x00reason", "Null characters are not allowed"),
        ("bell\x07", "control characters"),
    ],
    ids=["empty", "blank", "10kb", "nul", "control"],
)
def test_a_bad_reason_is_a_400_with_a_sentence_and_nothing_changes(
    store_claim, alice, boss_client, reason, says
):
    completion = delivered(store_claim, alice)
    events = CompletionEvent.objects.count()

    revoke = boss_client.post(url("revoke", completion.pk), {"reason": reason})
    grant = boss_client.post(
        url("grant"), {"claim": store_claim.pk, "member": "alice", "reason": reason}
    )

    for response in (revoke, grant):
        assert response.status_code == 400
        assert says in response.content.decode()
    completion.refresh_from_db()
    assert completion.state == "completed" and completion.lease_token is None
    assert CompletionEvent.objects.count() == events
    assert bb_stores.store_contains(store_claim.store_id, ALICE_BB1)


def test_wrong_member_wrong_state_and_a_second_revoke_are_refused(store_claim, alice, boss_client):
    response = boss_client.post(
        url("grant"), {"claim": store_claim.pk, "member": "nobody", "reason": "Why not."}
    )
    assert response.status_code == 400
    assert "No member has the username" in response.content.decode()
    assert not Completion.objects.exists()

    waiting = Completion.objects.create(claim=store_claim, member=alice, state="ineligible")
    response = boss_client.post(url("revoke", waiting.pk), {"reason": "Why not."})
    assert response.status_code == 409
    assert "Only a completed completion can be revoked" in response.content.decode()
    assert not waiting.events.exists()
    waiting.delete()

    completion = delivered(store_claim, alice)
    assert boss_client.post(url("revoke", completion.pk), {"reason": "One."}).status_code == 302
    second = boss_client.post(url("revoke", completion.pk), {"reason": "Two."})
    assert second.status_code == 409
    assert reasons(completion).count("revoked") == 1


def test_two_revokes_at_once_revoke_once(store_claim, alice, boss):
    completion = delivered(store_claim, alice)
    barrier = threading.Barrier(2)
    statuses = []

    def revoke():
        client = Client()
        client.force_login(boss)
        barrier.wait()
        try:
            statuses.append(
                client.post(url("revoke", completion.pk), {"reason": "Race."}).status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=revoke) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [302, 409]
    assert reasons(completion).count("revoked") == 1
    completion.refresh_from_db()
    assert completion.state == "revoked" and completion.lease_token is None


def test_staff_without_the_permission_see_no_button_and_get_403(store_claim, alice, boss_client):
    completion = delivered(store_claim, alice)
    viewer = get_user_model().objects.create_user("viewer", password=None, is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_completion", "change_completion"])
    )
    client = Client()
    client.force_login(viewer)

    page = client.get(url("change", completion.pk)).content.decode()
    assert 'id="completion-revoke"' not in page and 'id="completion-reissue"' not in page
    assert 'id="completion-grant"' not in client.get(url("changelist")).content.decode()
    for target in (url("revoke", completion.pk), url("reissue", completion.pk), url("grant")):
        assert client.get(target).status_code == 403
        assert client.post(target, {"reason": "x", "member": "alice"}).status_code == 403
    completion.refresh_from_db()
    assert completion.state == "completed"

    shown = boss_client.get(url("change", completion.pk)).content.decode()
    assert 'id="completion-revoke"' in shown and 'id="completion-reissue"' in shown
    assert 'id="completion-grant"' in boss_client.get(url("changelist")).content.decode()
    claim_page = reverse("admin:claims_claim_change", args=[store_claim.pk])
    assert f"grant/?claim={store_claim.pk}" in boss_client.get(claim_page).content.decode()
    viewer.user_permissions.add(Permission.objects.get(codename="view_claim"))
    viewer = get_user_model().objects.get(pk=viewer.pk)  # permissions read afresh
    client.force_login(viewer)
    seen = client.get(claim_page)
    assert seen.status_code == 200 and 'id="claim-grant"' not in seen.content.decode()


def test_migration_0019_gives_operators_the_permission_unless_their_group_was_reshaped():
    """Run for real (MigrationExecutor): from 0018 to the latest state, twice."""
    previous = import_module("claims.migrations.0019_completion_staff_actions")._previous
    wanted = previous("Operator")

    def forward_from_0018(drop: str = "") -> set[str]:
        executor = MigrationExecutor(connection)
        executor.migrate([("claims", "0018_claim_life")])
        Group.objects.filter(name="Operator").delete()
        group = Group.objects.create(name="Operator")
        group.permissions.set(
            permission
            for permission in Permission.objects.select_related("content_type")
            if (permission.content_type.app_label, permission.codename) in wanted
            and permission.codename != drop
        )
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        return set(group.permissions.values_list("codename", flat=True))

    assert "manage_completions" not in forward_from_0018(drop="view_requirement")
    assert "manage_completions" in forward_from_0018()

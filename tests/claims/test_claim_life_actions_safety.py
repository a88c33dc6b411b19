"""Revoke, re-issue and grant by hand: what keeps them safe. Nothing is delivered twice
to an address that still holds a delivery; a grant that ended does not carry over to a
later check; the admin pages answer bad input with a 4xx; the ledger shows staff their
own reasons. Through the admin over HTTP, the BitBadges sandbox and the real worker.
"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from claims.engine.dry_run import REVOKED_WORDS
from claims.engine.methods import dynamic_store
from claims.models import Claim, ClaimJob, Completion, CompletionEvent
from connections.models import ConnectedAccount
from core.addresses import to_bitbadges_address
from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import stores as bb_stores
from sandbox.bitbadges.models import BitBadgesStoreEntry
from tests.claims.admin_support import make_app, make_member
from tests.claims.claims_support import ALICE_ADDRESS, random_address, require, run_worker
from tests.claims.jobs_support import claim_needing, job_url, start_dry_run, total
from tests.claims.life_actions_support import store_claim_on_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

ALICE_BB1 = to_bitbadges_address(ALICE_ADDRESS)


@pytest.fixture
def boss_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


@pytest.fixture
def store_claim(upstreams):
    return store_claim_on_sandbox("store-safety", "Store safety")


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


def delivered(claim, member, address=ALICE_BB1) -> Completion:
    """A completion as the worker leaves it after adding `address` to the claim's store."""
    BitBadgesStoreEntry.objects.create(
        store=bb_stores.BitBadgesStore.objects.get(dynamic_data_id=claim.store_id),
        address=address,
    )
    return Completion.objects.create(
        claim=claim,
        member=member,
        state="completed",
        address=address,
        completed_at=timezone.now(),
        reason="Completed.",
    )


def grant(client, claim, member="alice", reason="Met it offline."):
    """Grant `claim` to the member named `member`, confirming the member the page shows."""
    confirmed = get_user_model().objects.get(username=member).pk
    data = {"claim": claim.pk, "member": member, "reason": reason, "confirmed": confirmed}
    return client.post(url("grant"), data)


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


# --- Finding 8: a revoke answers well within the proxy's timeout -------------------------


class FakeClock:
    """The dynamic store's clock: sleeping only moves it on (the test waits for nothing)."""

    def __init__(self):
        self.now = 1000.0
        self.slept = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.slept += seconds


def test_a_removal_that_has_not_landed_is_watched_briefly_and_said_to_be_under_way(
    store_claim, alice, boss_client, settings, monkeypatch
):
    completion = delivered(store_claim, alice)
    settings.CLAIMS_POLL_DEADLINE = 30  # the production default: longer than a page may wait
    settings.SANDBOX_BITBADGES_STORE_LAG = 3600  # accepted, lands long after this test
    clock = FakeClock()
    monkeypatch.setattr(dynamic_store, "time", clock)

    response = boss_client.post(url("revoke", completion.pk), {"reason": "Fake account."})

    assert response.status_code == 302
    assert clock.slept <= 5  # a few seconds, not CLAIMS_POLL_DEADLINE
    completion.refresh_from_db()
    assert completion.state == "revoked"
    event = completion.events.get(reason="revoked")
    assert "still under way" in event.details["upstream"]
    assert event.details["withdrawn"] is True


def test_a_removal_whose_answer_is_unclear_changes_nothing_and_says_it_may_be_under_way(
    store_claim, alice, boss_client, settings
):
    completion = delivered(store_claim, alice)
    settings.SANDBOX_FAULTS = {"bitbadges.store.actions": {"status": 504}}

    response = boss_client.post(url("revoke", completion.pk), {"reason": "Fake account."})

    assert response.status_code == 409
    page = response.content.decode()
    assert "is not known: the removal may still be under way" in page
    assert "Nothing was changed" not in page
    completion.refresh_from_db()
    assert completion.state == "completed" and completion.lease_token is None
    assert not completion.events.filter(reason="revoked").exists()


# --- Finding 4: odd query strings on the grant page -------------------------------------


@pytest.mark.parametrize("value", ["%C2%B2", "%D9%A3", "9" * 30, "-1", "1e3", "%00", "own"])
def test_the_grant_page_preselects_only_a_claim_named_by_its_number(db, boss_client, value):
    claim = Claim.objects.create(slug="odd", name="Odd", delivery="bitbadges")
    own = value == "own"

    response = boss_client.get(url("grant") + f"?claim={claim.pk if own else value}")

    assert response.status_code == 200
    assert (f'value="{claim.pk}" selected' in response.content.decode()) is own


# --- Finding 5: staff see the why of staff actions --------------------------------------


def test_staff_without_member_values_see_the_reasons_staff_gave(
    store_claim, alice, boss_client, django_user_model
):
    assert (
        grant(boss_client, store_claim, reason="GRANT-WHY: met it at the meetup.").status_code
        == 302
    )
    run_worker()
    completion = Completion.objects.get(claim=store_claim, member=alice)
    boss_client.post(url("revoke", completion.pk), {"reason": "REVOKE-WHY: duplicate account."})
    operator = django_user_model.objects.create_user("operator", password=None, is_staff=True)
    operator.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_completion", "view_completionevent", "manage_completions"]
        )
    )
    assert not operator.has_perm("claims.view_member_values")
    client = Client()
    client.force_login(operator)

    page = client.get(url("change", completion.pk)).content.decode()
    assert "GRANT-WHY: met it at the meetup." in page
    assert "REVOKE-WHY: duplicate account." in page
    event = completion.events.get(reason="revoked")
    shown = client.get(reverse("admin:claims_completionevent_change", args=[event.pk]))
    assert "REVOKE-WHY: duplicate account." in shown.content.decode()
    # A reason the engine recorded (it may quote what a criterion read) stays hidden.
    CompletionEvent.objects.create(
        completion=completion,
        from_state="checking",
        to_state="ineligible",
        reason="not_eligible",
        details={"reason": "Needs 5 stars; yours is SECRET-VALUE-3."},
    )
    page = client.get(url("change", completion.pk)).content.decode()
    assert "SECRET-VALUE-3" not in page and "Hidden: seeing members" in page


# --- Finding 13: whom a grant goes to -------------------------------------------------


def test_a_grant_finds_members_by_username_or_confirmed_email_and_asks_first(
    store_claim, alice, boss_client, django_user_model
):
    # Someone who typed alice's other address unconfirmed, and a username like it.
    django_user_model.objects.create_user(
        "alice@work.example", email="alice@work.example", address=random_address()
    )
    django_user_model.objects.create_user("mallory", email="alice.w@example.com")
    django_user_model.objects.create_user("helper", email="helper@example.com", is_staff=True)

    def ask(member, **extra):
        data = {"claim": store_claim.pk, "member": member, "reason": "Met it.", **extra}
        return boss_client.post(url("grant"), data)

    for member, says in [
        ("alice@work.example", "No member has confirmed the email address"),
        ("alice.w@example.com", "No member has confirmed the email address"),
        ("helper", "is a staff account, not a member"),
        ("nobody", "No member has the username"),
    ]:
        response = ask(member)
        assert response.status_code == 400, member
        assert says in response.content.decode()

    first = ask("ALICE@example.com")  # her confirmed address

    assert first.status_code == 200
    page = first.content.decode()
    assert '<td id="grant-confirm-username">alice</td>' in page
    assert "alice@example.com (confirmed)" in page
    assert f'name="confirmed" value="{alice.pk}"' in page
    assert not Completion.objects.exists()
    # A confirmation for someone else does not grant to the member typed now.
    other = django_user_model.objects.create_user("bob", email="bob@example.com")
    switched = ask("bob", confirmed=alice.pk)
    assert switched.status_code == 200
    assert f'name="confirmed" value="{other.pk}"' in switched.content.decode()
    assert not Completion.objects.exists()
    assert ask("alice", confirmed="²").status_code == 400

    done = ask("ALICE@example.com", confirmed=alice.pk)

    assert done.status_code == 302
    assert Completion.objects.get().member == alice


# --- Finding 3: a grant that stopped does not carry over to a later check ---------------


def test_a_grant_that_stopped_leaves_a_later_check_to_the_requirements_and_new_address(
    store_claim, alice, boss_client, apps, connect
):
    require(store_claim, apps["github"])  # alice has no GitHub account yet
    assert grant(boss_client, store_claim).status_code == 302
    Claim.objects.filter(pk=store_claim.pk).update(enabled=False)  # before the worker runs
    run_worker()
    completion = Completion.objects.get(claim=store_claim, member=alice)
    assert completion.state == "ineligible" and not completion.staff_granted
    assert "staff_grant" in completion.events.order_by("-at", "-pk").first().details
    Claim.objects.filter(pk=store_claim.pk).update(enabled=True)
    corrected = random_address()
    alice.address = corrected
    alice.save(update_fields=["address"])
    alice_client = Client()
    alice_client.force_login(alice)

    alice_client.post(reverse("claims:check", args=[store_claim.slug]))
    run_worker()

    completion.refresh_from_db()
    assert completion.state == "ineligible", completion.reason  # the requirement counts
    assert not bb_stores.store_contains(store_claim.store_id, ALICE_BB1)
    connect(alice, "github", "alice")
    run_worker()
    completion.refresh_from_db()
    new = to_bitbadges_address(corrected)
    assert completion.state == "completed", completion.reason
    assert completion.address == new
    assert bb_stores.store_contains(store_claim.store_id, new)
    assert not bb_stores.store_contains(store_claim.store_id, ALICE_BB1)


# --- Dry runs: a revoked member is not someone who would qualify ----------------------


def test_a_dry_run_says_a_revoked_member_is_not_delivered_again(db, boss_client):
    github = make_app("github", "GitHub")
    claim = claim_needing("revoked-dry", [github])
    for name in ("ready", "taken"):
        member = make_member(name, address=random_address())
        ConnectedAccount.objects.create(
            member=member, app=github, pipedream_id=f"apn_{name}", name=name
        )
    Completion.objects.create(
        claim=claim, member=member, state="revoked", address=to_bitbadges_address(member.address)
    )
    out = StringIO()

    call_command("complete_claims", "--claim", claim.slug, "--dry-run", stdout=out)

    lines = out.getvalue()
    assert "ready: would qualify" in lines
    assert f"taken: {REVOKED_WORDS}" in lines
    assert "1 would qualify, 0 already completed, 2 would not." in lines  # boss: no account
    # The same as a job on the task worker, on its page.
    assert start_dry_run(boss_client, claim).status_code == 302
    run_worker()
    job = ClaimJob.objects.get()
    page = boss_client.get(job_url(job)).content.decode()
    assert total(page, "qualify") == 1 and total(page, "not-met") == 1
    assert REVOKED_WORDS in page

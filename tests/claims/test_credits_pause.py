"""BitBadges out of credits: deliveries pause instead of failing, and go on by themselves.

The sandbox keeps a credit balance for its API key as BitBadges does (one credit a
request; 402 with the docs' body when none is left). 60 members qualify at once; the
credits run out part-way; nothing fails, no try is spent, the admin and /healthz say so;
after a top-up the cron's probe resumes them and each member is completed exactly once.
"""

import datetime
import io

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from claims import pause, services
from claims.audit import Actor
from claims.models import Claim, Completion, DeliveryPause
from connections.models import ConnectedAccount
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import credits as bb_sandbox_credits
from tests.claims.claims_support import random_address, run_worker
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = 60


@pytest.fixture
def fast(settings):
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0  # attempts are judged as they are queued
    settings.CLAIMS_POLL_INTERVAL = 0.05
    settings.CLAIMS_UNKNOWN_OUTCOME_WAIT = 0
    settings.BITBADGES_CREDITS_PROBE = 30


def qualified_members(apps, count: int) -> list:
    """Members with a confirmed email, an address and a healthy GitHub account."""
    User = get_user_model()
    members = []
    for n in range(count):
        member = verify_email(
            User.objects.create_user(
                username=f"member{n:03d}",
                email=f"member{n:03d}@example.com",
                password=None,
                address=random_address(),
            )
        )
        ConnectedAccount.objects.create(
            member=member, app=apps["github"], pipedream_id=f"apn_{n:06d}", name=f"gh{n}"
        )
        members.append(member)
    return members


def test_a_402_mid_way_pauses_deliveries_and_a_top_up_resumes_them_exactly_once(
    demo_claims, apps, upstreams, fast, admin_client, client
):
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)  # one claim, 60 members
    members = qualified_members(apps, MEMBERS)
    # Enough credits for a third of the deliveries (each costs a few requests).
    bb_sandbox_credits.credits_set(MEMBERS)
    for member in members:
        services.completion_request(claim=claim, member=member, actor=Actor.system("test"))
    run_worker()

    states = dict(Completion.objects.values_list("member_id", "state"))
    completed = sum(1 for state in states.values() if state == "completed")
    paused = Completion.objects.filter(paused_at__isnull=False)
    assert 0 < completed < MEMBERS
    assert completed + paused.count() == MEMBERS, states
    assert not Completion.objects.filter(state="failed").exists()
    assert set(paused.values_list("state", flat=True)) == {"waiting"}
    assert set(paused.values_list("attempts", flat=True)) == {0}  # no try was spent
    assert set(paused.values_list("next_attempt_at", flat=True)) == {None}
    assert bb_sandbox_credits.credits_remaining() == 0

    # Operators hear of it: the admin says why, where to top up and how many wait;
    # /healthz reports it without taking the site out of a balancer.
    current = DeliveryPause.objects.get()
    assert current.action_url == "https://bitbadges.io/developer?tab=apiKeys"
    page = admin_client.get(reverse("admin:index")).text
    assert "Deliveries through BitBadges are paused" in page
    assert "the API key&#x27;s account is out of credits" in page
    assert "Top up at /developer" not in page  # BitBadges' relative link, said absolutely
    assert f"{paused.count()} completions wait" in page
    assert "https://bitbadges.io/developer?tab=apiKeys" in page
    health = admin_client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["checks"]["deliveries"]["bitbadges"] == "paused"
    assert health.json()["checks"]["deliveries"]["waiting"] == paused.count()

    # A member pressing Check again does not wake a paused delivery.
    waiting = paused.first()
    tasks = DBTaskResult.objects.count()
    services.member_check_again(claim=claim, member=waiting.member)
    waiting.refresh_from_db()
    assert (waiting.state, waiting.next_attempt_at, waiting.attempts) == ("waiting", None, 0)
    assert DBTaskResult.objects.count() == tasks  # nothing queued
    assert paused.count() == MEMBERS - completed

    # Before the top-up the probe finds it still refused and looks again later.
    with time_machine.travel(current.next_probe_at + datetime.timedelta(seconds=1)):
        out = io.StringIO()
        call_command("complete_claims", stdout=out, no_color=True)
    assert "Deliveries through BitBadges are paused: out of credits." in out.getvalue()
    current.refresh_from_db()
    assert current.probes == 1 and current.last_probe_result == "Still out of credits (402)."

    bb_sandbox_credits.credits_top_up(10 * MEMBERS)
    with time_machine.travel(current.next_probe_at + datetime.timedelta(seconds=1), tick=True):
        out = io.StringIO()
        call_command("complete_claims", stdout=out, no_color=True)  # the cron: probe, resume
        assert not DeliveryPause.objects.exists()
    waited = MEMBERS - completed
    assert f"BitBadges answers again: {waited} paused completion(s) queued." in out.getvalue()
    with time_machine.travel(current.next_probe_at + datetime.timedelta(seconds=1), tick=True):
        run_worker()

    assert set(Completion.objects.values_list("state", flat=True)) == {"completed"}
    assert not Completion.objects.filter(paused_at__isnull=False).exists()
    for member in members:
        assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, member.address) == 1
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id) == MEMBERS
    assert "paused" not in admin_client.get(reverse("admin:index")).text
    assert admin_client.get("/healthz").json()["checks"]["deliveries"]["bitbadges"] == "flowing"


def test_the_admin_can_check_now_and_a_pause_ends_when_bitbadges_answers(
    demo_claims, alice, connect, upstreams, fast, admin_client
):
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    connect(alice, "github", "octo")  # queues the check; the worker has not run yet
    bb_sandbox_credits.credits_set(0)
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.paused_at is not None and completion.state == "waiting"
    assert completion.reason.startswith("Delivery is paused")

    probe = reverse("admin:claims_deliverypause_probe")
    response = admin_client.post(probe, follow=True)
    assert "Still paused: Still out of credits (402)." in response.text

    bb_sandbox_credits.credits_top_up(100)
    response = admin_client.post(probe, follow=True)
    assert "BitBadges answers again: 1 waiting completion(s) are queued." in response.text
    run_worker()
    completion.refresh_from_db()
    assert completion.state == "completed", completion.reason
    assert admin_client.get(probe).status_code == 405  # a POST only


def test_check_now_needs_a_staff_member_who_may_view_pauses(client, db, upstreams):
    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("clerk", password=None, is_staff=True)
    client.force_login(staff)
    probe = reverse("admin:claims_deliverypause_probe")
    assert client.post(probe).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_deliverypause"))
    assert client.post(probe).status_code == 302
    assert pause.active() is None  # nothing was paused: nothing happened


def test_a_pause_that_ends_between_a_402_and_parking_never_strands_a_completion(
    demo_claims, alice, connect, upstreams, fast, monkeypatch
):
    # alice's delivery meets the 402 and parks. The account is topped up; the probe
    # resumes everything at the very moment bob's worker, which met the 402 too, is
    # about to park. bob starts a new pause, whose first probe queues him again.
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    bb_sandbox_credits.credits_set(0)
    connect(alice, "github", "octo")
    run_worker()
    assert pause.active() is not None

    bob = verify_email(
        get_user_model().objects.create_user(
            "bob", email="bob@example.com", password=None, address=random_address()
        )
    )
    real_start = pause.start

    def resumed_just_before(exc, **kwargs):
        bb_sandbox_credits.credits_top_up(100)
        assert pause.resume() == 1  # alice, queued again
        return real_start(exc, **kwargs)

    monkeypatch.setattr(pause, "start", resumed_just_before)
    ConnectedAccount.objects.create(member=bob, app=apps_github(), pipedream_id="apn_bob")
    services.completion_process(
        services.completion_request(claim=claim, member=bob, actor=Actor.system("test")).pk
    )
    monkeypatch.undo()
    bobs = Completion.objects.get(claim=claim, member=bob)
    assert bobs.paused_at is not None
    assert pause.active() is not None  # a new pause, so bob is not stranded
    assert pause.probe(force=True) == pause.Probed("resumed", 1)
    run_worker()
    assert set(Completion.objects.values_list("state", flat=True)) == {"completed"}
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id) == 2


def apps_github():
    from connections.models import App

    return App.objects.get(slug="github")


def test_while_a_pause_is_on_deliveries_wait_for_the_probe_without_calling_bitbadges(
    demo_claims, alice, connect, upstreams, fast
):
    # The account was topped up, but no probe has looked yet: alice's delivery waits
    # on the pause (one probe, not a request per completion, decides when it ends).
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    bb_sandbox_credits.credits_set(0)
    connect(alice, "github", "octo")
    run_worker()
    bb_sandbox_credits.credits_top_up(100)
    used = bb_sandbox_credits.credits().used
    bob = verify_email(
        get_user_model().objects.create_user(
            "bob", email="bob@example.com", password=None, address=random_address()
        )
    )
    ConnectedAccount.objects.create(member=bob, app=apps_github(), pipedream_id="apn_bob")
    services.completion_request(claim=claim, member=bob, actor=Actor.system("test"))
    run_worker()
    bobs = Completion.objects.get(claim=claim, member=bob)
    assert bobs.paused_at is not None and bobs.state == "waiting"
    assert bb_sandbox_credits.credits().used == used  # BitBadges was not asked
    assert pause.probe(force=True) == pause.Probed("resumed", 2)
    run_worker()
    assert set(Completion.objects.values_list("state", flat=True)) == {"completed"}

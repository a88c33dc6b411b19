"""A claim's life read from BitBadges (the sandbox, over real HTTP) and respected: a claim
used up, halted or outside its window stops queueing and says so to members; the admin
shows the reading, when it was read, and reads it again on demand."""

import datetime
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from claims import life, services
from claims.audit import Actor
from claims.models import Claim, Completion
from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges.models import BitBadgesClaim
from tests.claims.admin_support import claim_form_data, make_app, make_member
from tests.claims.claims_support import run_worker

pytestmark = pytest.mark.django_db(transaction=True)

USED_UP = "All badges of this claim have been given out."
HALTED = "This claim is paused by its organiser."


def read_lives(*args) -> str:
    out = io.StringIO()
    call_command("bitbadges_check", "--life", *args, stdout=out, no_color=True)
    return out.getvalue()


def upstream(claim: Claim) -> BitBadgesClaim:
    return BitBadgesClaim.objects.get(claim_id=claim.bitbadges_claim_id)


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def starter(demo_claims):
    return demo_claims["github-starter"]


def test_the_scheduled_pass_keeps_what_bitbadges_says(starter):
    opens = timezone.now() + datetime.timedelta(days=3)
    bb_claims.claim_life_set(
        upstream(starter), max_uses=10, num_uses=4, window=(opens, None), halted=True
    )
    output = read_lives("--claim", starter.slug)
    starter.refresh_from_db()
    assert (starter.life_max_uses, starter.life_used, starter.life_halted) == (10, 4, True)
    assert starter.life_window_start == opens.replace(microsecond=opens.microsecond // 1000 * 1000)
    assert starter.life_window_end is None
    assert starter.life_read_at is not None and starter.life_read_error == ""
    assert f"{starter.slug}: 6 of 10 uses left; {HALTED}" in output
    # The scheduled pass reads only readings older than CLAIM_LIFE_MAX_AGE.
    assert starter.slug not in read_lives()


def test_a_used_up_claim_queues_nothing_says_so_and_resumes_when_uses_are_added(
    starter, alice, connect, client
):
    bb_claims.claim_life_set(upstream(starter), max_uses=2, num_uses=2)
    read_lives("--claim", starter.slug)
    connect(alice, "github", "octo")
    run_worker()

    completion = Completion.objects.get(claim=starter, member=alice)
    assert (completion.state, completion.reason) == ("waiting", USED_UP)
    assert completion.next_attempt_at > timezone.now() + datetime.timedelta(hours=1)
    assert bb_attempts.complete_calls(starter.bitbadges_claim_id) == 0
    visitor = page(client, reverse("claims:landing", args=[starter.slug]))
    assert USED_UP in visitor and "Sign up to claim it" not in visitor
    client.force_login(alice)
    claims_page = page(client, reverse("claims:claims"))
    assert USED_UP in claims_page and "On hold" in claims_page
    assert reverse("claims:check", args=[starter.slug]) not in claims_page  # nothing to do
    landing = page(client, reverse("claims:landing", args=[starter.slug]))
    assert USED_UP in landing and 'data-step="stopped"' in landing
    assert 'data-polling="true"' not in landing  # waiting on the claim: no polling

    bb_claims.claim_life_set(upstream(starter), max_uses=3)
    read_lives("--claim", starter.slug)  # open again: what waited on it is due now
    run_worker()
    completion.refresh_from_db()
    assert completion.state == "completed", completion.reason
    assert bb_attempts.complete_calls(starter.bitbadges_claim_id) == 1


@pytest.mark.parametrize(
    ("since", "sentence"),
    [({"halted": True}, HALTED), ({"max_uses": 3, "num_uses": 3}, USED_UP)],
    ids=["halted", "used-up"],
)
def test_a_refusal_at_delivery_stops_the_next_members_before_they_are_sent(
    starter, alice, connect, since, sentence
):
    read_lives("--claim", starter.slug)  # open when read
    bb_claims.claim_life_set(upstream(starter), **since)  # changed on BitBadges since
    connect(alice, "github", "octo")
    run_worker()
    refused = Completion.objects.get(claim=starter, member=alice)
    assert refused.state == "failed"  # BitBadges refused it
    starter.refresh_from_db()
    assert life.stop_for(starter).sentence == sentence  # kept, and read again

    bob = make_member("bob", address="0x" + "b" * 40)
    connect(bob, "github", "bob")
    run_worker()
    stopped = Completion.objects.get(claim=starter, member=bob)
    assert (stopped.state, stopped.reason) == ("waiting", sentence)
    assert not stopped.events.filter(to_state="delivering").exists()  # nothing sent for bob
    assert bb_attempts.complete_calls(starter.bitbadges_claim_id) == 0
    assert services.claim_discover(claim=starter, actor=Actor.system("test")) == 0


def test_a_bitbadges_window_not_open_yet_waits_for_its_start(starter, alice, connect, client):
    opens = (timezone.now() + datetime.timedelta(days=2)).replace(microsecond=0)
    bb_claims.claim_life_set(upstream(starter), window=(opens, opens + datetime.timedelta(days=1)))
    read_lives("--claim", starter.slug)
    connect(alice, "github", "octo")
    run_worker()
    completion = Completion.objects.get(claim=starter, member=alice)
    assert (completion.state, completion.next_attempt_at) == ("waiting", opens)
    assert completion.reason.startswith("This claim opens on ")
    client.force_login(alice)
    assert "This claim opens on " in page(client, reverse("claims:landing", args=[starter.slug]))


@pytest.fixture
def changer(client):
    user = make_member("changer", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_claim", "change_claim"])
    )
    client.force_login(user)
    return user


def test_bitbadges_unreachable_the_last_reading_stands_and_the_admin_says_when(
    starter, changer, client, settings
):
    bb_claims.claim_life_set(upstream(starter), max_uses=10, num_uses=1)
    read_lives("--claim", starter.slug)
    settings.BITBADGES_API_URL = "http://127.0.0.1:9/unreachable"
    read_url = reverse("admin:claims_claim_read_life", args=[starter.pk])
    response = client.post(read_url, follow=True)
    assert response.status_code == 200
    assert "BitBadges could not be read" in response.content.decode()
    starter.refresh_from_db()
    assert (starter.life_max_uses, starter.life_used) == (10, 1)  # kept
    assert starter.life_read_failed_at is not None
    body = page(client, reverse("admin:claims_claim_change", args=[starter.pk]))
    assert "9 of 10 left (1 taken)" in body
    assert "Last reading failed" in body and "The reading above stands." in body
    assert f'formaction="{read_url}"' in body
    with pytest.raises(CommandError, match="Could not read the life of github-starter"):
        read_lives("--claim", starter.slug)
    listing = page(client, reverse("admin:claims_claim_changelist"))
    assert "9 left · read " in listing


def test_read_again_is_a_post_for_staff_who_may_change_the_claim_a_few_times_a_minute(
    starter, client, settings
):
    url = reverse("admin:claims_claim_read_life", args=[starter.pk])
    viewer = make_member("viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_claim"))
    client.force_login(viewer)
    assert client.post(url).status_code == 403
    starter.refresh_from_db()
    assert starter.life_read_at is None

    changer = make_member("changer", is_staff=True)
    changer.user_permissions.set(Permission.objects.filter(codename="change_claim"))
    client.force_login(changer)
    assert client.get(url).status_code == 405
    settings.CLAIM_LIFE_READ_RATE_LIMIT = (2, 60)
    for _ in range(2):
        assert client.post(url).status_code == 302
    last_read = Claim.objects.get(pk=starter.pk).life_read_at
    assert last_read is not None
    response = client.post(url, follow=True)
    assert "Try again in" in response.content.decode()
    assert Claim.objects.get(pk=starter.pk).life_read_at == last_read  # not asked again
    assert client.post(reverse("admin:claims_claim_read_life", args=["x"])).status_code == 404


def test_saving_a_claim_in_the_admin_reads_its_life(admin_client, upstreams):
    github = make_app("github", "GitHub")
    upstream_claim = bb_claims.claim_create(password="pw", max_uses=7)
    bb_claims.claim_life_set(upstream_claim, num_uses=2)
    blank = Claim(slug="new", name="New", delivery="bitbadges")
    data = claim_form_data(
        blank,
        enabled=True,
        password_instance_id="pwd",
        requirements=[{"app": github}],
        bitbadges_claim_id=upstream_claim.claim_id,
        password="pw",
    )
    assert admin_client.post(reverse("admin:claims_claim_add"), data).status_code == 302
    saved = Claim.objects.get(slug="new")
    assert (saved.life_max_uses, saved.life_used, saved.life_halted) == (7, 2, False)
    body = page(admin_client, reverse("admin:claims_claim_change", args=[saved.pk]))
    assert "5 of 7 left (2 taken)" in body and "open: deliveries go ahead" in body

"""A claim's life at its edges: BitBadges' uint64 numbers, an answer that cannot be read
(neither stops the scheduled pass), a claim number in other digits, and completions of a
claim that stays stopped (they wait longer each time; the site's own end settles them)."""

import datetime
import io

import pytest
import responses
from django.core.management import CommandError, call_command
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from claims import life
from claims.models import Claim, Completion
from tests.claims.bitbadges_support import API

pytestmark = pytest.mark.django_db

UINT64_MAX = str(2**64 - 1)
USED_UP = "All badges of this claim have been given out."


def bitbadges_claim(slug: str, claim_id: str) -> Claim:
    claim = Claim(
        slug=slug,
        name=slug.title(),
        enabled=True,
        delivery="bitbadges",
        bitbadges_claim_id=claim_id,
        password_instance_id="pwd",
    )
    claim.set_password("pw")
    claim.save()
    return claim


def serve_life(mocked, claim: Claim, max_uses, used) -> None:
    """BitBadges' iClaimDetails for `claim`: its numUses plugin only."""
    numbers = {
        "instanceId": "numuses1",
        "pluginId": "numUses",
        "version": "0",
        "publicParams": {"maxUses": max_uses},
        "privateParams": {},
        "publicState": {"numUses": used},
    }
    body = {"claim": {"claimId": claim.bitbadges_claim_id, "version": "1", "plugins": [numbers]}}
    mocked.get(f"{API}/api/v0/claim/{claim.bitbadges_claim_id}", json=body)


def test_uint64_uses_are_kept_and_an_unreadable_answer_does_not_stop_the_pass(
    settings, admin_client
):
    settings.BITBADGES_API_URL = API
    big = bitbadges_claim("big", "a" * 32)
    endless = bitbadges_claim("endless", "b" * 32)
    garbled = bitbadges_claim("garbled", "c" * 32)
    plain = bitbadges_claim("plain", "d" * 32)
    with responses.RequestsMock() as mocked:
        serve_life(mocked, big, "10000000000", "5")
        serve_life(mocked, endless, UINT64_MAX, UINT64_MAX)
        serve_life(mocked, garbled, "²", "1")  # a digit to str.isdigit(), not to int()
        serve_life(mocked, plain, 10, 3)
        out = io.StringIO()
        with pytest.raises(
            CommandError, match="Could not read the life of garbled from BitBadges$"
        ):
            call_command("bitbadges_check", "--life", stdout=out, no_color=True)
        # The admin's Read again goes through the same keeping.
        response = admin_client.post(reverse("admin:claims_claim_read_life", args=[big.pk]))
        assert response.status_code == 302

    kept = {c.slug: c for c in Claim.objects.all()}
    assert (kept["big"].life_max_uses, kept["big"].life_used) == (10**10, 5)
    assert (kept["plain"].life_max_uses, kept["plain"].life_used) == (10, 3)  # read after
    # Beyond a bigint: a limit no claim reaches (none), and uses beyond any limit kept.
    assert (kept["endless"].life_max_uses, kept["endless"].life_used) == (None, life.BIGGEST)
    assert life.stop_for(kept["endless"]) is None
    assert kept["garbled"].life_read_at is None
    assert "BitBadges' answer could not be read" in kept["garbled"].life_read_error
    assert "garbled: not read: BitBadges' answer could not be read" in out.getvalue()
    assert "plain: 7 of 10 uses left; open" in out.getvalue()
    # A failed reading rests: the next minute's pass does not start with it again.
    assert list(life.due_for_reading()) == []

    change = admin_client.get(reverse("admin:claims_claim_change", args=[big.pk]))
    assert "9999999995 of 10000000000 left (5 taken)" in change.content.decode()
    change = admin_client.get(reverse("admin:claims_claim_change", args=[endless.pk]))
    assert "a limit no claim reaches" in change.content.decode()


def test_read_again_takes_a_claim_number_in_ascii_digits_only(admin_client):
    claim = Claim.objects.create(slug="local", name="Local", delivery="dynamic_store")
    other_digits = str(claim.pk).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for object_id in ("²", other_digits):
        url = reverse("admin:claims_claim_read_life", args=[object_id])
        assert admin_client.post(url).status_code == 404, object_id


def process_due(claim: Claim) -> None:
    call_command("complete_claims", "--claim", claim.slug, stdout=io.StringIO())


def hours_from_now(value: datetime.datetime) -> float:
    return round((value - timezone.now()).total_seconds() / 3600, 1)


def test_a_stopped_claim_waits_longer_each_time_and_spends_no_try(make_claim, alice, settings):
    settings.CLAIM_LIFE_STOPPED_WAIT = datetime.timedelta(hours=6)
    settings.CLAIM_LIFE_STOPPED_WAIT_MAX = datetime.timedelta(hours=20)
    claim = make_claim("used-up", life_max_uses=2, life_used=2)
    completion = Completion.objects.create(claim=claim, member=alice)
    waits = []
    for _ in range(3):
        process_due(claim)
        completion.refresh_from_db()
        assert (completion.state, completion.reason, completion.attempts) == (
            "waiting",
            USED_UP,
            0,
        )
        waits.append(hours_from_now(completion.next_attempt_at))
        # Its time comes: the wait went by.
        waited = completion.next_attempt_at - timezone.now()
        completion.events.filter(to_state="waiting").update(at=F("at") - waited)
        Completion.objects.filter(pk=completion.pk).update(next_attempt_at=timezone.now())
    assert waits == [6.0, 12.0, 20.0]


def test_a_claim_past_its_own_end_settles_its_waiting_completions(make_claim, alice):
    ended = timezone.now() - datetime.timedelta(days=1)
    claim = make_claim("ended", ends_at=ended)
    completion = Completion.objects.create(claim=claim, member=alice)
    process_due(claim)
    completion.refresh_from_db()
    assert completion.state == "ineligible"
    assert completion.reason.startswith("This claim closed on ")
    assert completion.next_attempt_at is None

"""`manage.py bitbadges_check` against the BitBadges sandbox over real HTTP: it passes on
a good set-up, and names the failing step (exiting non-zero) on each thing that would
stop deliveries: the key, the credits, a claim's plugins, a store secret, a claim whose
unknown outcomes could not be verified."""

import io

import pytest
from django.core.management import CommandError, call_command

from claims.models import Claim
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.bitbadges import credits as bb_sandbox_credits

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args) -> str:
    out = io.StringIO()
    call_command("bitbadges_check", *args, stdout=out, no_color=True)
    return out.getvalue()


def fails(*args) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("bitbadges_check", *args, stdout=out, no_color=True)
    return str(caught.value), out.getvalue()


def test_a_good_set_up_passes_every_step(demo_claims, settings):
    output = run()
    assert "Checking BitBadges at " + settings.BITBADGES_API_URL in output
    assert "[1/5] Settings" in output and "[2/5] API key" in output
    for slug in ("github-builders", "github-starter", "github-workflow"):
        assert f"Claim {slug}" in output
    assert "unknown outcomes verifiable through its attempts" in output
    assert "All 5 steps passed." in output
    assert settings.BITBADGES_API_KEY not in output
    for claim in demo_claims.values():
        if claim.has_password:
            assert claim.password() not in output
        if claim.has_store_secret:
            assert claim.store_secret() not in output


def test_a_wrong_key_stops_at_the_key_step(demo_claims, settings):
    settings.BITBADGES_API_KEY = "not-the-key-0000"
    message, output = fails()
    assert message.startswith("Step 2 of 5 (API key) failed:")
    assert "Check BITBADGES_API_KEY" in message
    assert "Claim github-starter" not in output  # nothing after a failed key
    assert "not-the-key-0000" not in output + message


def test_no_key_at_all_stops_at_the_settings_step(settings, db):
    settings.BITBADGES_API_KEY = ""
    message, _ = fails()
    assert message.startswith(
        "Step 1 of 2 (Settings) failed: configure: BITBADGES_API_KEY is not set"
    )


@pytest.mark.parametrize("path", ["/sandbox/nothing-here", "/sandbox/pipedream"])
def test_a_url_that_is_not_bitbadges_stops_at_the_key_step(demo_claims, settings, upstreams, path):
    settings.BITBADGES_API_URL = upstreams.url + path
    message, output = fails()
    assert message.startswith("Step 2 of 5 (API key) failed:")
    assert "Claim github-starter" not in output


def test_out_of_credits_says_where_to_top_up(demo_claims):
    bb_sandbox_credits.credits_set(0)
    message, _ = fails()
    assert message.startswith("Step 2 of 5 (API key) failed:")
    assert "out of credits. Top up at https://bitbadges.io/developer?tab=apiKeys" in message


def test_a_claim_that_needs_sign_in_is_named_and_the_others_still_checked(
    demo_claims, apps, settings
):
    upstream = bb_sandbox_claims.claim_create(password="pw", requires_sign_in=True)
    claim = Claim.objects.create(
        slug="signed-in",
        name="Signed in",
        enabled=True,
        delivery="bitbadges",
        bitbadges_claim_id=upstream.claim_id,
        password_instance_id="pwd",
    )
    claim.set_password("pw")
    claim.save()
    message, output = fails()
    assert message.startswith("Step 6 of 6 (Claim signed-in) failed:")
    assert "requires sign-in" in message
    assert output.count("ok") >= 5  # settings, key, and the three demo claims
    assert "Claim github-workflow" in output


def test_a_wrong_store_secret_and_an_unverifiable_claim_each_fail_their_step(demo_claims):
    store_claim = demo_claims["github-builders"]
    store_claim.set_store_secret("not-the-secret")
    store_claim.save()
    hidden = bb_sandbox_claims.claim_create(password="pw", hide_current_state=True)
    starter = demo_claims["github-starter"]
    starter.bitbadges_claim_id = hidden.claim_id
    starter.set_password("pw")
    starter.save()
    message, output = fails()
    assert "(2 steps failed)" in message
    assert "Step 3 of 5 (Claim github-builders) failed" in message
    assert "BitBadges refused the dynamic store" in output
    assert "Unknown outcomes of this claim cannot be verified" in output
    assert "not-the-secret" not in output + message


def test_a_store_claim_is_not_judged_by_the_attempts_route(demo_claims):
    # A store delivery is confirmed in the store: a claim that hides its attempts is fine.
    store_claim = demo_claims["github-builders"]
    hidden = bb_sandbox_claims.claim_create(store=store_claim.store_id, hide_current_state=True)
    store_claim.bitbadges_claim_id = hidden.claim_id
    store_claim.save()
    output = run("--claim", "github-builders")
    assert "All 3 steps passed." in output
    assert "verifiable through its attempts" not in output


def test_a_wrong_password_is_found_before_any_member_is(demo_claims):
    starter = demo_claims["github-starter"]
    starter.set_password("a-wrong-password")
    starter.save()
    message, output = fails("--claim", "github-starter")
    assert message.startswith("Step 3 of 3 (Claim github-starter) failed:")
    assert "BitBadges says the password is wrong" in message
    assert "a-wrong-password" not in output + message
    assert bb_sandbox_attempts.complete_calls(starter.bitbadges_claim_id) == 0  # simulated only


def test_one_claim_disabled_ones_and_no_claims(demo_claims, settings):
    Claim.objects.filter(slug="github-workflow").update(enabled=False)
    assert "All 4 steps passed." in run()
    assert "All 5 steps passed." in run("--all")
    assert "All 3 steps passed." in run("--claim", "github-workflow")
    Claim.objects.all().delete()
    output = run()
    assert "No enabled claims to check" in output and "All 2 steps passed." in output


@pytest.mark.parametrize("value", ["", "no-such-claim", "../x", "x" * 200, "1 OR 1=1"])
def test_a_bad_claim_argument_is_a_clear_error(db, upstreams, value):
    message, _ = fails("--claim", value)
    assert "claim" in message.lower() and "Traceback" not in message


def test_bitbadges_down_is_named_not_a_traceback(demo_claims, settings):
    settings.SANDBOX_FAULTS = {"bitbadges.*": {"status": 503}}
    message, output = fails()
    assert message.startswith("Step 2 of 5 (API key) failed:")
    assert "HTTP 503" in message

"""A claim may require a proven address (issue 22): Sign in with BitBadges proves the
member owns it; a typed address does not. The gate for any completion is a confirmed
email or a proven address.

Both sandboxes over real HTTP and the real task worker; the proof itself is set on the
member here (the sign-in flow is tested in tests/siwbb/) and announced with the signal the
sign-in code sends.
"""

import pytest
from allauth.account.models import EmailAddress

from claims import wording
from claims.engine.dry_run import claim_dry_run
from claims.models import Claim, Completion
from core.addresses import to_bitbadges_address
from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import stores as bb_stores
from tests.claims.admin_support import claim_form_data, form_errors, make_app
from tests.claims.claims_support import ALICE_ADDRESS, require, run_worker
from tests.members_support import reauthenticate
from tests.siwbb.siwbb_support import ALICE_0X, sign_in, siwbb_on
from users.siwbb import proof

pytestmark = pytest.mark.django_db(transaction=True)

ALICE_BB1 = to_bitbadges_address(ALICE_ADDRESS)
PROVE = "Prove this address is yours: connect BitBadges on your profile."


@pytest.fixture
def siwbb(settings):
    """Sign in with BitBadges on (its client id and secret set): members can prove."""
    settings.BITBADGES_CLIENT_ID = "claims-test-client"
    settings.BITBADGES_CLIENT_SECRET = "claims-test-secret"


@pytest.fixture
def starter(demo_claims, siwbb):
    """The GitHub starter claim (completed on BitBadges), for proven addresses only, alone."""
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    claim.require_proven_address = True
    claim.save()
    return claim


def prove(member):
    """What the sign-in code does once BitBadges proved the member's address (it saves
    the proof and sends address_proven: the claims waiting for it are checked again)."""
    member.refresh_from_db()
    answer = {"bitbadgesAddress": to_bitbadges_address(member.address), "address": member.address}
    proof.prove(member, answer)


def row_of(client, slug) -> str:
    page = client.get("/claims/").text
    return page.split(f'id="claim-{slug}"')[1].split('<li class="card claim')[0]


def test_a_typed_address_is_told_how_to_prove_it_and_completes_once_proven(
    starter, alice, connect, client
):
    connect(alice, "github", "octo")
    run_worker()
    completion = Completion.objects.get(claim=starter, member=alice)
    assert (completion.state, completion.reason) == ("ineligible", PROVE)
    assert bb_attempts.complete_calls(starter.bitbadges_claim_id) == 0

    client.force_login(alice)
    row = row_of(client, "github-starter")
    assert 'data-fix="prove"' in row and "Prove this BitBadges address is yours" in row
    # Its button connects BitBadges and comes back here.
    assert 'action="/auth/bitbadges/login/"' in row and 'value="connect"' in row
    assert 'name="next" value="/claims/"' in row and ">Connect BitBadges</button>" in row
    assert row.count(PROVE) == 1  # the requirement says it; the reason is not repeated

    prove(alice)  # the re-check runs by itself
    run_worker()
    completion.refresh_from_db()
    assert completion.state == "completed", completion.reason
    assert (completion.address, completion.address_proven) == (ALICE_BB1, True)
    assert bb_attempts.completions(starter.bitbadges_claim_id, ALICE_ADDRESS) == 1
    assert 'data-fix="prove"' not in row_of(client, "github-starter")


def test_connecting_bitbadges_from_the_row_proves_it_and_completes(
    starter, alice, connect, client, settings, live_server
):
    """The whole round with the real sign-in code against the sandbox's BitBadges."""
    siwbb_on(settings, live_server)
    connect(alice, "github", "octo")
    run_worker()
    client.force_login(alice)
    assert 'data-fix="prove"' in row_of(client, "github-starter")

    reauthenticate(client)  # connecting a login asks for the password first (allauth)
    response = sign_in(client, address=ALICE_0X, process="connect", next_url="/claims/")
    assert response.status_code == 302 and response["Location"].endswith("/claims/")
    alice.refresh_from_db()
    assert alice.address_proven
    run_worker()  # proving it asked for the re-check
    completion = Completion.objects.get(claim=starter, member=alice)
    assert (completion.state, completion.address_proven) == ("completed", True), completion.reason
    assert bb_attempts.completions(starter.bitbadges_claim_id, ALICE_ADDRESS) == 1


def test_a_member_with_no_address_is_told_to_connect_bitbadges(starter, alice, connect, client):
    alice.address = ""
    alice.save()
    connect(alice, "github", "octo")
    run_worker()
    completion = Completion.objects.get(claim=starter, member=alice)
    assert completion.reason == wording.PROVE_NEW_ADDRESS
    client.force_login(alice)
    assert wording.PROVE_NEW_ADDRESS in row_of(client, "github-starter")


def test_typing_another_address_drops_the_proof_the_same_account_keeps_it(starter, alice, client):
    prove(alice)
    client.force_login(alice)
    # The same account, in its bb1 spelling: still proven.
    client.post("/claims/address/", {"address": ALICE_BB1})
    alice.refresh_from_db()
    assert alice.address_proven and alice.address == ALICE_BB1
    # Another account: a typed address proves nothing.
    client.post("/claims/address/", {"address": "0x" + "1" * 40})
    alice.refresh_from_db()
    assert alice.address == "0x" + "1" * 40 and not alice.address_proven


def test_a_proven_address_without_an_email_completes_and_is_recorded(
    demo_claims, siwbb, alice, connect
):
    claim = demo_claims["github-starter"]  # no address rule of its own
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    EmailAddress.objects.filter(user=alice).delete()
    prove(alice)
    connect(alice, "github", "octo")
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert (completion.state, completion.address_proven) == ("completed", True), completion.reason
    email = next(rule for rule in completion.evidence if rule["rule"] == "email")
    assert (email["passed"], email["value"]) == (True, "proven address")


def test_a_member_with_neither_is_told_both_ways(demo_claims, siwbb, alice, connect):
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    EmailAddress.objects.filter(user=alice).update(verified=False)
    connect(alice, "github", "octo")
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "ineligible"
    assert completion.reason == (
        "Confirm your email address (we sent a link to alice@example.com), or prove your "
        "BitBadges address is yours: connect BitBadges on your profile."
    )
    assert bb_attempts.complete_calls(claim.bitbadges_claim_id) == 0


def test_the_dry_run_counts_a_typed_address_as_not_met(starter, alice, connect):
    connect(alice, "github", "octo")
    report = claim_dry_run(claim=starter, members=[alice], show_values=False)
    assert report.qualify == 0 and report.not_met == 1
    assert report.rows[0][2] == "not eligible: BitBadges address proven not met"
    prove(alice)
    alice.refresh_from_db()
    assert claim_dry_run(claim=starter, members=[alice]).qualify == 1


# --- The admin's claim form -------------------------------------------------------------


@pytest.fixture
def store_claim(upstreams):
    """A dynamic store claim the sandbox's BitBadges knows (store `s`, secret `x`)."""
    bb_stores.store_create(store_id="s", secret="x")
    claim = Claim(slug="members", name="Members", delivery="dynamic_store", store_id="s")
    claim.set_store_secret("x")
    claim.save()
    require(claim, make_app("github", "GitHub"))
    return claim


def test_the_admin_form_saves_both_rules(admin_client, store_claim, siwbb):
    url = f"/admin/claims/claim/{store_claim.pk}/change/"
    page = admin_client.get(url).text
    assert 'name="require_proven_address"' in page and 'name="one_completion_per_address"' in page
    assert "a typed one proves nothing" in page  # the section's help

    data = claim_form_data(
        store_claim, enabled=True, require_proven_address=True, one_completion_per_address=True
    )
    assert admin_client.post(url, data).status_code == 302
    store_claim.refresh_from_db()
    assert store_claim.require_proven_address and store_claim.one_completion_per_address

    # Unticked, a checkbox is absent from the post: both off again.
    assert admin_client.post(url, claim_form_data(store_claim)).status_code == 302
    store_claim.refresh_from_db()
    assert not (store_claim.require_proven_address or store_claim.one_completion_per_address)


def test_a_proof_nobody_can_give_is_refused_with_what_to_do(admin_client, store_claim):
    url = f"/admin/claims/claim/{store_claim.pk}/change/"
    # Sign in with BitBadges is off (no client id or secret): nobody could prove an address.
    data = claim_form_data(store_claim, enabled=True, require_proven_address=True)
    errors = form_errors(admin_client.post(url, data))
    assert errors["require_proven_address"].startswith(
        "Members prove their address with Sign in with BitBadges, which is off on this site"
    )
    assert (
        "Turn Sign in with BitBadges on first, or leave this off."
        in errors["require_proven_address"]
    )
    store_claim.refresh_from_db()
    assert not (store_claim.enabled or store_claim.require_proven_address)

    # Disabled, it is saved, with a warning saying the same.
    data = claim_form_data(store_claim, require_proven_address=True)
    response = admin_client.post(url, data, follow=True)
    assert "nobody could meet" in response.text
    store_claim.refresh_from_db()
    assert store_claim.require_proven_address and not store_claim.enabled

    # Hostile values for a checkbox are read as ticked or not, never a 500.
    for value in ("x" * 5000, "\x00", "false"):
        data = claim_form_data(store_claim, one_completion_per_address=value)
        assert admin_client.post(url, data).status_code in (200, 302)
    store_claim.refresh_from_db()
    assert store_claim.one_completion_per_address is False  # the last: "false"

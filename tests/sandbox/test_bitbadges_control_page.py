"""The BitBadges part of the control page, its admin pages, and the test helpers."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import base as bb_base
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import credits as bb_credits
from sandbox.bitbadges import demo as bb_demo
from sandbox.bitbadges import stores as bb_stores
from sandbox.bitbadges.models import BitBadgesClaim, BitBadgesStore
from sandbox.common.models import Fault
from tests.sandbox.bitbadges_support import BB, BB_2, ETH, BitBadgesTestClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user(
        username="ops", password="connect-demo", is_staff=True, is_superuser=True
    )
    client.force_login(user)
    return client


def test_the_page_lists_claims_and_stores(staff, settings):
    settings.SANDBOX_BITBADGES_STORE_LAG = 0
    store = bb_stores.store_create(label="VIP list", store_id="vip-store", secret="x")
    bb_stores.store_actions_record("vip-store", "x", [bb_stores.StoreAction("add", BB_2)])
    claim = bb_claims.claim_create(
        label="Starter", max_uses=5, password="pw", store=store, max_uses_per_address=1
    )
    body = {"_expectedVersion": -1, "pwd": {"password": "pw"}}
    with pytest.raises(bb_base.BitBadgesError, match="User not in whitelist"):
        bb_attempts.complete(claim.claim_id, ETH, body)
    bb_attempts.complete(claim.claim_id, BB_2, body)
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        bb_attempts.attempts_resolve_due()
    bb_stores.store_actions_record("vip-store", "x", [bb_stores.StoreAction("add", ETH)])
    bb_attempts.complete(claim.claim_id, ETH, body)  # pending

    html = staff.get("/sandbox/").content.decode()

    assert 'id="bitbadges"' in html
    assert claim.claim_id in html and "Starter" in html
    assert "numUses" in html and "password" in html and "whitelist" in html
    assert "1 / 5" in html  # BB was never in the store: only BB_2 completed
    assert f'<code class="sbx-small">{BB_2}</code> × 1' in html
    assert "1 pending" in html
    assert "vip-store" in html and "VIP list" in html
    assert "sandbox-bitbadges-api-key" in html


def test_the_demo_button(staff):
    response = staff.post("/sandbox/bitbadges/demo")
    assert response.status_code == 302 and response["Location"] == "/sandbox/#bitbadges"
    assert BitBadgesClaim.objects.count() == 3


def test_members_cannot_create_demo_claims(client, member):
    client.force_login(member)
    assert client.post("/sandbox/bitbadges/demo").status_code == 403


@pytest.mark.parametrize(
    "model",
    [
        "bitbadgesclaim",
        "bitbadgesattempt",
        "bitbadgesstore",
        "bitbadgesstoreaction",
        "bitbadgescredits",
    ],
)
def test_admin_pages_open(staff, model):
    bb_stores.store_create()
    claim = bb_claims.claim_create(password="pw")
    bb_attempts.complete(claim.claim_id, BB, {"_expectedVersion": -1, "pwd": {"password": "pw"}})
    assert staff.get(f"/admin/sandbox/{model}/").status_code == 200
    assert staff.get(f"/admin/sandbox/bitbadgesclaim/{claim.pk}/change/").status_code == 200


def test_demo_claims_ensure_is_idempotent_with_fixed_ids():
    first = bb_demo.demo_claims_ensure()
    second = bb_demo.demo_claims_ensure()

    assert first == second
    assert set(first) == {"github-starter", "store-members", "workflow-github"}
    assert set(first["github-starter"]) == {"claim_id", "password_instance_id", "password"}
    assert set(first["store-members"]) == {"claim_id", "store_id", "store_secret"}
    assert first["workflow-github"]["workflow_url_path"] == (
        "/sandbox/pipedream/workflows/en-sandbox-claim-github/"
    )
    assert BitBadgesClaim.objects.count() == 3 and BitBadgesStore.objects.count() == 1
    members = BitBadgesClaim.objects.get(claim_id=first["store-members"]["claim_id"])
    assert members.store_id == first["store-members"]["store_id"]
    assert members.max_uses_per_address == 1
    assert members.max_uses >= 1000


def test_demo_claims_work_end_to_end(settings):
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0
    settings.SANDBOX_BITBADGES_STORE_LAG = 0
    demo = bb_demo.demo_claims_ensure()
    starter, members = demo["github-starter"], demo["store-members"]

    bb_attempts.complete(
        starter["claim_id"],
        BB,
        {
            "_expectedVersion": -1,
            starter["password_instance_id"]: {"password": starter["password"]},
        },
    )
    bb_stores.store_actions_record(
        members["store_id"], members["store_secret"], [bb_stores.StoreAction("add", ETH)]
    )
    bb_attempts.complete(members["claim_id"], BB, {"_expectedVersion": -1})

    assert bb_attempts.completions(starter["claim_id"], ETH) == 1
    assert bb_attempts.completions(members["claim_id"], BB) == 1
    assert bb_stores.store_contains(members["store_id"], BB)


def test_helpers_take_either_address_form():
    claim = bb_claims.claim_create(claim_id="ABCDEF0123", whitelist=[BB])
    with pytest.raises(bb_base.BitBadgesError):
        bb_claims.claim_create(claim_id="not hex")
    with pytest.raises(bb_base.BitBadgesError):
        bb_claims.claim_create(whitelist=["nope"])

    assert claim.whitelist == [BB]
    assert bb_attempts.completions("ABCDEF0123", ETH) == 0
    assert bb_attempts.complete_calls("ABCDEF0123", ETH) == 0
    assert bb_attempts.attempts_resolve_due() == 0


# --- Credits, sign-in and hideCurrentState on the page -------------------------------


def test_the_page_shows_the_credits_and_the_form(staff):
    bb_credits.credits_set(42)
    html = staff.get("/sandbox/").content.decode()

    assert 'id="bitbadges-credits"' in html
    assert "<strong>42</strong> of 1000000000 left" in html
    assert 'action="/sandbox/bitbadges/credits"' in html
    assert 'name="remaining"' in html
    assert "out of credits" not in html


def test_setting_the_credits_to_zero_and_back(staff, client):
    claim = bb_claims.claim_create()
    api = BitBadgesTestClient(client)

    response = staff.post("/sandbox/bitbadges/credits", {"remaining": "0"})
    paused = api.get(f"/api/v0/claim/{claim.claim_id}")
    page = staff.get("/sandbox/").content.decode()
    staff.post("/sandbox/bitbadges/credits", {"remaining": "5"})
    resumed = api.get(f"/api/v0/claim/{claim.claim_id}")

    assert response.status_code == 302 and response["Location"] == "/sandbox/#bitbadges"
    assert paused.status_code == 402
    assert "out of credits" in page and "<strong>0</strong> of" in page
    assert resumed.status_code == 200
    assert bb_credits.credits_remaining() == 4


@pytest.mark.parametrize("value", ["-1", "abc", "", "1.5", str(10**16)])
def test_bad_credit_values_are_refused(staff, value):
    bb_credits.credits_set(7)
    response = staff.post("/sandbox/bitbadges/credits", {"remaining": value})
    assert response.status_code == 400
    assert "field-error" in response.content.decode()
    assert bb_credits.credits_remaining() == 7


def test_only_staff_set_credits_and_only_by_post(client, member, staff):
    assert staff.get("/sandbox/bitbadges/credits").status_code == 405
    client.force_login(member)
    assert client.post("/sandbox/bitbadges/credits", {"remaining": "0"}).status_code == 403
    assert bb_credits.credits_remaining() == 10**9


def test_setting_credits_needs_the_csrf_token(django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_user(username="ops2", password="x", is_staff=True)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    assert csrf_client.post("/sandbox/bitbadges/credits", {"remaining": "0"}).status_code == 403
    assert bb_credits.credits_remaining() == 10**9


def test_the_page_shows_sign_in_and_hidden_state(staff):
    bb_claims.claim_create(label="Signed", requires_sign_in=True, hide_current_state=True)
    html = staff.get("/sandbox/").content.decode()
    assert ">initiatedBy</span>" in html
    assert ">hideCurrentState</span>" in html
    assert "sign-in required" in html


def test_the_fault_form_offers_an_error_message(staff):
    html = staff.get("/sandbox/").content.decode()
    assert 'name="error_message"' in html

    response = staff.post(
        "/sandbox/faults/add",
        {
            "endpoint": "bitbadges.claims.complete",
            "status": "500",
            "rate": "1",
            "retry_after": "1",
            "latency_ms": "0",
            "hang_seconds": "0",
            "error_message": "A text nobody classified",
        },
    )
    too_long = staff.post(
        "/sandbox/faults/add",
        {
            "endpoint": "bitbadges.claims.complete",
            "status": "500",
            "rate": "1",
            "retry_after": "1",
            "latency_ms": "0",
            "hang_seconds": "0",
            "error_message": "x" * 501,
        },
    )

    assert response.status_code == 302
    fault = Fault.objects.get()
    assert fault.error_message == "A text nobody classified"
    assert (
        "HTTP 500 &quot;A text nobody classified&quot;" in staff.get("/sandbox/").content.decode()
    )
    assert too_long.status_code == 400
    assert Fault.objects.count() == 1

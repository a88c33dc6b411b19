"""An admin saves claims in Chromium; each is looked up on (the sandbox's) BitBadges first.

A `bitbadges` claim is completed by this site with its API key, which BitBadges allows
only without sign-in and with a password plugin: a BitBadges claim that asks for sign-in,
or has no password plugin, is refused with what to change there, and nothing is saved.
The same sign-in claim delivered by dynamic store saves: the member claims it on
BitBadges, signed in.
"""

import pytest
from playwright.sync_api import expect

from claims.models import Claim
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.bitbadges import stores as bb_sandbox_stores
from tests.browser_support import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def admin_page(site, browser, admin_user):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{site.url}/login/?next=/admin/claims/claim/add/")
    page.fill("#id_login", "admin")
    page.fill("#id_password", "password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/admin/claims/claim/add/")
    yield page
    context.close()


def fill_claim(page, *, name, delivery, claim_id, password="", store_id="", store_secret=""):
    page.fill("#id_name", name)
    page.check("#id_enabled")
    page.select_option("#id_requirements-0-app", label="GitHub")
    page.select_option("#id_delivery", delivery)
    page.fill("#id_bitbadges_claim_id", claim_id)
    if delivery == "bitbadges":
        page.fill("#id_password_instance_id", "pwd")
        page.fill("#id_password", password)
    else:
        page.fill("#id_store_id", store_id)
        page.fill("#id_store_secret", store_secret)
    page.click("input[name=_save]")


def shoot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(desktop)


def test_a_bitbadges_claim_that_asks_for_sign_in_is_refused_with_what_to_change(site, admin_page):
    page = admin_page
    upstream = bb_sandbox_claims.claim_create(password="pw", requires_sign_in=True)
    fill_claim(
        page, name="Signed in", delivery="bitbadges", claim_id=upstream.claim_id, password="pw"
    )
    # The form's own note; the claim ID's live preview may show one of its own as well.
    expect(page.locator(".errornote", has_text="Please correct the error")).to_be_visible()
    problem = page.locator(".field-delivery .errorlist")
    expect(problem).to_contain_text("This BitBadges claim requires sign-in")
    expect(problem).to_contain_text("turn sign-in off")
    shoot(page, "admin-preflight-sign-in")
    assert not Claim.objects.exists()
    assert page.locator("#id_password").input_value() == ""  # the secret is never sent back


def test_a_bitbadges_claim_without_a_password_plugin_is_refused(site, admin_page):
    page = admin_page
    upstream = bb_sandbox_claims.claim_create(password=None)
    fill_claim(page, name="Open", delivery="bitbadges", claim_id=upstream.claim_id, password="pw")
    expect(page.locator(".field-delivery .errorlist")).to_contain_text(
        "This BitBadges claim has no Password plugin"
    )
    assert not Claim.objects.exists()


def test_the_same_sign_in_claim_saves_for_dynamic_store_delivery(site, admin_page):
    page = admin_page
    store = bb_sandbox_stores.store_create(secret="store-secret-for-e2e")
    upstream = bb_sandbox_claims.claim_create(store=store, requires_sign_in=True)
    fill_claim(
        page,
        name="Store list",
        delivery="dynamic_store",
        claim_id=upstream.claim_id,
        store_id=store.dynamic_data_id,
        store_secret="store-secret-for-e2e",
    )
    expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")
    claim = Claim.objects.get()
    assert (claim.delivery, claim.enabled, claim.store_secret()) == (
        "dynamic_store",
        True,
        "store-secret-for-e2e",
    )
    shoot(page, "admin-preflight-store-saved")

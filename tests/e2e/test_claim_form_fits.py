"""The claim form shows what fits the claim, in Chromium: the chosen delivery method's
fields only, and a requirement's check fields only for its kind of check."""

import pytest
from playwright.sync_api import expect

from sandbox.bitbadges import claims as bb_sandbox_claims
from tests.browser_support import ARTIFACTS, logged_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def claim_form(site, browser, admin_user, apps):
    context, page = logged_in(browser, site, "/admin/claims/claim/add/")
    yield page
    context.close()


def row(page, name):
    return page.locator(f".form-row.field-{name}").first


def test_only_the_chosen_methods_fields_show(claim_form):
    page = claim_form
    page.select_option("#id_delivery", "workflow")
    expect(row(page, "workflow_url")).to_be_visible()
    expect(row(page, "password_instance_id")).to_be_hidden()
    expect(row(page, "store_secret")).to_be_hidden()
    page.select_option("#id_delivery", "bitbadges")
    expect(row(page, "password_instance_id")).to_be_visible()
    expect(row(page, "password")).to_be_visible()
    expect(row(page, "workflow_url")).to_be_hidden()
    expect(row(page, "store_id")).to_be_hidden()
    page.select_option("#id_delivery", "dynamic_store")
    expect(row(page, "store_secret")).to_be_visible()
    expect(row(page, "password")).to_be_hidden()
    expect(row(page, "bitbadges_claim_id")).to_be_visible()


def test_a_requirement_shows_the_fields_of_its_kind_of_check(claim_form):
    page = claim_form
    kind = page.locator("select[name='requirements-0-kind']")
    holder = page.locator("#requirements-0")
    kind.select_option("account")
    expect(holder.locator(".form-row.field-action")).to_be_hidden()
    expect(holder.locator(".form-row.field-path")).to_be_hidden()
    kind.select_option("action")
    expect(holder.locator(".form-row.field-action")).to_be_visible()
    expect(holder.locator(".form-row.field-props")).to_be_visible()
    expect(holder.locator(".form-row.field-proxy_url")).to_be_hidden()
    kind.select_option("proxy")
    expect(holder.locator(".form-row.field-proxy_url")).to_be_visible()
    expect(holder.locator(".form-row.field-action")).to_be_hidden()
    expect(holder.locator(".form-row.field-path")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "claim-form-proxy.png"), full_page=True)


def test_the_bitbadges_claim_shows_as_its_id_is_typed(claim_form, upstreams):
    page = claim_form
    upstream = bb_sandbox_claims.claim_create(
        label="Builders badge", password="right", requires_sign_in=True
    )
    page.select_option("#id_delivery", "bitbadges")
    page.fill("#id_password_instance_id", "pwd")
    page.fill("#id_bitbadges_claim_id", upstream.claim_id)
    box = page.locator("#bitbadges-claim-preview")
    expect(box.locator(".bitbadges-claim-name")).to_have_text("Builders badge")
    expect(box).to_contain_text("password (pwd)")
    expect(box.locator(".errornote")).to_contain_text("requires sign-in")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("fieldset:has(#id_delivery)").screenshot(
        path=str(ARTIFACTS / "claim-form-bitbadges-found.png")
    )
    page.fill("#id_bitbadges_claim_id", "no-such-claim")
    expect(box.locator(".errornote")).to_contain_text("BitBadges has no claim 'no-such-claim'")
    page.locator("fieldset:has(#id_delivery)").screenshot(
        path=str(ARTIFACTS / "claim-form-bitbadges-lookup.png")
    )


def test_the_trigger_is_offered_only_on_the_claims_apps(claim_form):
    page = claim_form
    apps = page.locator("select[name='requirements-0-app']")
    apps.select_option(label="Discord")
    trigger = page.locator("#id_trigger_app")
    offered = trigger.locator("option:not([hidden])")
    expect(offered).to_have_count(2)  # the blank choice and Discord
    expect(offered.nth(1)).to_have_text("Discord")
    page.click(".add-row a")
    page.locator("select[name='requirements-1-app']").select_option(label="GitHub")
    expect(offered).to_have_count(3)

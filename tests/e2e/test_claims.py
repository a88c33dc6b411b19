"""A member's claim completes by itself, watched in a real browser.

The task worker runs beside the live server (the real `db_worker`, looping in a
thread), as `make run` runs it beside the web process.
"""

import pytest
from playwright.sync_api import expect

from claims.models import Completion
from sandbox import bitbadges as bb_sandbox
from tests.e2e.flows_support import connect_in_iframe, log_in, watch_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


@pytest.fixture
def alice(member):
    member.address = ALICE_ADDRESS
    member.save()
    return member


def test_alice_connects_github_and_watches_the_claim_complete(
    live_server, claims_site, worker, page, alice, screenshot
):
    problems = watch_problems(page)
    log_in(page, live_server.url)
    page.get_by_role("link", name="Claims", exact=True).click()
    starter = page.locator("#claim-github-starter")
    expect(starter.get_by_text("Not started")).to_be_visible()
    expect(starter.get_by_text("Connect your GitHub account.")).to_be_visible()
    screenshot("claims-before-connecting")

    page.get_by_role("link", name="Accounts", exact=True).click()
    connect_in_iframe(page, "GitHub", "octocat")
    expect(page.locator("#accounts").get_by_text("octocat", exact=True)).to_be_visible()

    page.get_by_role("link", name="Claims", exact=True).click()
    page.evaluate("window.__sameDocument = true")
    expect(starter.locator(".badge")).to_have_text("Completed", timeout=30_000)
    # htmx swapped the fragment in place: the page never reloaded.
    assert page.evaluate("window.__sameDocument") is True
    expect(starter.get_by_text("GitHub connected and healthy")).to_be_visible()
    screenshot("claims-completed")

    # Once everything has settled the page stops polling.
    expect(page.locator("#claims")).not_to_have_attribute("data-polling", "true", timeout=30_000)
    completion = Completion.objects.get(claim=claims_site["github-starter"], member=alice)
    assert completion.state == "completed"
    assert (
        bb_sandbox.completions(claims_site["github-starter"].bitbadges_claim_id, ALICE_ADDRESS) == 1
    )
    # "octocat" is a new account with few repos: the builders list says why not.
    builders = page.locator("#claim-github-builders")
    expect(builders.get_by_text("Not yet")).to_be_visible()
    expect(builders.get_by_text("Needs user.public_repos ≥ 5")).to_be_visible()
    assert problems == []


def test_address_form_explains_a_bad_address(live_server, claims_site, page, alice, screenshot):
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/claims/")
    field = page.get_by_label("Your BitBadges address")
    expect(field).to_have_value(ALICE_ADDRESS)
    field.fill("0x742d35cC6634c0532925A3b844bc9E7595F0BEB1")  # one letter's case changed
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#address-error")).to_contain_text("checksum")
    screenshot("claims-bad-address")
    alice.refresh_from_db()
    assert alice.address == ALICE_ADDRESS


def test_claims_page_on_a_phone(live_server, claims_site, browser, alice):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url)
        page.goto(f"{live_server.url}/claims/")
        expect(page.locator("#claim-github-starter")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
        from tests.browser_support import ARTIFACTS

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "claims-phone.png"), full_page=True)
    finally:
        context.close()

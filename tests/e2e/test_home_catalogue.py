"""The public list of claims and the member's home page on a phone, in Chromium: each
reads right without scrolling sideways, and one leads to the other."""

import pytest
from playwright.sync_api import expect

from connections.models import App
from tests.browser_support import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _fits(page, path: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} scrolls sideways on a phone ({width} px)"


def test_catalogue_and_home_on_a_phone(site, browser, member, make_claim):
    github = App.objects.get(slug="github")
    discord = App.objects.get(slug="discord")
    make_claim(
        "github-starter",
        apps=[github],
        name="GitHub starter badge with a name long enough to wrap on a phone",
        description="Connect a GitHub account. That is all it takes to earn this one.",
    )
    make_claim("chatty", apps=[discord, github], name="Chatty")
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.goto(f"{site.url}/c/")
        expect(page.locator("#catalogue-github-starter")).to_be_visible()
        expect(page.locator("[data-state]")).to_have_count(0)  # no member, no state
        _fits(page, "/c/")
        page.screenshot(path=str(ARTIFACTS / "catalogue-phone.png"), full_page=True)

        page.goto(f"{site.url}/login/?next=/")
        page.fill("#id_login", "alice")
        page.fill("#id_password", "connect-demo")
        page.click("form:has(#id_password) button[type=submit]")
        page.wait_for_url(f"{site.url}/")
        needs = page.locator("#needs-you")
        expect(needs.get_by_role("link", name="Add your address")).to_be_visible()
        expect(needs.get_by_role("link", name="Connect GitHub").first).to_be_visible()
        _fits(page, "/")
        page.screenshot(path=str(ARTIFACTS / "home-phone.png"), full_page=True)

        page.get_by_role("link", name="All badges").click()
        page.wait_for_url(f"{site.url}/c/")
        expect(page.locator("#catalogue-chatty")).to_have_attribute("data-state", "needs_you")
        _fits(page, "/c/ (a member)")
    finally:
        context.close()

"""A newcomer signs up, confirms the emailed link and connects GitHub, in a real browser."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from connections.models import ConnectedAccount, ConnectSession
from tests.browser_support import ARTIFACTS
from tests.e2e.flows_support import FRAME, connect_in_iframe, log_in, watch_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "purple-Kettle-42-river"


def test_newcomer_signs_up_confirms_the_email_and_connects(site, page, screenshot):
    problems = watch_problems(page)
    page.goto(f"{site.url}/")
    page.get_by_role("link", name="Sign up", exact=True).click()
    page.wait_for_url(f"{site.url}/signup/")
    screenshot("signup")
    page.fill("#id_username", "carol")
    page.fill("#id_email", "carol@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    # A sign-up logs nobody in (issue 17): the page says what to do next.
    page.wait_for_url(f"{site.url}/confirm-email/")
    expect(page.locator("h1")).to_have_text("Check your inbox")
    expect(page.locator("main")).to_contain_text("Open it and press")
    screenshot("signup-check-your-inbox")
    # The password works before the address is confirmed.
    page.get_by_role("link", name="Log in", exact=True).last.click()
    page.fill("#id_login", "carol")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{site.url}/")
    banner = page.locator(".verify-banner")
    expect(banner).to_contain_text("Confirm your email to connect accounts")
    expect(banner).to_contain_text("carol@example.com")
    screenshot("signup-done-banner")

    # Before confirming, connecting is refused with the reason, and nothing is recorded.
    page.goto(f"{site.url}/accounts/")
    connect_in_button = page.get_by_role("link", name="Connect GitHub", exact=True)
    connect_in_button.click()
    expect(page.locator(".app-tile .connect-error")).to_contain_text("Confirm your email")
    expect(page.locator(FRAME)).to_have_count(0)
    assert not ConnectSession.objects.exists()
    screenshot("signup-connect-refused")

    # The emailed link (built on PUBLIC_URL, here the live server) confirms the address.
    [message] = [m for m in mail.outbox if m.to == ["carol@example.com"]]
    link = re.search(r"https?://\S+/confirm-email/\S+/", message.body).group(0)
    assert link.startswith(site.url)
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Confirm your email")
    screenshot("email-confirm")
    page.get_by_role("button", name="Yes, confirm it").click()
    expect(page.locator("#messages")).to_contain_text("carol@example.com is confirmed")
    expect(page.locator(".verify-banner")).to_have_count(0)
    assert EmailAddress.objects.get(email="carol@example.com").verified

    page.goto(f"{site.url}/accounts/")
    connect_in_iframe(page, name="carol-gh")
    expect(page.locator("#accounts").get_by_text("carol-gh", exact=True)).to_be_visible()
    carol = get_user_model().objects.get(username="carol")
    assert ConnectedAccount.objects.get().member == carol
    # The one refused token request is the only thing the console complains about.
    assert problems == [
        "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    ]


def test_the_link_confirmed_in_the_signing_up_browser_logs_in(site, page, screenshot):
    page.goto(f"{site.url}/signup/")
    page.fill("#id_username", "erin")
    page.fill("#id_email", "erin@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(f"{site.url}/confirm-email/")
    [message] = [m for m in mail.outbox if m.to == ["erin@example.com"]]
    page.goto(re.search(r"https?://\S+/confirm-email/\S+/", message.body).group(0))
    page.get_by_role("button", name="Yes, confirm it").click()
    page.wait_for_url(f"{site.url}/")
    expect(page.locator("#messages")).to_contain_text("erin@example.com is confirmed")
    expect(page.locator(".verify-banner")).to_have_count(0)
    assert EmailAddress.objects.get(email="erin@example.com").verified


def test_signup_mistakes_are_explained(site, page, member, screenshot):
    page.goto(f"{site.url}/signup/")
    page.fill("#id_username", "alice")
    page.fill("#id_email", "alice@example.com")
    page.fill("#id_password1", "12345678")
    page.fill("#id_password2", "12345678")
    page.get_by_role("button", name="Create my account").click()
    errors = page.locator(".field-error")
    expect(errors.first).to_be_visible()
    text = " ".join(errors.all_inner_texts())
    assert "This username is taken" in text
    assert "too common" in text
    screenshot("signup-errors")
    assert get_user_model().objects.count() == 1


PAGES = {
    "login": "/login/",
    "signup": "/signup/",
    "password-reset": "/password/reset/",
    "password-reset-done": "/password/reset/done/",
}
MEMBER_PAGES = {"email": "/email/", "password-change": "/password/change/"}


@pytest.mark.parametrize("width, height, suffix", [(1280, 800, "desktop"), (390, 844, "phone")])
def test_account_pages_on_desktop_and_phone(site, browser, member, width, height, suffix):
    """Screenshots for people to look at, and no page wider than the screen."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = watch_problems(page)
    ARTIFACTS.mkdir(exist_ok=True)

    def shoot(name, path):
        page.goto(f"{site.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        page.screenshot(path=str(ARTIFACTS / f"accounts-{name}-{suffix}.png"), full_page=True)

    try:
        for name, path in PAGES.items():
            shoot(name, path)
        log_in(page, site.url)
        for name, path in MEMBER_PAGES.items():
            shoot(name, path)
    finally:
        context.close()
    assert problems == []

"""The claim a newcomer set out for survives another device and the hosted Connect page.

They open /c/github-starter/ and sign up; the emailed link is opened in a second,
logged-out browser (JavaScript off, as a locked-down phone might be): it confirms, they
log in there and land on the claim, save the address, and connect GitHub through
Pipedream's hosted page (no iframe without JavaScript), which ends back on the claim.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from connections.models import ConnectSession
from tests.browser_support import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "purple-Kettle-42-river"
ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


def test_the_claim_survives_another_browser_and_the_hosted_page(site, claims_site, page, browser):
    claim_url = f"{site.url}/c/github-starter/"
    page.goto(claim_url)
    page.get_by_role("link", name="Sign up to claim it").click()
    page.fill("#id_username", "nina")
    page.fill("#id_email", "nina@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")

    [message] = [m for m in mail.outbox if m.to == ["nina@example.com"]]
    link = re.search(r"https?://\S+/confirm-email/\S+/", message.body).group(0)
    other = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    phone = other.new_page()
    phone.set_default_timeout(10_000)
    try:
        phone.goto(link)
        phone.get_by_role("button", name="Yes, confirm it").click()
        # Confirmed, but not logged in here: the login page, then the claim.
        phone.wait_for_url(re.compile(r"/login/"))
        phone.fill("#id_login", "nina")
        phone.fill("#id_password", PASSWORD)
        phone.click("main button[type=submit]")
        phone.wait_for_url(claim_url)
        progress = phone.locator("#landing-progress")
        expect(progress).to_have_attribute("data-step", "address")

        phone.get_by_label("Your BitBadges address").fill(ADDRESS)
        phone.get_by_role("button", name="Save my address").click()
        phone.wait_for_url(claim_url)
        expect(progress).to_have_attribute("data-step", "connect")

        # Without JavaScript the Connect button is a link to the hosted page.
        phone.get_by_role("link", name="Connect GitHub", exact=True).click()
        phone.wait_for_url(re.compile(r".*/_static/connect\.html\?.*connectLink=true.*"))
        phone.get_by_label("Account name").fill("nina-gh")
        phone.get_by_role("button", name="Allow").click()
        phone.wait_for_url(claim_url)
        expect(phone.locator("#messages")).to_contain_text("Your GitHub account is connected.")
        expect(progress).not_to_have_attribute("data-step", "connect")
        ARTIFACTS.mkdir(exist_ok=True)
        phone.screenshot(path=str(ARTIFACTS / "start-claim-back-from-hosted.png"), full_page=True)
    finally:
        other.close()
    nina = get_user_model().objects.get(username="nina")
    assert nina.start_path == ""  # used: she landed on it with her email confirmed
    session = ConnectSession.objects.get(member=nina)
    assert (session.mode, session.status) == ("link", "connected")

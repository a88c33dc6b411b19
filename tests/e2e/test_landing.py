"""A newcomer arrives from BitBadges on a claim's landing page and leaves with it completed.

One button at each step: sign up ("check your inbox": a sign-up logs nobody in, issue
17), log in from there back to the claim, confirm the emailed link (in another tab, as a
mail client opens it; the claim's tab moves on by itself), the address, GitHub in the
iframe, then the worker completes the claim while the page watches.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from claims.models import Completion
from sandbox.bitbadges import attempts as bb_sandbox
from tests.browser_support import ARTIFACTS
from tests.e2e.flows_support import FRAME, watch_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "purple-Kettle-42-river"
ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def shoot(page, name: str) -> None:
    """Desktop and phone screenshots of the page as it is; it never scrolls sideways."""
    ARTIFACTS.mkdir(exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name} scrolls sideways on {label} ({width} px)"
        page.screenshot(path=str(ARTIFACTS / f"landing-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def test_newcomer_goes_from_the_landing_page_to_a_completed_claim(
    site,
    claims_site,
    worker,
    page,
):
    problems = watch_problems(page)
    claim_url = f"{site.url}/c/github-starter/"
    page.goto(claim_url)
    expect(page.locator("h1")).to_have_text("GitHub starter badge")
    expect(page.locator(".landing-needs")).to_contain_text("A GitHub account")
    shoot(page, "1-visitor")

    # The one button: sign up, and come back here.
    page.get_by_role("link", name="Sign up to claim it").click()
    page.wait_for_url(f"{site.url}/signup/?next=/c/github-starter/")
    page.fill("#id_username", "dana")
    page.fill("#id_email", "dana@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(f"{site.url}/confirm-email/?next=%2Fc%2Fgithub-starter%2F")
    expect(page.locator("h1")).to_have_text("Check your inbox")
    shoot(page, "2-check-your-inbox")
    # Logging in before confirming is allowed, and comes back to the claim.
    page.get_by_role("link", name="Log in", exact=True).last.click()
    page.fill("#id_login", "dana")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(claim_url)
    progress = page.locator("#landing-progress")
    expect(progress).to_have_attribute("data-step", "email")
    expect(progress).to_contain_text("dana@example.com")
    shoot(page, "2-confirm-email")

    # The emailed link, opened in another tab; the claim's tab moves on by itself.
    [message] = [m for m in mail.outbox if m.to == ["dana@example.com"]]
    link = re.search(r"https?://\S+/confirm-email/\S+/", message.body).group(0)
    inbox_tab = page.context.new_page()
    inbox_tab.goto(link)
    inbox_tab.get_by_role("button", name="Yes, confirm it").click()
    expect(inbox_tab.locator("#messages")).to_contain_text("dana@example.com is confirmed")
    inbox_tab.close()
    expect(progress).to_have_attribute("data-step", "address", timeout=15_000)
    shoot(page, "3-address")

    # The address: a mistake is explained on the page, then the right one.
    field = page.get_by_label("Your BitBadges address")
    field.fill("0x742d35cC6634c0532925A3b844bc9E7595F0BEB1")  # one letter's case changed
    page.get_by_role("button", name="Save my address").click()
    expect(page.locator("#address-error")).to_contain_text("checksum")
    page.get_by_label("Your BitBadges address").fill(ADDRESS)
    page.get_by_role("button", name="Save my address").click()
    expect(progress).to_have_attribute("data-step", "connect")
    expect(progress.locator("[data-key=address]")).to_have_class("done")
    shoot(page, "4-connect")

    # GitHub in the iframe, on this page; it reloads to the claim's state.
    page.get_by_role("link", name="Connect GitHub", exact=True).click()
    frame = page.frame_locator(FRAME)
    frame.get_by_label("Account name").fill("dana-gh")
    frame.get_by_role("button", name="Allow").click()
    expect(page.locator(FRAME)).to_have_count(0, timeout=15_000)
    expect(progress.locator(".claim-head .badge")).to_have_text("Completed", timeout=30_000)
    expect(progress).to_contain_text("The badge is on its way")
    shoot(page, "5-completed")

    dana = get_user_model().objects.get(username="dana")
    claim = claims_site["github-starter"]
    assert Completion.objects.get(claim=claim, member=dana).state == "completed"
    assert bb_sandbox.completions(claim.bitbadges_claim_id, ADDRESS) == 1
    # The first, refused address answered 400; nothing else went wrong.
    assert all("400" in problem for problem in problems), problems


def test_unknown_claim_is_a_friendly_page(site, page):
    response = page.goto(f"{site.url}/c/no-such-claim/")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("No such claim")
    page.get_by_role("link", name="Go to the home page").click()
    # Home asks a visitor to log in first (every page but the public ones does).
    page.wait_for_url(re.compile(r"/(login/\?next=/)?$"))
    page.goto(f"{site.url}/c/no-such-claim/")
    shoot(page, "404")


def test_admin_copies_the_landing_url(site, claims_site, browser, admin_user):
    """The claim's admin page shows the URL on PUBLIC_URL; Copy puts it on the clipboard
    (copy.js is a static file: the CSP refuses inline scripts, and none is refused)."""
    context = browser.new_context(
        viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = watch_problems(page)
    missing = []
    page.on("response", lambda r: r.status == 404 and missing.append(r.url))
    claim = claims_site["github-starter"]
    change = f"/admin/claims/claim/{claim.pk}/change/"
    try:
        page.goto(f"{site.url}/login/?next={change}")
        page.fill("#id_login", "admin")
        page.fill("#id_password", "password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{site.url}{change}")
        field = page.locator("#claim-landing-url")
        expect(field).to_have_value(f"{site.url}/c/github-starter/")
        page.get_by_role("button", name="Copy", exact=True).click()
        expect(page.locator("#claim-landing .copy-status")).to_have_text("Copied to the clipboard.")
        assert page.evaluate("navigator.clipboard.readText()") == f"{site.url}/c/github-starter/"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "landing-admin-url.png"))
    finally:
        context.close()
    # The admin's pages have no <link rel=icon>: the browser's guess is the one 404.
    assert {url.rsplit("/", 1)[-1] for url in missing} <= {"favicon.ico"}
    assert [p for p in problems if "404" not in p] == []

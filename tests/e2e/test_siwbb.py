"""Issue 22's Chromium must-shows: Sign in with BitBadges, against the sandbox over HTTP.

A newcomer opens /c/github-starter/, clicks "Sign in with BitBadges", enters an address
on the sandbox's authorize page and approves: back on the claim, signed in, no password
and no address typed here, the address proven; GitHub through the Connect dialog, and
the page shows the claim completed; BitBadges' record has the completion to that
address. Then a member with a typed address on a claim that takes only a proven one: the
page says how to prove it, Connect BitBadges, approve, and the claim moves on.
SHOTS=1 saves the claim page and the authorize page to test-artifacts/siwbb/.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from claims.models import Completion
from core.addresses import to_bitbadges_address
from tests.e2e.flows_support import FRAME
from tests.e2e.siwbb_support import (
    DESKTOP,
    sandbox_completions,
    shots,
    siwbb_on,
    watch_problems,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Entered on the authorize page in EIP-55 spelling; BitBadges answers it in lower case.
NEWCOMER = "0x8ba1f109551bD432803012645Ac136ddd64DBA72"
ALICE_TYPED = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"  # the sandbox's user "alice"
AUTHORIZE = re.compile(r".*/sandbox/bitbadges/siwbb/authorize\?.*")


@pytest.fixture
def desk(browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_newcomer_signs_in_with_bitbadges_and_the_claim_completes(
    site, claims_site, worker, settings, desk
):
    siwbb_on(settings, site)
    page = desk
    problems = watch_problems(page)
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    claim_url = f"{site.url}/c/github-starter/"

    page.goto(claim_url)
    expect(page.locator("h1")).to_have_text("GitHub starter badge")
    shots(page, "1-claim-newcomer")
    page.get_by_role("button", name="Sign in with BitBadges").click()

    page.wait_for_url(AUTHORIZE)
    expect(page.locator("h1")).to_have_text("Sign in with BitBadges")
    shots(page, "2-authorize")
    page.get_by_label("Or enter an address").fill(NEWCOMER)
    page.get_by_role("button", name="Approve").click()

    # Back on the claim, signed in: the next step is GitHub.
    page.wait_for_url(claim_url)
    progress = page.locator("#landing-progress")
    expect(progress).to_have_attribute("data-step", "connect")
    expect(progress.locator("[data-key=email]")).to_have_class("done")
    expect(progress.locator("[data-key=address]")).to_have_class("done")
    shots(page, "3-claim-signed-in")

    [member] = get_user_model().objects.all()
    assert not member.has_usable_password()
    assert member.address_proven
    assert to_bitbadges_address(member.address) == to_bitbadges_address(NEWCOMER)
    # Nothing typed here: the only POSTs were the button, the authorize page's Approve.
    assert [url.split("?")[0] for url in posts] == [
        f"{site.url}/auth/bitbadges/login/",
        f"{site.url}/sandbox/bitbadges/siwbb/authorize",
    ], posts

    page.get_by_role("link", name="Connect GitHub", exact=True).click()
    frame = page.frame_locator(FRAME)
    frame.get_by_label("Account name").fill("newcomer-gh")
    frame.get_by_role("button", name="Allow").click()
    expect(page.locator(FRAME)).to_have_count(0)
    # The page polls the claim while the worker delivers it.
    expect(progress.locator(".claim-head .badge")).to_have_text("Completed", timeout=30_000)
    expect(progress).to_contain_text("The badge is on its way")
    shots(page, "4-claim-completed")

    claim = claims_site["github-starter"]
    completion = Completion.objects.get(claim=claim, member=member)
    assert (completion.state, completion.address_proven) == ("completed", True)
    [attempt] = sandbox_completions(site, claim.bitbadges_claim_id)
    assert attempt["bitbadgesAddress"] == to_bitbadges_address(member.address)
    assert problems == []


def test_a_typed_address_is_proven_on_a_claim_that_requires_it(
    site, claims_site, member, settings, desk
):
    siwbb_on(settings, site)
    claim = claims_site["github-starter"]
    claim.require_proven_address = True
    claim.save(update_fields=["require_proven_address"])
    member.address = ALICE_TYPED
    member.save(update_fields=["address"])
    assert not member.address_proven
    page = desk
    problems = watch_problems(page)
    claim_url = f"{site.url}/c/github-starter/"

    page.goto(f"{site.url}/login/?next=/c/github-starter/")
    page.fill("#id_login", "alice")
    page.fill("#id_password", "connect-demo")
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_url(claim_url)
    progress = page.locator("#landing-progress")
    expect(progress).to_have_attribute("data-step", "prove")
    expect(progress).to_contain_text("Prove your BitBadges address.")
    expect(progress).to_contain_text("is not proven yet")
    shots(page, "5-claim-prove")

    page.get_by_role("button", name="Connect BitBadges").click()
    # Connecting a login asks for the password first (a fresh log-in does not count).
    page.wait_for_url(re.compile(r".*/reauthenticate/.*"))
    page.fill("#id_password", "connect-demo")
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_url(AUTHORIZE)
    page.get_by_role("radio", name=re.compile(r"\balice 0x")).check()
    page.get_by_role("button", name="Approve").click()

    page.wait_for_url(claim_url)
    expect(progress).to_have_attribute("data-step", "connect")
    expect(progress.locator("[data-key=prove]")).to_have_class("done")
    expect(page.locator("#messages")).to_contain_text("BitBadges proved that")
    shots(page, "6-claim-proven")
    member.refresh_from_db()
    assert member.address_proven
    assert to_bitbadges_address(member.address) == to_bitbadges_address(ALICE_TYPED)
    assert problems == []

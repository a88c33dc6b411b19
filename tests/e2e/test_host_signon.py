"""Issue 23's Chromium must-show: sign-on from the host site, against the sandbox's
OpenID Connect provider over HTTP, with SIGNUP_OPEN=false.

A member of the sandbox's host site (alice, her email verified there) opens a demo claim,
clicks "Log in with Sandbox Community", picks herself and approves on the sandbox's page,
and lands back on the claim logged in: an account made for her here (sign-up is closed
to everyone else), her email confirmed because the host said so. She types the address
the badge goes to, connects GitHub in the Connect dialog, and the claim shows Completed.
The sign-up form, meanwhile, refuses newcomers and says who can join.
SHOTS=1 saves the pages to test-artifacts/hostsso/.
"""

import os
import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from claims.models import Completion
from sandbox.host.registry import register_client
from tests.browser_support import ARTIFACTS
from tests.e2e.axe_support import axe_violations, described
from tests.e2e.flows_support import FRAME
from tests.e2e.siwbb_support import DESKTOP, PHONE, watch_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CLIENT_ID = "connect-claim-e2e-host"
CLIENT_SECRET = "e2e-host-client-secret-0123456789"  # noqa: S105 (the sandbox's, for tests)
CALLBACK_PATH = "/auth/oidc/host/login/callback/"
AUTHORIZE = re.compile(r".*/sandbox/host/authorize\?.*")
ADDRESS = "0x8ba1f109551bD432803012645Ac136ddd64DBA72"
SHOTS = os.environ.get("SHOTS") == "1"


def host_on(settings, live_server) -> None:
    """This site registered at the sandbox's provider; sign-on on, sign-up closed."""
    register_client(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[live_server.url + CALLBACK_PATH],
        name="Connect & Claim",
    )
    settings.SANDBOX = True
    settings.HOST_SITE_NAME = ""  # the sandbox's: Sandbox Community
    settings.HOST_OIDC_ISSUER = ""  # the sandbox's: PUBLIC_URL/sandbox/host
    settings.HOST_OIDC_CLIENT_ID = CLIENT_ID
    settings.HOST_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.HOST_OIDC_TIMEOUT = 5
    settings.BITBADGES_CLIENT_ID = ""
    settings.SIGNUP_OPEN = False


def shots(page, name: str) -> None:
    """The page never scrolls sideways at desktop and phone width and axe-core finds no
    WCAG A/AA violation; with SHOTS=1, test-artifacts/hostsso/<name>-desktop.png and
    -phone.png (whole page)."""
    wide = described(name, axe_violations(page))
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        if SHOTS:
            folder = ARTIFACTS / "hostsso"
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > size["width"]:
            wide.append(f"{name} scrolls sideways on {label} ({width} px)")
        if label == "phone":
            wide.extend(described(f"{name}-phone", axe_violations(page)))
    page.set_viewport_size(DESKTOP)
    assert not wide, wide


@pytest.fixture
def desk(browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_host_member_signs_on_and_the_claim_completes(site, claims_site, worker, settings, desk):
    host_on(settings, site)
    page = desk
    problems = watch_problems(page)
    claim_url = f"{site.url}/c/github-starter/"

    page.goto(claim_url)
    expect(page.locator("h1")).to_have_text("GitHub starter badge")
    expect(page.locator("#landing-progress")).to_contain_text(
        "Only members of Sandbox Community can join"
    )
    shots(page, "1-claim-visitor")
    page.get_by_role("button", name="Log in with Sandbox Community").click()

    page.wait_for_url(AUTHORIZE)
    expect(page.locator("h1")).to_have_text("Sandbox Community")
    page.get_by_role("radio", name=re.compile(r"^alice\b")).check()
    if SHOTS:  # the sandbox's page (its own tests check it): a picture only
        page.screenshot(path=str(ARTIFACTS / "hostsso" / "2-host-authorize.png"), full_page=True)
    page.get_by_role("button", name="Approve").click()

    # Back on the claim, logged in: the email is confirmed (the host verified it), the
    # address the badge goes to is next.
    page.wait_for_url(claim_url)
    progress = page.locator("#landing-progress")
    expect(progress).to_have_attribute("data-step", "address")
    expect(progress.locator("[data-key=email]")).to_have_class("done")
    expect(page.locator("#messages")).to_contain_text("your username is alice")
    shots(page, "3-claim-signed-on")

    [member] = get_user_model().objects.all()
    assert member.signup_method == "host" and not member.has_usable_password()
    assert SocialAccount.objects.get(user=member).uid == "host-alice-0001"

    page.get_by_label("BitBadges address").fill(ADDRESS)
    page.get_by_role("button", name="Save my address").click()
    expect(progress).to_have_attribute("data-step", "connect")
    page.get_by_role("link", name="Connect GitHub", exact=True).click()
    frame = page.frame_locator(FRAME)
    frame.get_by_label("Account name").fill("alice-gh")
    frame.get_by_role("button", name="Allow").click()
    expect(page.locator(FRAME)).to_have_count(0)
    expect(progress.locator(".claim-head .badge")).to_have_text("Completed", timeout=30_000)
    shots(page, "4-claim-completed")

    completion = Completion.objects.get(claim=claims_site["github-starter"], member=member)
    assert completion.state == "completed"
    assert problems == []


def test_with_sign_up_closed_the_form_refuses_and_points_to_the_host(site, settings, desk):
    host_on(settings, site)
    page = desk
    page.goto(f"{site.url}/signup/")
    expect(page.locator("h1")).to_have_text("Only members of Sandbox Community can join")
    expect(page.get_by_role("button", name="Log in with Sandbox Community")).to_be_visible()
    expect(page.locator("input[name=password1]")).to_have_count(0)
    shots(page, "5-signup-closed")
    # A sign-up posted anyway (an old form, a script), with a valid CSRF token, makes nobody.
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    answer = page.request.post(
        f"{site.url}/signup/",
        form={
            "csrfmiddlewaretoken": token,
            "username": "mallory",
            "email": "mallory@example.com",
            "password1": "a-Strong-pass-4-mallory",
            "password2": "a-Strong-pass-4-mallory",
        },
        headers={"Origin": site.url, "Referer": f"{site.url}/signup/"},
    )
    assert answer.status == 200 and "Only members of Sandbox Community can join" in answer.text()
    assert not get_user_model().objects.exists()

"""A member deletes her account from /profile/ through a real browser, against the sandbox."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from connections import services as connections_services
from sandbox.pipedream import models as sandbox_models
from sandbox.pipedream import services as pd_sandbox
from tests.browser_support import ARTIFACTS
from tests.e2e.flows_support import log_in, watch_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


def connect(member, name="octo-alice"):
    _raw, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox",
        environment="development",
        external_user_id=str(member.external_id),
    )
    upstream = pd_sandbox.account_connect(token=token, app_slug="github", name=name)
    return connections_services.account_record(member=member, pipedream_id=upstream.account_id)


def test_alice_deletes_her_account(site, page, member, screenshot):
    member.address = ALICE_ADDRESS
    member.save(update_fields=["address"])
    connect(member)
    external_id = str(member.external_id)
    problems = watch_problems(page)

    log_in(page, site.url)
    page.get_by_role("link", name="Profile", exact=True).click()
    page.wait_for_url(f"{site.url}/profile/")
    expect(page.locator("h1")).to_have_text("Your profile")
    expect(page.locator(".profile-email")).to_have_text("alice@example.com")
    expect(page.locator("#id_address")).to_have_value(ALICE_ADDRESS)
    screenshot("profile")

    page.get_by_role("link", name="Delete my account…").click()
    # Deleting asks for the password again first.
    page.wait_for_url(f"{site.url}/reauthenticate/**")
    page.fill("#id_password", "connect-demo")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{site.url}/profile/delete/")
    # Not one click: the button alone refuses.
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".field-error")).to_contain_text("Type your username")
    assert get_user_model().objects.filter(username="alice").exists()
    # The refusal is a 400, which the browser reports; nothing else went wrong.
    assert [p for p in problems if "status of 400" not in p] == []
    problems.clear()
    page.fill("#id_confirm", "alice")
    screenshot("profile-delete-confirm")

    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_load_state()
    expect(page.locator(".message.success")).to_contain_text("Your account is deleted")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    screenshot("profile-deleted")
    assert problems == []

    assert not get_user_model().objects.filter(username="alice").exists()
    assert not sandbox_models.ExternalUser.objects.filter(external_id=external_id).exists()
    assert not sandbox_models.Account.objects.filter(name="octo-alice").exists()


def test_profile_pages_on_a_phone(site, browser, member):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, site.url)
        page.goto(f"{site.url}/reauthenticate/")  # the delete page asks for it
        page.fill("#id_password", "connect-demo")
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_load_state()
        ARTIFACTS.mkdir(exist_ok=True)
        for path, name in (("/profile/", "profile-phone"), ("/profile/delete/", "delete-phone")):
            page.goto(f"{site.url}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} scrolls sideways on a phone ({width} px)"
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()

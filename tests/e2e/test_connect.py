"""A member connects accounts in a real browser, against the sandbox over real HTTP."""

import re

import pytest
from playwright.sync_api import expect

from connections import services
from connections.models import App, ConnectedAccount, ConnectSession
from sandbox.pipedream.models import Account
from tests.browser_support import ARTIFACTS
from tests.e2e.flows_support import FRAME, connect_in_iframe, log_in, watch_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_connect_github_in_the_iframe(site, page, member, screenshot):
    problems = watch_problems(page)
    log_in(page, site.url)
    expect(page.get_by_text("No accounts connected yet.")).to_be_visible()
    screenshot("connect-accounts-empty")
    page.evaluate("window.__sameDocument = true")

    page.get_by_role("link", name="Connect GitHub", exact=True).click()
    iframe = page.locator(FRAME)
    expect(iframe).to_be_visible()
    box = iframe.bounding_box()
    assert box["x"] == 0 and box["y"] == 0 and box["width"] == 1280
    frame = page.frame_locator(FRAME)
    expect(frame.get_by_role("button", name="Allow")).to_be_visible()
    screenshot("connect-iframe-open")
    frame.get_by_label("Account name").fill("octocat")
    frame.get_by_role("button", name="Allow").click()

    accounts = page.locator("#accounts")
    expect(accounts.get_by_text("octocat", exact=True)).to_be_visible()
    expect(page.locator(FRAME)).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("is connected")
    expect(accounts.locator("#connected .badge")).to_have_text("Healthy")
    expect(page.locator("#apps .app-connected")).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True  # no reload
    # Focus went back to the button that opened the frame.
    page.wait_for_function(
        'document.activeElement && document.activeElement.dataset.app === "github"', timeout=3000
    )
    screenshot("connect-iframe-connected")

    account = ConnectedAccount.objects.get()
    assert account.member == member and account.app.slug == "github"
    assert ConnectSession.objects.get().status == ConnectSession.Status.CONNECTED
    assert problems == []


def test_deny_in_the_iframe_shows_the_error_and_records_nothing(site, page, member, screenshot):
    log_in(page, site.url)
    connect_in_iframe(page, answer="Deny")
    error = page.locator(".app-tile .connect-error")
    expect(error).to_contain_text("denied")
    expect(page.locator(FRAME)).to_have_count(0)
    expect(page.get_by_text("No accounts connected yet.")).to_be_visible()
    screenshot("connect-iframe-denied")
    assert not ConnectedAccount.objects.exists()


def test_closing_the_iframe_with_escape_restores_focus(site, page, member):
    log_in(page, site.url)
    page.get_by_role("link", name="Connect Slack", exact=True).click()
    expect(page.frame_locator(FRAME).get_by_label("Account name")).to_be_visible()
    # Escape while focus is in our document, on the dialog's close button (inside
    # Pipedream's page it is the page's own: docs/fidelity.md row 94).
    page.get_by_role("button", name="Close the connection window").focus()
    page.keyboard.press("Escape")
    expect(page.locator(FRAME)).to_have_count(0)
    assert page.evaluate("document.activeElement.dataset.app") == "slack"


def test_messages_from_elsewhere_are_ignored(site, page, member):
    log_in(page, site.url)
    page.get_by_role("link", name="Connect GitHub", exact=True).click()
    expect(page.locator(FRAME)).to_be_visible()
    # The page itself (not the iframe) posts a forged success and close.
    page.evaluate(
        "window.postMessage({type: 'success', authProvisionId: 'apn_forged'}, '*');"
        "window.postMessage({type: 'close'}, '*');"
    )
    page.wait_for_timeout(300)
    expect(page.locator(FRAME)).to_be_visible()
    assert not ConnectedAccount.objects.exists()


def test_connect_link_round_trip_without_javascript(site, browser, member):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 800}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        log_in(page, site.url)
        page.get_by_role("link", name="Connect GitHub", exact=True).click()
        page.wait_for_url(re.compile(r".*/_static/connect\.html\?.*connectLink=true.*"))
        page.get_by_label("Account name").fill("octo-pro")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{site.url}/accounts/")
        expect(page.locator("#accounts").get_by_text("octo-pro", exact=True)).to_be_visible()
        expect(page.locator("#messages")).to_contain_text("account is connected")
        shot(page, "connect-link-no-js")
    finally:
        context.close()
    session = ConnectSession.objects.get()
    assert session.mode == ConnectSession.Mode.LINK
    assert session.status == ConnectSession.Status.CONNECTED
    assert ConnectedAccount.objects.get().name == "octo-pro"


def test_disconnect_removes_the_account(site, page, member, screenshot):
    log_in(page, site.url)
    connect_in_iframe(page)
    accounts = page.locator("#accounts")
    expect(accounts.get_by_text("octocat", exact=True)).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    accounts.get_by_role("link", name=re.compile("^Disconnect")).click()
    expect(accounts.get_by_role("button", name="Yes, disconnect")).to_be_visible()
    screenshot("connect-disconnect-confirm")
    accounts.get_by_role("button", name="Yes, disconnect").click()
    expect(page.get_by_text("No accounts connected yet.")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("is disconnected")
    assert page.evaluate("window.__sameDocument") is True
    screenshot("connect-disconnected")
    assert not ConnectedAccount.objects.exists()
    assert not Account.objects.exists()  # gone upstream too


def connect_and_break(page, site, member, *, error: str) -> ConnectedAccount:
    """Connect GitHub in the iframe, then let the sandbox report it unhealthy and sync."""
    log_in(page, site.url)
    connect_in_iframe(page, name="octocat")
    expect(page.locator("#accounts").get_by_text("octocat", exact=True)).to_be_visible()
    account = ConnectedAccount.objects.get()
    Account.objects.filter(account_id=account.pipedream_id).update(healthy=False, error=error)
    services.accounts_sync(member=member)
    page.reload()
    return account


def test_unhealthy_account_reconnects_in_place(site, page, member, screenshot):
    account = connect_and_break(
        page, site, member, error="The token has expired; reconnect the account."
    )
    row = page.locator(f"#account-{account.pk}")
    expect(row.locator(".badge")).to_have_text("Unhealthy")
    # A sentence for people, never Pipedream's own error text.
    expect(row.locator(".account-error")).to_have_text(
        "Pipedream can no longer use this account. Reconnect it to use it again."
    )
    expect(row).not_to_contain_text("The token has expired")
    screenshot("connect-unhealthy")

    row.get_by_role("link", name=re.compile("^Reconnect")).click()
    frame = page.frame_locator(FRAME)
    expect(frame.get_by_text("reconnected in place")).to_be_visible()
    frame.get_by_role("button", name="Allow").click()
    expect(page.locator(f"#account-{account.pk} .badge")).to_have_text("Healthy")
    expect(page.get_by_role("link", name=re.compile("^Reconnect"))).to_have_count(0)
    screenshot("connect-reconnected")

    again = ConnectedAccount.objects.get()
    assert (again.pk, again.pipedream_id) == (account.pk, account.pipedream_id)
    assert again.healthy and not again.dead


def test_accounts_page_on_a_phone(site, browser, member):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        connect_and_break(page, site, member, error="token_expired")
        # Nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "connect-phone")
        page.locator("#accounts").get_by_role("link", name=re.compile("^Disconnect")).click()
        expect(page.get_by_role("button", name="Yes, disconnect")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "connect-phone-confirm")
    finally:
        context.close()


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_emailed_link_logs_in_then_connects(site, page, member, screenshot):
    import datetime

    app = App.objects.get(slug="slack")
    link = services.emailed_link_make(member=member, app=app, expires=datetime.timedelta(days=3))
    page.goto(link)
    page.wait_for_url(re.compile(r".*/login/\?next=/connect/l/.*"))
    expect(page.locator("#messages")).to_contain_text("Log in to connect your Slack account.")
    screenshot("connect-emailed-login")
    page.fill("#id_login", "alice")
    page.fill("#id_password", "connect-demo")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/_static/connect\.html\?.*app=slack.*"))
    page.get_by_label("Account name").fill("team-pro")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{site.url}/accounts/")
    expect(page.locator("#connected").get_by_text("team-pro", exact=True)).to_be_visible()
    assert ConnectSession.objects.get().mode == ConnectSession.Mode.EMAILED


@pytest.mark.parametrize(
    "fault",
    [{"status": 503}, {"status": 429}, {"hang_seconds": 2}],
    ids=["unavailable", "throttled", "hang"],
)
def test_pipedream_failing_shows_a_sentence_by_the_button(site, page, member, settings, fault):
    settings.PIPEDREAM_MAX_RETRIES = 0
    settings.PIPEDREAM_TIMEOUT = 1
    settings.SANDBOX_FAULTS = {"pipedream.tokens.create": fault}
    log_in(page, site.url)
    page.get_by_role("link", name="Connect GitHub", exact=True).click()
    error = page.locator(".app-tile .connect-error")
    expect(error).to_contain_text("Nothing was changed")
    expect(page.locator(FRAME)).to_have_count(0)
    assert not ConnectSession.objects.exists()


def test_disconnect_failing_upstream_keeps_the_account(site, page, member, settings, screenshot):
    log_in(page, site.url)
    connect_in_iframe(page)
    accounts = page.locator("#connected")
    expect(accounts.get_by_text("octocat", exact=True)).to_be_visible()
    settings.PIPEDREAM_MAX_RETRIES = 0
    settings.SANDBOX_FAULTS = {"pipedream.accounts.delete": {"status": 500}}
    accounts.get_by_role("link", name=re.compile("^Disconnect")).click()
    page.get_by_role("button", name="Yes, disconnect").click()
    expect(page.locator("#messages .message.error")).to_contain_text("Nothing was changed")
    expect(accounts.get_by_text("octocat", exact=True)).to_be_visible()
    screenshot("connect-disconnect-failed")
    assert ConnectedAccount.objects.count() == 1


def test_disconnect_without_javascript_confirms_on_a_page(site, browser, member):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 800}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        log_in(page, site.url)
        page.get_by_role("link", name="Connect Discord", exact=True).click()
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{site.url}/accounts/")
        page.locator("#connected").get_by_role("link", name=re.compile("^Disconnect")).click()
        page.wait_for_url(re.compile(r".*/accounts/\d+/disconnect/$"))
        expect(page.get_by_role("heading", name="Disconnect Discord?")).to_be_visible()
        shot(page, "connect-disconnect-page-no-js")
        page.get_by_role("button", name="Yes, disconnect").click()
        page.wait_for_url(f"{site.url}/accounts/")
        expect(page.get_by_text("No accounts connected yet.")).to_be_visible()
        expect(page.locator("#messages")).to_contain_text("is disconnected")
        page.goto(f"{site.url}/connect/done/?s=tampered&result=success")
        expect(page.get_by_role("heading", name="This return link is not valid")).to_be_visible()
        shot(page, "connect-done-bad-reference")
    finally:
        context.close()
    assert not ConnectedAccount.objects.exists()

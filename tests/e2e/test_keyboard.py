"""A keyboard user in Chromium: the Connect dialog holds focus and gives it back, swaps
(Disconnect, Cancel, Check again, a connection from a claim's row) keep it where the
member was, and completions and messages are read out through the live regions."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.flows_support import FRAME, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

INSIDE_DIALOG = "document.querySelector('dialog.connect-dialog').contains(document.activeElement)"


def wait_until(page, script, seconds=30):
    """Poll a page expression (wait_for_function would eval, which the CSP refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"never true: {script}"
        page.wait_for_timeout(200)


def test_connect_dialog_keeps_focus_inside_and_gives_it_back(site, page, member):
    log_in(page, site.url)
    opener = page.get_by_role("link", name="Connect GitHub", exact=True)
    opener.focus()
    page.evaluate("window.__opener = document.activeElement")
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog", name="Connect GitHub")
    expect(dialog).to_be_visible()
    expect(page.frame_locator(FRAME).get_by_label("Account name")).to_be_visible()
    # A modal: the rest of the page is inert, focus went into the dialog.
    assert page.evaluate("document.querySelector('dialog.connect-dialog').matches(':modal')")
    assert page.evaluate(INSIDE_DIALOG)
    for key in ["Tab"] * 10 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        assert page.evaluate(INSIDE_DIALOG), f"focus left the dialog after {key}"
    # Its close button is reached by the keyboard, shows, and has a name.
    for _ in range(8):
        if page.evaluate("document.activeElement.classList.contains('connect-close')"):
            break
        page.keyboard.press("Tab")
    close = page.get_by_role("button", name="Close the connection window")
    expect(close).to_be_focused()
    assert close.bounding_box()["width"] > 20

    page.keyboard.press("Escape")
    expect(page.locator("dialog.connect-dialog")).to_have_count(0)
    assert page.evaluate("document.activeElement === window.__opener")
    # The member's Cancel, said neutrally, once, and politely.
    status = page.locator("#live-status")
    expect(status).to_contain_text("You closed the GitHub connection")
    expect(page.locator("#live-alert")).to_have_text("")

    # Escape from inside the (same-origin, sandbox) frame closes it too.
    opener.focus()
    page.keyboard.press("Enter")
    name = page.frame_locator(FRAME).get_by_label("Account name")
    name.click()
    name.press("Escape")
    expect(page.locator("dialog.connect-dialog")).to_have_count(0)
    assert page.evaluate("document.activeElement === window.__opener")


def test_disconnect_and_cancel_keep_focus(site, page, member, connect):
    first = connect(member, "github", "octo")
    second = connect(member, "slack", "team")
    log_in(page, site.url)
    page.evaluate("window.__sameDocument = true")

    # Cancel: back on the Disconnect button it came from.
    page.locator(f"#disconnect-{first.pk}").focus()
    page.keyboard.press("Enter")
    question = page.locator(f"#account-{first.pk} .confirm-text")
    expect(question).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Yes, disconnect")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(f"#disconnect-{first.pk}")).to_be_focused()

    # Disconnect: the row is gone, focus is on the next account's Disconnect.
    page.keyboard.press("Enter")
    expect(question).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(f"#account-{first.pk}")).to_have_count(0)
    expect(page.locator(f"#disconnect-{second.pk}")).to_be_focused()
    expect(page.locator("#live-status")).to_contain_text("GitHub account octo is disconnected.")

    # The last one: focus on the "Connect an app" heading.
    page.keyboard.press("Enter")
    expect(page.locator(f"#account-{second.pk} .confirm-text")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_text("No accounts connected yet.")).to_be_visible()
    expect(page.get_by_role("heading", name="Connect an app")).to_be_focused()
    expect(page.locator("#live-status")).to_contain_text("Slack account team is disconnected.")
    assert page.evaluate("window.__sameDocument") is True


def test_disconnect_on_its_own_page_keeps_focus(site, page, member, connect):
    first = connect(member, "github", "octo")
    second = connect(member, "slack", "team")
    log_in(page, site.url)
    # Its own page (a new tab): a plain form, Cancel back to the account's Disconnect.
    page.goto(f"{site.url}/accounts/{first.pk}/disconnect/")
    page.get_by_role("link", name="Cancel").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/accounts/#disconnect-{first.pk}")
    expect(page.locator(f"#disconnect-{first.pk}")).to_be_focused()
    # Yes: back on the accounts page, focus on the account left.
    page.goto(f"{site.url}/accounts/{first.pk}/disconnect/")
    page.get_by_role("button", name="Yes, disconnect").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/accounts/")
    expect(page.locator("#messages")).to_contain_text("is disconnected")
    expect(page.locator(f"#disconnect-{second.pk}")).to_be_focused()
    expect(page.locator("#live-status")).to_contain_text("GitHub account octo is disconnected.")


def test_a_completion_is_announced_once_and_check_again_keeps_focus(
    live_server, claims_site, worker, page, member
):
    member.address = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
    member.save()
    page.add_init_script(RECORD_SPOKEN)
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/claims/")
    starter = page.locator("#claim-github-starter")
    fix = starter.get_by_role("link", name=re.compile("^Connect GitHub"))
    fix.focus()
    page.keyboard.press("Enter")
    frame = page.frame_locator(FRAME)
    frame.get_by_label("Account name").fill("octocat")
    frame.get_by_role("button", name="Allow").click()
    # The page is read again; the row's Connect is gone: focus is on its claim's heading.
    expect(starter.locator("h2")).to_be_focused(timeout=10_000)

    status = page.locator("#live-status")
    expect(status).to_contain_text("earned", timeout=30_000)
    wait_until(page, "window.__spoken.indexOf('You earned GitHub starter badge.') >= 0")
    expect(starter.locator(".badge")).to_have_text("Completed")
    # Later polls and swaps say it no more (past focus.js's 5 s guard against repeats:
    # what stops it is that the sentence did not change).
    page.wait_for_timeout(5200)
    builders = page.locator("#claim-github-builders")
    check = builders.get_by_role("button", name=re.compile("^Check again"))
    check.focus()
    page.keyboard.press("Enter")
    expect(status).to_contain_text("Checking “GitHub builders list” again")
    # The same claim's control, or its heading once the button is gone.
    expect(builders.locator(":focus")).to_have_count(1)
    page.wait_for_timeout(2500)  # a poll or two
    assert page.evaluate(
        "document.querySelector('#claim-github-builders').contains(document.activeElement)"
    )
    spoken = page.evaluate("window.__spoken")
    assert spoken.count("You earned GitHub starter badge.") == 1, spoken


# Keeps every line written into the live regions (the page's life), in order.
RECORD_SPOKEN = """
document.addEventListener("DOMContentLoaded", function () {
  window.__spoken = [];
  var watch = new MutationObserver(function (changes) {
    changes.forEach(function (change) {
      change.addedNodes.forEach(function (node) { window.__spoken.push(node.textContent); });
    });
  });
  ["live-status", "live-alert"].forEach(function (id) {
    var region = document.getElementById(id);
    if (region) watch.observe(region, { childList: true });
  });
});
"""


def test_address_form_keeps_focus_and_reads_its_error(site, page, member):
    log_in(page, site.url)
    page.goto(f"{site.url}/claims/")
    field = page.get_by_label("Your BitBadges address")
    field.fill("not an address")
    field.press("Enter")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    expect(page.locator("#live-alert")).to_contain_text(page.locator("#address-error").inner_text())
    field.fill("0x742d35cC6634c0532925A3b844bc9E7595F0beB1")
    save = page.locator("#address").get_by_role("button", name="Save")
    save.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#messages .message")).to_be_visible()
    expect(page.locator("#address-error")).to_have_count(0)
    expect(save).to_be_focused()
    expect(page.locator("#live-status")).to_contain_text(page.locator("#messages").inner_text())


def test_a_refused_disconnect_keeps_focus_and_is_an_alert(site, page, member, connect, settings):
    account = connect(member, "github", "octo")
    log_in(page, site.url)
    settings.PIPEDREAM_MAX_RETRIES = 0
    settings.SANDBOX_FAULTS = {"pipedream.accounts.delete": {"status": 500}}
    page.locator(f"#disconnect-{account.pk}").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#account-{account.pk} .confirm-text")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#live-alert")).to_contain_text("Nothing was changed")
    expect(page.locator(f"#disconnect-{account.pk}")).to_be_focused()

"""A keyboard user in Chromium: the Connect dialog holds focus and gives it back, swaps
(Disconnect, Cancel, Check again, a connection from a claim's row) keep it where the
member was, and completions and messages are read out through the live regions."""

import datetime
import re
import time

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from connections.models import ConnectedAccount
from tests.claims.claims_support import ALICE_ADDRESS
from tests.e2e.flows_support import FRAME, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Focus in the dialog (or the frame in it), and in this page, not the browser's own UI.
INSIDE_DIALOG = (
    "document.hasFocus() && "
    "document.querySelector('dialog.connect-dialog').contains(document.activeElement)"
)


def wait_until(page, script, seconds=30):
    """Poll a page expression (wait_for_function would eval, which the CSP refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"never true: {script}"
        page.wait_for_timeout(200)


@pytest.fixture
def connect_elsewhere(site, settings):
    """Pipedream's Connect page is another origin: the sandbox's is served from 127.0.0.1
    to a site on localhost (the same server), so nothing of ours reaches into it."""
    assert "//localhost:" in site.url
    other = site.url.replace("//localhost:", "//127.0.0.1:")
    settings.PIPEDREAM_CONNECT_URL = f"{other}/sandbox/pipedream"
    csp = dict(settings.SECURE_CSP)
    csp["frame-src"] = [*csp["frame-src"], other]
    settings.SECURE_CSP = csp
    return other


def test_connect_dialog_keeps_focus_inside_and_gives_it_back(site, connect_elsewhere, page, member):
    log_in(page, site.url)
    opener = page.get_by_role("link", name="Connect GitHub", exact=True)
    opener.focus()
    page.evaluate("window.__opener = document.activeElement")
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog", name="Connect GitHub")
    expect(dialog).to_be_visible()
    name = page.frame_locator(FRAME).get_by_label("Account name")
    expect(name).to_be_visible()
    assert page.locator(FRAME).get_attribute("src").startswith(connect_elsewhere)
    # A modal: the rest of the page is inert, focus went into the dialog.
    assert page.evaluate("document.querySelector('dialog.connect-dialog').matches(':modal')")
    assert page.evaluate(INSIDE_DIALOG)
    for key in ["Tab"] * 10 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        # Focus crossing into the other origin's frame lands a moment later.
        wait_until(page, INSIDE_DIALOG, seconds=2)
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

    # Escape right after it opens (focus still ours) closes it too.
    opener.focus()
    page.keyboard.press("Enter")
    expect(name).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog.connect-dialog")).to_have_count(0)
    assert page.evaluate("document.activeElement === window.__opener")

    # Inside Pipedream's page Escape is that page's (the sandbox's does nothing with it,
    # docs/fidelity.md row 94): the dialog stays; its close button still closes it.
    opener.focus()
    page.keyboard.press("Enter")
    name.click()
    name.press("Escape")
    page.wait_for_timeout(300)
    expect(dialog).to_be_visible()
    close.focus()
    page.keyboard.press("Enter")
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


def test_check_now_on_a_claims_page_keeps_focus_across_the_reload(
    site, page, member, connect, make_claim
):
    """Check now on /c/<slug>/ is a plain post that comes back to the page: focus.js keeps
    the button's place across the load. No worker runs the check, so the button is gone
    (a check under way): focus is on the claim's progress heading, not the page's top."""
    member.address = ALICE_ADDRESS
    member.save()
    github = connect(member, "github", "octo").app
    make_claim("octo-badge", apps=[github], name="Octo badge")
    log_in(page, site.url)
    page.goto(f"{site.url}/c/octo-badge/")
    check = page.get_by_role("button", name="Check now")
    check.focus()
    page.evaluate("window.__before = true")
    page.keyboard.press("Enter")
    expect(page.locator("#messages .message.success")).to_be_visible()
    assert page.evaluate("window.__before === undefined")  # a new page, not a swap
    assert page.url == f"{site.url}/c/octo-badge/"
    expect(check).to_have_count(0)
    expect(page.locator("#landing-progress .badge.busy")).to_be_visible()
    expect(page.locator("#progress-title")).to_be_focused()


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


def test_a_failed_log_in_keeps_focus_on_its_field_and_reads_the_error(site, page, member):
    page.add_init_script(RECORD_SPOKEN)
    page.goto(f"{site.url}/login/")
    page.fill("#id_login", "alice")
    page.fill("#id_password", "not her password")
    page.get_by_role("button", name="Log in").focus()
    page.keyboard.press("Enter")
    summary = page.locator("#form-errors")
    expect(summary).to_be_visible()
    # The page's autofocus is kept (not the heading), the error read out once, as an alert.
    expect(page.locator("#id_login")).to_be_focused()
    expect(page.locator("#live-alert")).to_contain_text(summary.inner_text())
    page.wait_for_timeout(600)
    spoken = page.evaluate("window.__spoken")
    assert spoken.count(summary.inner_text().strip()) == 1, spoken
    assert page.locator("main h1[tabindex]").count() == 0


def test_a_refused_email_focuses_its_field_which_names_the_error(site, page, member):
    log_in(page, site.url)
    page.goto(f"{site.url}/email/")
    field = page.get_by_label("Email")
    field.fill("not an email")
    page.get_by_role("button", name="Add and send a confirmation link").focus()
    page.keyboard.press("Enter")
    error = page.locator("#id_email_error")
    expect(error).to_be_visible()
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    described = field.get_attribute("aria-describedby").split()
    assert "id_email_error" in described
    assert all(page.locator(f"#{ref}").count() == 1 for ref in described)
    expect(page.locator("#live-alert")).to_contain_text(error.inner_text())


def last_poll_answer(response) -> bool:
    """/accounts/'s poll (?fresh=1) answering with the re-read list: 286 stops htmx's
    polling once it is swapped."""
    return "/accounts/?fresh=1" in response.url and response.status == 286


HANDLED_286 = """() => document.addEventListener("htmx:afterRequest", (event) => {
  if (event.detail.xhr.status === 286) window.__handled286 = true;
})"""


def open_question_while_accounts_are_re_read(request, site, page, member, connect, settings):
    """/accounts/ opened with stale accounts (its poll asks every 3 s whether the re-read is
    done), a Disconnect question opened, then the re-read run and a poll answered with
    the new list (its last answer, 286). The first account."""
    settings.FRESH_HEALTH_SECONDS = 300
    first = connect(member, "github", "octo")
    connect(member, "slack", "team")
    ConnectedAccount.objects.update(last_synced_at=timezone.now() - datetime.timedelta(hours=1))
    cache.delete(f"fresh-health:{member.pk}")
    log_in(page, site.url)  # lands on /accounts/, which queues the re-read
    expect(page.locator("#fresh-checking")).to_be_visible()
    page.locator(f"#disconnect-{first.pk}").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#account-{first.pk} .confirm-text")).to_be_focused()
    # htmx has handled an answer (swapped or held by focus.js) once afterRequest fires.
    page.evaluate(HANDLED_286)
    # The re-read runs now; a poll then answers with the new list (286, its last answer).
    with page.expect_response(last_poll_answer, timeout=20_000):
        request.getfixturevalue("worker")
        deadline = time.monotonic() + 20
        stale = timezone.now() - datetime.timedelta(minutes=5)
        while ConnectedAccount.objects.filter(last_synced_at__lt=stale).exists():
            assert time.monotonic() < deadline, "the worker never re-read the accounts"
            time.sleep(0.2)
    wait_until(page, "window.__handled286 === true", seconds=10)
    page.evaluate("window.__sameDocument = true")
    return first


def test_a_poll_does_not_wipe_an_open_disconnect_confirmation(
    request, site, page, member, connect, settings
):
    first = open_question_while_accounts_are_re_read(request, site, page, member, connect, settings)
    # The answer that would have replaced the list waits: the question is still there.
    expect(page.locator(f"#account-{first.pk} .confirm-text")).to_be_focused()
    expect(page.locator("#fresh-checking")).to_be_visible()
    # Cancel: the member's own swap brings the new list, focus back on Disconnect.
    page.get_by_role("link", name="Cancel").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#disconnect-{first.pk}")).to_be_focused()
    expect(page.locator("#fresh-checking")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True


def test_a_held_last_answer_leaves_the_poll_going(request, site, page, member, connect, settings):
    """The last answer (286) stops the polling only when it is swapped: held, the next
    poll once the question is gone (here taken out of the page, no swap) brings it."""
    first = open_question_while_accounts_are_re_read(request, site, page, member, connect, settings)
    expect(page.locator("#fresh-checking")).to_be_visible()  # held
    page.evaluate(f"document.querySelector('#account-{first.pk} form.confirm').remove()")
    # The next poll (every 3 s) brings it: a generous wait on a loaded machine.
    expect(page.locator("#fresh-checking")).to_have_count(0, timeout=15_000)
    expect(page.locator(f"#disconnect-{first.pk}")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True

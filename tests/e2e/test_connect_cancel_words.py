"""Closing the Connect dialog is the member's choice, said neutrally (issue 20, item 1):
no error box, no "not completed", the Connect button still there."""

import pytest
from playwright.sync_api import expect

from connections.models import ConnectedAccount
from tests.e2e.flows_support import FRAME, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_closing_the_dialog_reads_as_the_members_choice(site, page, member):
    log_in(page, site.url)
    page.get_by_role("link", name="Connect GitHub", exact=True).click()
    expect(page.frame_locator(FRAME).get_by_role("button", name="Allow")).to_be_visible()

    # The hosted page's close (its Cancel), as Pipedream's iframe posts it.
    frame = page.locator(FRAME).element_handle().content_frame()
    frame.evaluate("() => window.parent.postMessage({type: 'close'}, '*')")

    expect(page.locator(FRAME)).to_have_count(0)
    said = page.locator("#messages .message")
    expect(said).to_have_text("You closed the GitHub connection. Connect it whenever you're ready.")
    expect(said).to_have_class("message info")
    expect(page.locator(".connect-error:visible")).to_have_count(0)
    expect(page.get_by_role("link", name="Connect GitHub", exact=True)).to_be_visible()
    assert not ConnectedAccount.objects.exists()

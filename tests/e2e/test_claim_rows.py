"""On /claims/, a requirement's Connect button opens the sandbox's Connect dialog in place,
and once connected the row no longer asks for it (issue 20, item 2)."""

import pytest
from playwright.sync_api import expect

from connections.models import App, ConnectedAccount
from tests.e2e.flows_support import FRAME, log_in, watch_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_connect_button_in_a_claim_row_opens_the_dialog(site, page, member, make_claim):
    make_claim("builders", name="Builders", apps=[App.objects.get(slug="github")])
    problems = watch_problems(page)
    log_in(page, site.url)
    page.goto(f"{site.url}/claims/")
    row = page.locator("#claim-builders")
    expect(row.get_by_text("Check again")).to_have_count(0)

    row.get_by_role("link", name="Connect GitHub for Builders").click()
    frame = page.frame_locator(FRAME)
    expect(page.locator(FRAME)).to_be_visible()
    frame.get_by_label("Account name").fill("octocat")
    frame.get_by_role("button", name="Allow").click()

    expect(page.locator(FRAME)).to_have_count(0)
    expect(row.locator("[data-fix='connect']")).to_have_count(0)
    expect(row.get_by_role("link", name="Add your address above for Builders")).to_be_visible()
    assert ConnectedAccount.objects.get().member == member
    assert problems == []

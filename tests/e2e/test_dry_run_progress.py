"""An admin asks for a dry run in Chromium: the job's page waits for the task worker, then
shows the result by itself (its script polls the job's progress and reloads)."""

import pytest
from playwright.sync_api import expect

from claims.models import ClaimJob
from connections.models import App, ConnectedAccount
from tests.browser_support import logged_in
from tests.claims.admin_support import make_member
from tests.claims.claims_support import ALICE_ADDRESS, run_worker
from tests.claims.jobs_support import claim_needing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_job_page_shows_the_result_once_the_worker_has_run(site, browser, admin_user):
    github = App.objects.get(slug="github")
    claim = claim_needing("starter", [github])
    for index in range(12):
        member = make_member(f"member{index:02d}", address=ALICE_ADDRESS)
        if index % 3:
            ConnectedAccount.objects.create(member=member, app=github, pipedream_id=f"apn_{index}")

    context, page = logged_in(browser, site, "/admin/claims/claim/")
    page.check(f"input[name=_selected_action][value='{claim.pk}']")
    page.select_option("select[name=action]", "dry_run")
    page.click("button[name=index]")

    job = ClaimJob.objects.get()
    page.wait_for_url(f"{site.url}/admin/claims/claimjob/{job.pk}/change/")
    expect(page.locator("#job-state")).to_have_text("Queued")
    expect(page.locator(".dry-run-members")).to_have_text("0")

    run_worker()  # the page is not reloaded by the test: its script follows the job

    expect(page.locator("#job-state")).to_have_text("Done", timeout=15_000)
    expect(page.locator("#job-progress")).to_have_attribute("value", "13")
    # The twelve members and the admin; eight have GitHub, and the admin has no address.
    expect(page.locator(".dry-run-members")).to_have_text("13")
    expect(page.locator(".dry-run-qualify")).to_have_text("8")
    expect(page.locator("#job-csv")).to_be_visible()
    context.close()

"""The claim builder end to end, in Chromium: the page (static/js/claim_builder.js)
against the real endpoints (claims/admin/builder.py), the Pipedream sandbox and the real
task worker; nothing is routed in the browser."""

import re

import pytest
from playwright.sync_api import expect

from claims.job_models import ClaimJob
from tests.browser_support import logged_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_tries_an_action_on_a_member_and_picks_a_value(
    site, browser, admin_user, alice, connect, worker
):
    connect(alice, "github", "octo")
    context, page = logged_in(browser, site, "/admin/claims/claim/add/")
    try:
        holder = page.locator("#requirements-0")

        holder.locator("select[name='requirements-0-kind']").select_option("action")
        holder.locator("select[name='requirements-0-app']").select_option(label="GitHub")
        actions = holder.locator("select.cb-action")
        expect(actions.locator("option")).to_contain_text(
            ["Get Current User (github-get-current-user)"]
        )
        actions.select_option(label="Get Current User (github-get-current-user)")
        expect(holder.get_by_text("This action needs nothing else")).to_be_visible()

        member = holder.get_by_label("Member", exact=True)
        member.fill("ali")
        expect(holder.locator("datalist option")).to_have_attribute("value", "alice")
        member.fill("alice")
        holder.get_by_role("button", name="Try it").click()

        tree = holder.get_by_role("list", name="The answer")
        expect(tree).to_be_visible(timeout=30_000)
        job = ClaimJob.objects.get()
        assert (job.kind, job.state, job.member) == ("try_it", "done", alice)
        expect(tree.get_by_role("button", name="user.login")).to_have_text('"octo"')
        repos = tree.get_by_role("button", name=re.compile(r"^user\.public_repos = \d+$"))
        count = repos.inner_text()
        assert count == str(job.result["user"]["public_repos"])
        repos.click()

        expect(holder.locator("input[name='requirements-0-path']")).to_have_value(
            "user.public_repos"
        )
        expect(holder.locator("select[name='requirements-0-comparison']")).to_have_value("gte")
        expect(holder.locator("input[name='requirements-0-value']")).to_have_value(count)
        expect(holder.locator("input[name='requirements-0-text']")).to_have_value(
            f"Have at least {count} public repos"
        )
    finally:
        context.close()

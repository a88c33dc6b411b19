"""Development mode's limit in Chromium: the member past Pipedream's 10 external users
connects in the iframe and reads, on the live page (no reload), the same sentence the
accounts page gives after one: what happened and who can fix it."""

import pytest
from playwright.sync_api import expect

from connections.models import ConnectedAccount
from connections.services.errors import DEVELOPMENT_LIMIT_SENTENCE
from sandbox.pipedream.models import ExternalUser
from tests.e2e.flows_support import FRAME, connect_in_iframe, log_in, watch_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIMIT_TEXT = "You've hit your limit on the number of external users you can connect."


def test_the_eleventh_member_reads_the_sentence_without_reloading(
    site, page, member, settings, screenshot
):
    settings.PIPEDREAM_PROJECT_ENVIRONMENT = "development"
    for n in range(10):  # ten others already connected in this project's development
        ExternalUser.objects.create(
            public_id=f"exu_dev{n}",
            project_id=settings.PIPEDREAM_PROJECT_ID,
            environment="development",
            external_id=f"someone-{n}",
        )
    problems = watch_problems(page)
    log_in(page, site.url)
    page.evaluate("window.__sameDocument = true")
    connect_in_iframe(page, "GitHub", "octocat")

    error = page.locator(".app-tile .connect-error")
    expect(error).to_have_text(DEVELOPMENT_LIMIT_SENTENCE)
    expect(page.locator("#messages")).to_contain_text(DEVELOPMENT_LIMIT_SENTENCE)
    expect(page.locator(FRAME)).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True  # the page never reloaded
    assert LIMIT_TEXT not in page.locator("main").inner_text()
    screenshot("connect-development-limit")
    assert not ConnectedAccount.objects.exists()
    assert problems == []

"""Fresh health in Chromium: /accounts/ opened with a stale account that Pipedream (the
sandbox) now holds as broken shows it as broken by itself once the worker has re-read it,
without a reload, with the warning naming the claim that needs it, and says the warning
once in the alert live region; then the home page's "What needs you" does the same."""

import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from connections import services as connections_services
from connections.models import App, ConnectedAccount
from sandbox.pipedream import services as pd_sandbox
from sandbox.pipedream.models import Account as SandboxAccount
from tests.browser_support import logged_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SENTENCE = "Your GitHub account (octo) stopped working. Octo Badge needs it."


def test_a_stale_broken_account_turns_broken_without_a_reload(
    browser, site, worker, alice, make_claim
):
    make_claim("octo-badge", apps=[App.objects.get(slug="github")], name="Octo Badge")
    _, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox",
        environment="development",
        external_user_id=str(alice.external_id),
    )
    upstream = pd_sandbox.account_connect(token=token, app_slug="github", name="octo")
    octo = connections_services.account_record(member=alice, pipedream_id=upstream.account_id)
    ConnectedAccount.objects.filter(pk=octo.pk).update(
        last_synced_at=timezone.now() - datetime.timedelta(hours=1)
    )
    SandboxAccount.objects.filter(name="octo").update(healthy=False, error="token_expired")

    context, page = logged_in(browser, site, "/accounts/", "alice", "connect-demo")
    try:
        row = page.locator(f"#account-{octo.pk}")
        expect(row.locator(".badge")).to_have_text("Healthy")  # what we held when it opened
        page.evaluate("window.notReloaded = true")
        expect(row.locator(".badge")).to_have_text("Unhealthy", timeout=20_000)
        warning = page.locator(f"#need-{octo.pk}")
        expect(warning).to_contain_text("Your GitHub account (octo) stopped working.")
        expect(warning.get_by_role("link", name="Octo Badge")).to_have_attribute(
            "href", "/c/octo-badge/"
        )
        expect(page.locator("#fresh-checking")).to_have_count(0)  # the poll has stopped
        assert page.evaluate("window.notReloaded") is True
        # Read out once, as an alert (static/js/focus.js: data-announce, kind error).
        alert = page.locator("#live-alert")
        expect(alert).to_have_text(SENTENCE)
        expect(page.locator("#live-status")).not_to_contain_text("stopped working")

        # The home page, once more stale: we hold it as healthy again, Pipedream does not.
        ConnectedAccount.objects.filter(pk=octo.pk).update(
            healthy=True, error="", last_synced_at=timezone.now() - datetime.timedelta(hours=1)
        )
        cache.clear()  # the window of the first re-read has passed
        page.goto(f"{site.url}/")
        item = page.locator(f"#todo-reconnect-{octo.pk}")
        expect(item).to_have_count(0)  # what we held when it opened
        page.evaluate("window.notReloaded = true")
        expect(item.locator(".home-warning")).to_have_text(SENTENCE, timeout=20_000)
        expect(item.get_by_role("link", name="Reconnect GitHub account octo")).to_be_visible()
        expect(page.locator("#live-alert")).to_have_text(SENTENCE)
        expect(page.locator("#fresh-checking")).to_have_count(0)
        expect(page.locator("#needs-you[data-polling]")).to_have_count(0)  # asked for the last time
        assert page.evaluate("window.notReloaded") is True
    finally:
        context.close()

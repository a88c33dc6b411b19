"""Steps the browser tests share: the site on a live server, logging in, connecting."""

import pytest

from connections import services
from sandbox import catalogue

FRAME = "iframe[title='Pipedream Connect']"


@pytest.fixture
def site(live_server, settings, monkeypatch):
    """The site with Pipedream pointed at the sandbox it serves, and a few apps.

    The sandbox's connection webhook arrives as it would in production, racing the
    browser's own callback; both must record one account.
    """
    settings.PUBLIC_URL = live_server.url
    settings.PIPEDREAM_API_URL = f"{live_server.url}/sandbox/pipedream"
    settings.PIPEDREAM_CONNECT_URL = f"{live_server.url}/sandbox/pipedream"
    settings.BITBADGES_API_URL = f"{live_server.url}/sandbox/bitbadges"
    settings.SANDBOX_FAULTS = {}
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0, 0)
    settings.SANDBOX_WEBHOOK_TIMEOUT = 5
    for order, slug in enumerate(["github", "slack", "google_sheets", "discord"]):
        services.app_upsert_from_pipedream(
            data=catalogue.get_catalogue_app(slug, live_server.url), enabled=True, order=order
        )
    return live_server


def log_in(page, url, username="alice"):
    page.goto(f"{url}/login/?next=/accounts/")
    page.fill("#id_login", username)
    page.fill("#id_password", "connect-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/accounts/")


def watch_problems(page):
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def connect_in_iframe(page, app_name="GitHub", name="octocat", answer="Allow"):
    page.get_by_role("link", name=f"Connect {app_name}", exact=True).click()
    frame = page.frame_locator(FRAME)
    frame.get_by_label("Account name").fill(name)
    frame.get_by_role("button", name=answer).click()

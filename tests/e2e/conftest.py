"""A real browser (Debian's Chromium, driven by Playwright) against a live server."""

import os
import threading
from pathlib import Path

import pytest
from django.db import connection
from django_tasks_db.management.commands.db_worker import Worker

from connections import services
from members.management.commands.seed_demo import _claim_upsert, demo_claim_specs
from sandbox.bitbadges import demo as bb_sandbox
from sandbox.pipedream import catalogue

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls
# (creating a member, reading results) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.browser_support import ARTIFACTS


@pytest.fixture(scope="session")
def browser(chromium):
    return chromium


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under test-artifacts/ (for people to look at)."""

    def take(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


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


@pytest.fixture
def claims_site(site, settings):
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 1.0  # long enough to see it under way
    settings.SANDBOX_BITBADGES_STORE_LAG = 0.5
    settings.CLAIMS_POLL_INTERVAL = 0.3
    settings.CLAIMS_POLL_DEADLINE = 15
    specs = demo_claim_specs(bb_sandbox.demo_claims_ensure())
    return {spec["slug"]: _claim_upsert(spec)[0] for spec in specs}


@pytest.fixture
def worker():
    """db_worker's own Worker, in a thread, until the test ends.

    `manage.py db_worker` would install signal handlers, which only the main thread may
    do; the Worker it builds runs the same loop without them.
    """
    stop = threading.Event()

    def loop():
        try:
            while not stop.is_set():
                Worker(
                    queue_names=["*"],
                    interval=0,
                    batch=True,
                    backend_name="default",
                    startup_delay=False,
                    max_tasks=None,
                    worker_id="e2e-worker",
                    excluded_queue_names=[],
                ).run()
                stop.wait(0.3)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name="test-db-worker", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(30)

"""A real browser (Debian's Chromium, driven by Playwright) against a live server."""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls
# (creating a member, reading results) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.browser import ARTIFACTS


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


from tests.e2e.flows import site  # noqa: E402,F401  (the fixture, for every browser test)

"""How the browser tests launch Debian's Chromium (Playwright cannot download one here)."""

import os
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# As root Chromium needs --no-sandbox; without the network flags it keeps dialing out.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
MISSING = (
    f"The browser tests need Chromium at {CHROMIUM}: install Debian's package "
    "(apt-get install chromium) or set CHROMIUM_PATH. .ci/run installs it."
)


def logged_in(browser, site, path, username="admin", password="password"):  # noqa: S107
    """(context, page): a desktop Chromium page logged in as `username`, on `path`.
    The caller closes the context."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{site.url}/login/?next={path}")
    page.fill("#id_login", username)
    page.fill("#id_password", password)
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_url(f"{site.url}{path}")
    return context, page

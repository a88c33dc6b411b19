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

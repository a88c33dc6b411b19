"""Sign in with BitBadges for the browser tests: this site registered at the sandbox (the
`site` fixture serves both), the sandbox's record of a claim's completions read over
HTTP, and the desktop and phone screenshots SHOTS=1 asks for."""

import os

import requests

from sandbox.bitbadges.siwbb import register_app
from sandbox.credentials import SANDBOX_CREDENTIALS
from tests.browser_support import ARTIFACTS

CLIENT_ID = "connect-claim-e2e"
CLIENT_SECRET = "e2e-client-secret-0123456789abcdef"  # noqa: S105 (the sandbox's, for tests)
CALLBACK_PATH = "/auth/bitbadges/login/callback/"
SHOTS = os.environ.get("SHOTS") == "1"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def siwbb_on(settings, live_server) -> None:
    """This site's developer app at the sandbox; the settings that turn the feature on."""
    register_app(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[live_server.url + CALLBACK_PATH],
        name="Connect & Claim",
    )
    settings.BITBADGES_SIWBB_AUTHORIZE_URL = ""  # the sandbox's page (SANDBOX mode)
    settings.BITBADGES_CLIENT_ID = CLIENT_ID
    settings.BITBADGES_CLIENT_SECRET = CLIENT_SECRET
    settings.BITBADGES_TIMEOUT = 5


def watch_problems(page) -> list[str]:
    """Console errors and page errors, but the favicon.ico the sandbox's authorize page
    (which names no icon, as BitBadges' own page is not this site's) makes the browser
    guess."""
    problems: list[str] = []

    def console(message) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def sandbox_completions(live_server, claim_id: str) -> list[dict]:
    """The claim's successful attempts as BitBadges lists them (GET .../attempts)."""
    response = requests.get(
        f"{live_server.url}/sandbox/bitbadges/api/v0/claims/{claim_id}/attempts",
        headers={"x-api-key": SANDBOX_CREDENTIALS["bitbadges_api_key"]},
        timeout=10,
    )
    assert response.status_code == 200, response.text[:500]
    return response.json()["docs"]


def shots(page, name: str) -> None:
    """The page at desktop and phone width never scrolls sideways (WCAG 1.4.10, reflow);
    with SHOTS=1, test-artifacts/siwbb/<name>-desktop.png and -phone.png (whole page).
    The viewport is desktop again afterwards."""
    folder = ARTIFACTS / "siwbb"
    wide = []
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        if SHOTS:
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > size["width"]:
            wide.append(f"{name} scrolls sideways on {label} ({width} px)")
    page.set_viewport_size(DESKTOP)
    assert not wide, wide

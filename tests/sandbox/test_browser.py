"""The hosted page in a real browser: embedded by another origin, it posts its result there.

The embedding page is served as http://localhost:PORT and the sandbox as
http://127.0.0.1:PORT: two origins, as when a site embeds pipedream.com. This checks
what no test client can: the CSP (nonce, frame-ancestors) lets the page load and run
inside the frame, and postMessage reaches exactly the allowed origin.

Each scenario runs in a thread of its own with its own Playwright: the sync API owns an
event loop in the thread that starts it, and tests/e2e may already have one running in
the main thread. The ORM stays in the main thread.
"""

import re
import threading
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from sandbox.pipedream import webhooks
from sandbox.pipedream.models import Account
from tests.browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, MISSING
from tests.sandbox import urls_support as test_urls
from tests.sandbox.contract_support import CREDENTIALS, LivePipedream

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.sandbox.urls_support"),
]


def run_in_browser(scenario, timeout: float = 60):
    """scenario(page) in a fresh Chromium, in its own thread; (its result, console errors)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(MISSING)
    outcome = {}

    def target():
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_context(viewport={"width": 1100, "height": 860}).new_page()
                    page.set_default_timeout(10_000)
                    errors = []
                    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
                    outcome["result"] = scenario(page)
                    outcome["errors"] = errors
                finally:
                    browser.close()
        except BaseException as exc:  # handed to the test's thread
            outcome["exception"] = exc

    thread = threading.Thread(target=target, name="sandbox-browser", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"The browser scenario did not finish in {timeout} s")
    if "exception" in outcome:
        raise outcome["exception"]
    return outcome["result"], outcome["errors"]


def _origins(live_server) -> tuple[str, str]:
    port = re.search(r":(\d+)$", live_server.url).group(1)
    return f"http://localhost:{port}", f"http://127.0.0.1:{port}"


def _mint(sandbox: str, **fields) -> str:
    live = LivePipedream(sandbox)
    live.token = live.request("POST", "/v1/oauth/token", json=CREDENTIALS).json()["access_token"]
    response = live.request(
        "POST", "/v1/connect/{pid}/tokens", json={"external_user_id": "user-1", **fields}
    )
    return response.json()["token"]


def _embed_url(site: str, sandbox: str, ctok: str, app: str) -> str:
    src = (
        f"{sandbox}/sandbox/pipedream/_static/connect.html?{urlencode({'token': ctok, 'app': app})}"
    )
    return f"{site}/test-embed/?src={quote(src, safe='')}"


def _screenshot(page, name: str, full_page=False):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def test_embedded_allow_posts_success_and_close_to_the_embedder(live_server):
    test_urls.reset()
    site, sandbox = _origins(live_server)
    ctok = _mint(sandbox, allowed_origins=[site], webhook_uri=f"{sandbox}/test-hooks/")

    def scenario(page):
        page.goto(_embed_url(site, sandbox, ctok, "github"))
        frame = page.frame_locator("#connect")
        frame.get_by_role("button", name="Allow").wait_for()
        _screenshot(page, "sandbox-hosted-page-embedded")
        frame.get_by_label("Account name").fill("octo-pro")
        frame.get_by_role("button", name="Allow").click()
        page.wait_for_function("window.received.some(m => m.data.type === 'close')")
        return page.evaluate("window.received"), page.locator("#connect").count()

    (received, frames_left), errors = run_in_browser(scenario)

    account = Account.objects.get()
    assert received == [
        {"origin": sandbox, "data": {"type": "success", "authProvisionId": account.account_id}},
        {"origin": sandbox, "data": {"type": "close"}},
    ]
    assert account.name == "octo-pro"
    assert frames_left == 0  # the embedder closed it on "close"
    assert webhooks.wait_for_deliveries()[0].status == "delivered"
    assert test_urls.RECEIVED[0]["body"]["account"]["id"] == account.account_id
    assert not [e for e in errors if "Content Security Policy" in e]


def test_embedded_deny_posts_error_and_close(live_server):
    site, sandbox = _origins(live_server)
    ctok = _mint(sandbox, allowed_origins=[site])

    def scenario(page):
        page.goto(_embed_url(site, sandbox, ctok, "slack"))
        page.frame_locator("#connect").get_by_role("button", name="Deny").click()
        page.wait_for_function("window.received.some(m => m.data.type === 'close')")
        return page.evaluate("window.received")

    received, _ = run_in_browser(scenario)

    assert [m["data"]["type"] for m in received] == ["error", "close"]
    assert not Account.objects.exists()


def test_an_origin_not_allowed_cannot_frame_the_page_or_hear_from_it(live_server):
    site, sandbox = _origins(live_server)
    ctok = _mint(sandbox, allowed_origins=["https://elsewhere.example"])

    def scenario(page):
        page.goto(_embed_url(site, sandbox, ctok, "github"))
        page.wait_for_timeout(1500)
        allow = page.frame_locator("#connect").get_by_role("button", name="Allow").count()
        return allow, page.evaluate("window.received")

    (allow_buttons, received), _ = run_in_browser(scenario)

    assert allow_buttons == 0  # frame-ancestors kept the page out of the frame
    assert received == []


def test_connect_link_and_control_page(live_server, django_user_model):
    """Also pictures for people (test-artifacts/): the pages as users see them."""
    _, sandbox = _origins(live_server)
    ctok = _mint(sandbox)
    django_user_model.objects.create_user(
        username="ops", password="pw-for-tests-1", is_staff=True, is_superuser=True
    )
    link = f"{sandbox}/sandbox/pipedream/_static/connect.html?" + urlencode(
        {"token": ctok, "app": "discord", "connectLink": "true"}
    )

    def scenario(page):
        page.goto(link)
        _screenshot(page, "sandbox-hosted-page-link")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url("**/connect-success.html")
        result_text = page.content()
        page.goto(f"{sandbox}/login/?next=/sandbox/")
        page.get_by_label(re.compile("Username", re.I)).fill("ops")
        page.get_by_label(re.compile("Password", re.I)).fill("pw-for-tests-1")
        page.get_by_role("button", name=re.compile("Log in", re.I)).click()
        page.wait_for_url("**/sandbox/")
        page.locator("details summary").first.click()
        _screenshot(page, "sandbox-control-page", full_page=True)
        return result_text, page.content()

    (result_text, control_text), errors = run_in_browser(scenario)

    assert "Account connected" in result_text
    assert "Connected accounts" in control_text and "discord" in control_text
    assert not [e for e in errors if "Content Security Policy" in e]

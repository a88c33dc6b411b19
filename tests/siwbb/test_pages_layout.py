"""How the BitBadges buttons sit on the cancelled and connections pages, in Chromium.

The Sign in (or Connect) button is a form of its own; beside a link button it must be
one row at the same height on a desktop, and never wider than its card on a phone
(REVIEW #11). Against the sandbox over HTTP, a sign-in made in the browser.
"""

import os
import re

import pytest

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls
# (the siwbb fixture's app, teardown) are plain synchronous code (as tests/e2e/).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AUTHORIZE = re.compile(r".*/sandbox/bitbadges/siwbb/authorize\?.*")
BUTTONS = ".confirm-actions > .button, .confirm-actions .siwbb-form > button"
BOXES = "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })"
CARD = "e => { const r = e.getBoundingClientRect(); return [r.x, r.width]; }"


def boxes(page) -> list[list[float]]:
    return page.locator(BUTTONS).evaluate_all(BOXES)


def at_bitbadges(page, decision: str) -> None:
    page.wait_for_url(AUTHORIZE)
    page.get_by_role("button", name=decision).click()
    page.wait_for_load_state("networkidle")


def within_card(page, found: list[list[float]]) -> None:
    left, width = page.locator("section.card").first.evaluate(CARD)
    for x, _y, w, _h in found:
        assert left <= x and x + w <= left + width + 0.5, (found, left, width)


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def check_buttons(page, *, stacked_ok_at: int) -> None:
    """At 1280 px and at 390 px: two buttons, the same height, in one row where there
    is room (wider than `stacked_ok_at`), inside the card, no sideways scrolling."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        found = boxes(page)
        assert len(found) == 2, found
        (_, y1, _, h1), (_, y2, _, h2) = found
        if width > stacked_ok_at:
            assert abs(y1 - y2) < 1 and abs(h1 - h2) < 1, (width, found)
        within_card(page, found)
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_cancelled_pages_buttons(siwbb, browser_page):
    page = browser_page
    page.goto(f"{siwbb.url}/login/")
    page.get_by_role("button", name="Sign in with BitBadges").click()
    at_bitbadges(page, "Deny")
    assert page.url.endswith("/auth/social/login/cancelled/")
    check_buttons(page, stacked_ok_at=390)
    # Stacked on a phone, they still match.
    (_, _, w1, h1), (_, _, w2, h2) = boxes(page)
    assert abs(h1 - h2) < 1 and abs(w1 - w2) < 1


def test_the_connections_pages_buttons(siwbb, browser_page):
    page = browser_page
    page.goto(f"{siwbb.url}/login/")
    page.get_by_role("button", name="Sign in with BitBadges").click()
    at_bitbadges(page, "Approve")
    page.goto(f"{siwbb.url}/auth/social/")
    check_buttons(page, stacked_ok_at=390)

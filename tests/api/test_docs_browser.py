"""The API's docs page (/api/v1/docs, Swagger UI from django-ninja's static files) in
Chromium: it renders the description's operations, offline, with no console error and
no Content-Security-Policy violation."""

import os

import pytest

# Playwright's sync API runs an event loop in this thread; the live server's setup is
# plain synchronous ORM code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.e2e]


def test_the_docs_page_renders_without_csp_violations(live_server, page):
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    outside: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith((live_server.url, "data:")) else outside.append(r.url),
    )
    page.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Connect & Claim read API" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/claims/{slug}/completions" in " ".join(paths)
    page.locator("button.authorize").first.wait_for()
    assert page.evaluate("window.__csp") == []
    assert problems == []
    assert outside == []

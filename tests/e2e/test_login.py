"""A member logs in through a real browser."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_member_logs_in_and_sees_home(live_server, page, member, screenshot):
    page.goto(f"{live_server.url}/")
    assert page.url.startswith(f"{live_server.url}/login/")
    screenshot("login")
    page.fill("#id_login", "alice@example.com")
    page.fill("#id_password", "connect-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Hello, alice"
    screenshot("home")


def test_wrong_password_shows_a_message(live_server, page, member):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_login", "alice")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert "do not match" in page.locator(".form-errors").inner_text()


def test_no_console_errors_or_csp_violations(live_server, page, member):
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_login", "alice")
    page.fill("#id_password", "connect-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert problems == []

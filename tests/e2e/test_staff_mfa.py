"""A staff member, made to use two-factor authentication, sets it up in Chromium and logs
in with a code: login -> password again -> QR code -> recovery codes -> the admin ->
logout -> login with a code. No console error and no CSP refusal on the way (the QR code
is a data: image; the pages load no inline script or style)."""

import os
from pathlib import Path

import pytest

from tests.browser_support import ARTIFACTS
from tests.members_support import verify_email
from tests.users.mfa_support import fresh_totp_code

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
SHOTS = Path(os.environ.get("MFA_SHOTS_DIR", ARTIFACTS / "staff-mfa"))


def shoot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(desktop)


@pytest.fixture
def staff(django_user_model, settings):
    settings.STAFF_MFA_REQUIRED = True
    return verify_email(
        django_user_model.objects.create_superuser(
            username="admin", email="admin@example.com", password="connect-demo"
        )
    )


def test_staff_set_up_an_authenticator_then_log_in_with_a_code(live_server, page, staff):
    problems = []

    def console(message):
        # The admin's pages link no icon: Chromium asks for /favicon.ico, a 404.
        if message.type == "error" and "/favicon.ico" not in message.location["url"]:
            problems.append(f"{message.text} ({message.location['url']})")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    url = live_server.url

    page.goto(f"{url}/admin/")
    page.wait_for_url(f"{url}/login/?next=%2Fadmin%2F")
    page.fill("#id_login", "admin")
    page.fill("#id_password", "connect-demo")
    page.click("main button[type=submit]")
    # The admin sends them to set up an app; allauth first asks for the password again.
    page.wait_for_url(f"{url}/reauthenticate/**")
    assert "need two-factor authentication" in page.locator(".messages").inner_text()
    shoot(page, "1-confirm-password")
    page.fill("#id_password", "connect-demo")
    page.click("main button[type=submit]")

    page.wait_for_url(f"{url}/2fa/totp/activate/?next=%2Fadmin%2F")
    qr = page.locator("main img[src^='data:image/svg+xml;base64,']")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    shoot(page, "2-activate")
    secret = page.input_value("#authenticator_secret")
    page.fill("#id_code", fresh_totp_code(secret))
    page.click("main button[type=submit]")

    page.wait_for_url(f"{url}/2fa/recovery-codes/?next=%2Fadmin%2F")
    assert len(page.input_value("#recovery_codes").split()) == 10
    shoot(page, "3-recovery-codes")
    page.click("text=I saved them: continue")
    page.wait_for_url(f"{url}/admin/")
    assert "Site administration" in page.content()

    page.click("#logout-form button")
    page.goto(f"{url}/login/?next=/admin/claims/claim/")
    page.fill("#id_login", "admin")
    page.fill("#id_password", "connect-demo")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{url}/2fa/authenticate/")
    page.fill("#id_code", "000000")
    page.click("main button[type=submit]")
    assert "Incorrect code" in page.locator("main").inner_text()
    shoot(page, "4-code-at-login")
    page.fill("#id_code", fresh_totp_code(secret))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{url}/admin/claims/claim/")

    page.goto(f"{url}/2fa/")
    shoot(page, "5-overview")
    assert problems == []

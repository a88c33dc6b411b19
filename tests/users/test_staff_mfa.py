"""Two-factor authentication (allauth.mfa): staff can be required to use it for the admin.

Codes are computed as an authenticator app does (tests/users/mfa_support.py), with the
clock frozen mid-step so a code never expires mid-test.
"""

import re
from html import unescape
from urllib.parse import quote

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from tests.members_support import verify_email
from tests.settings_support import run
from tests.users.mfa_support import totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "connect-demo"
NOW = 1_900_000_005  # 5 s into a 30-second step
PRODUCTION = {
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "example.com",
    "CLAIM_SECRETS_KEYS": "k" * 40,
}


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff_user(django_user_model):
    return verify_email(
        django_user_model.objects.create_superuser(
            username="admin", email="admin@example.com", password=PASSWORD
        )
    )


@pytest.fixture
def required(settings):
    settings.STAFF_MFA_REQUIRED = True


def with_totp(user) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def log_in(client, username, next_url="/admin/"):
    return client.post(f"/login/?next={next_url}", {"login": username, "password": PASSWORD})


def activation_page(client, admin_path):
    """From an admin page to the activation page: allauth asks for the password first."""
    response = client.get(admin_path)
    assert response.status_code == 302
    assert response["Location"].startswith("/2fa/totp/activate/?next=")
    confirm = client.get(response["Location"])
    assert confirm.status_code == 302
    assert confirm["Location"].startswith("/reauthenticate/?next=")
    page = client.get(confirm["Location"])
    assert "need two-factor authentication to use the admin" in page.text
    response = client.post(confirm["Location"], {"password": PASSWORD})
    assert response["Location"] == f"/2fa/totp/activate/?next={quote(admin_path, safe='')}"
    return client.get(response["Location"])


# --- STAFF_MFA_REQUIRED --------------------------------------------------------------


def test_staff_without_an_authenticator_are_sent_to_set_one_up(client, staff_user, required):
    log_in(client, "admin", "/")
    for path in ("/admin/", "/admin/claims/claim/", "/admin/users/user/", "/admin/jsi18n/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/2fa/totp/activate/?next={quote(path, safe='')}"
    response = client.post("/admin/users/user/add/", {"username": "mallory"})
    assert response.status_code == 302
    assert not type(staff_user).objects.filter(username="mallory").exists()
    page = activation_page(client, "/admin/")
    assert page.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in page.text


@pytest.mark.django_db(transaction=True)  # allauth announces the app once it commits
def test_staff_set_up_an_app_then_see_recovery_codes_then_go_on_to_the_admin(
    client, staff_user, required
):
    log_in(client, "admin", "/")
    page = activation_page(client, "/admin/claims/claim/")
    secret = re.search(r'id="authenticator_secret" value="([A-Z2-7=]+)"', page.text)[1]
    assert unescape(re.search(r'name="next" value="([^"]+)"', page.text)[1]) == (
        "/admin/claims/claim/"
    )
    wrong = client.post("/2fa/totp/activate/", {"code": "000000", "next": "/admin/claims/claim/"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.text
    response = client.post(
        "/2fa/totp/activate/", {"code": totp_code(secret), "next": "/admin/claims/claim/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/2fa/recovery-codes/?next=%2Fadmin%2Fclaims%2Fclaim%2F"
    codes = client.get(response["Location"])
    shown = re.search(r'<textarea id="recovery_codes"[^>]*>(.*?)</textarea>', codes.text, re.S)[1]
    assert len(shown.split()) == 10 and all(re.fullmatch(r"\d{8}", c) for c in shown.split())
    assert 'href="/admin/claims/claim/"' in codes.text
    assert client.get("/admin/claims/claim/").status_code == 200


def test_the_way_on_after_activation_stays_on_the_site(client, staff_user, required):
    log_in(client, "admin", "/")
    activation_page(client, "/admin/")
    secret = client.session["mfa.totp.secret"]
    response = client.post(
        "/2fa/totp/activate/", {"code": totp_code(secret), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/2fa/recovery-codes/"
    assert "evil.example" not in client.get("/2fa/recovery-codes/?next=https://evil.example/").text


def test_the_admins_logout_is_open_to_staff_without_an_authenticator(client, staff_user, required):
    client.force_login(staff_user)
    response = client.post("/admin/logout/")
    assert response.status_code == 302 and "_auth_user_id" not in client.session


def test_staff_with_an_app_log_in_with_a_code_then_use_the_admin(client, staff_user, required):
    secret = with_totp(staff_user)
    response = log_in(client, "admin", "/admin/claims/claim/")
    assert response.status_code == 302
    assert response["Location"] == "/2fa/authenticate/"
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # not logged in yet
    page = client.get("/2fa/authenticate/")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.text
    response = client.post("/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    assert response["Location"] == "/admin/claims/claim/"
    assert client.get("/admin/claims/claim/").status_code == 200


def test_a_recovery_code_stands_in_for_the_app_once(client, staff_user):
    with_totp(staff_user)
    code = (
        Authenticator.objects.get(user=staff_user, type="recovery_codes")
        .wrap()
        .get_unused_codes()[0]
    )
    log_in(client, "admin")
    assert client.post("/2fa/authenticate/", {"code": code})["Location"] == "/admin/"
    client.post("/logout/")
    log_in(client, "admin")
    again = client.post("/2fa/authenticate/", {"code": code})
    assert again.status_code == 200 and "Incorrect code" in again.text


def test_wrong_codes_are_refused_then_throttled(client, staff_user):
    secret = with_totp(staff_user)
    log_in(client, "admin")
    for n in range(5):
        response = client.post("/2fa/authenticate/", {"code": f"{n:06d}"})
        assert response.status_code == 200
        assert "Incorrect code" in response.text
    response = client.post("/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 200
    assert "Too many failed attempts" in response.text
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_a_code_works_once(client, staff_user):
    secret = with_totp(staff_user)
    log_in(client, "admin")
    assert client.post("/2fa/authenticate/", {"code": totp_code(secret)}).status_code == 302
    client.post("/logout/")
    log_in(client, "admin")
    replay = client.post("/2fa/authenticate/", {"code": totp_code(secret)})
    assert replay.status_code == 200 and "Incorrect code" in replay.text


def test_members_are_unaffected(client, member, required):
    response = log_in(client, "alice", "/claims/")
    assert response.status_code == 302 and response["Location"] == "/claims/"
    assert client.get("/claims/").status_code == 200
    assert client.get("/profile/").status_code == 200
    # They may still set up an app themselves.
    assert client.get("/2fa/").status_code == 200
    client.post("/reauthenticate/", {"password": PASSWORD})
    assert client.get("/2fa/totp/activate/").status_code == 200


def test_off_by_default_staff_without_an_app_use_the_admin(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/admin/").status_code == 200


def test_the_mfa_pages_wear_the_site_layout(client, staff_user):
    log_in(client, "admin", "/")
    client.post("/reauthenticate/", {"password": PASSWORD})
    for path in ("/2fa/", "/2fa/totp/activate/"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'class="topbar"' in page.text, path
        assert "<style" not in page.text and " style=" not in page.text, path
    with_totp(staff_user)
    for path in ("/2fa/", "/2fa/recovery-codes/", "/2fa/recovery-codes/generate/"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'class="topbar"' in page.text, path


# --- the deploy check ----------------------------------------------------------------


@pytest.mark.own_process
def test_check_deploy_warns_while_staff_mfa_is_not_required(tmp_path):
    off = run(["check", "--deploy"], {**PRODUCTION, "STAFF_MFA_REQUIRED": "false"}, tmp_path)
    assert off.returncode == 0, off.stderr
    assert "users.W001" in off.stderr
    assert "STAFF_MFA_REQUIRED=true" in off.stderr
    on = run(["check", "--deploy"], {**PRODUCTION, "STAFF_MFA_REQUIRED": "true"}, tmp_path)
    assert on.returncode == 0, on.stderr
    assert "users.W001" not in on.stderr + on.stdout


@pytest.mark.own_process
def test_staff_mfa_required_is_a_strict_boolean(tmp_path):
    result = run(["check"], {**PRODUCTION, "STAFF_MFA_REQUIRED": "ture"}, tmp_path)
    assert result.returncode != 0
    assert "STAFF_MFA_REQUIRED must be true or false" in result.stderr


def test_a_session_opened_before_the_app_was_set_up_must_enter_a_code(client, staff_user, required):
    """A password-only session (opened before activation, or before the setting was on)
    is asked for a code before the admin opens; one code, and it does."""
    log_in(client, "admin", "/")
    secret = with_totp(staff_user)  # set up elsewhere, e.g. in another browser

    response = client.get("/admin/claims/claim/")

    assert response.status_code == 302
    assert response["Location"] == "/2fa/reauthenticate/?next=%2Fadmin%2Fclaims%2Fclaim%2F"
    page = client.get(response["Location"])
    assert "enter a code from your authenticator app" in page.text
    assert client.post(response["Location"], {"code": "000000"}).status_code == 200
    assert client.get("/admin/").status_code == 302
    done = client.post(response["Location"], {"code": totp_code(secret)})
    assert done["Location"] == "/admin/claims/claim/"
    assert client.get("/admin/claims/claim/").status_code == 200


def test_a_login_with_a_code_opens_the_admin_at_once(client, staff_user, required):
    secret = with_totp(staff_user)
    log_in(client, "admin", "/admin/")
    client.post("/2fa/authenticate/", {"code": totp_code(secret)})

    assert client.get("/admin/claims/claim/").status_code == 200

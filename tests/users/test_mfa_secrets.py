"""Second-factor secrets are encrypted at rest with CLAIM_SECRETS_KEYS, rotate with the
claim secrets, and a secret no key can read stops the sign-in with a sentence, never
a guessable fallback or a 500."""

import json
import re

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.core.management import CommandError, call_command

from tests.members_support import verify_email
from tests.users.mfa_support import totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "connect-demo"
NOW = 1_900_000_005  # 5 s into a 30-second step
OLD_KEY = "old-key-" + "o" * 40
NEW_KEY = "new-key-" + "n" * 40


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff_user(django_user_model, settings):
    settings.CLAIM_SECRETS_KEYS = [OLD_KEY]
    return verify_email(
        django_user_model.objects.create_superuser(
            username="admin", email="admin@example.com", password=PASSWORD
        )
    )


def activate_through_the_pages(client) -> str:
    """Log in, set up an authenticator app as a person does; returns its secret."""
    client.post("/login/?next=/", {"login": "admin", "password": PASSWORD})
    client.post("/reauthenticate/?next=/2fa/totp/activate/", {"password": PASSWORD})
    page = client.get("/2fa/totp/activate/")
    secret = re.search(r'id="authenticator_secret" value="([A-Z2-7=]+)"', page.text)[1]
    response = client.post("/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302, response.text
    client.post("/logout/")
    return secret


def log_in_with_code(client, code):
    client.post("/login/?next=/admin/", {"login": "admin", "password": PASSWORD})
    return client.post("/2fa/authenticate/", {"code": code})


def stored_text(user) -> str:
    return json.dumps([a.data for a in Authenticator.objects.filter(user=user)])


def test_the_totp_secret_is_not_stored_in_the_clear(client, staff_user):
    secret = activate_through_the_pages(client)

    stored = stored_text(staff_user)
    assert Authenticator.objects.filter(user=staff_user, type="totp").exists()
    assert secret not in stored
    assert secret.rstrip("=") not in stored
    assert log_in_with_code(client, totp_code(secret))["Location"] == "/admin/"


def test_rotation_re_encrypts_second_factors_and_the_old_key_can_go(client, staff_user, settings):
    secret = activate_through_the_pages(client)
    before = stored_text(staff_user)

    settings.CLAIM_SECRETS_KEYS = [NEW_KEY, OLD_KEY]
    call_command("claim_secrets_rotate", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.CLAIM_SECRETS_KEYS = [NEW_KEY]

    assert stored_text(staff_user) != before
    assert log_in_with_code(client, totp_code(secret))["Location"] == "/admin/"


def test_a_secret_no_key_reads_stops_the_sign_in_with_a_sentence(client, staff_user, settings):
    secret = activate_through_the_pages(client)

    settings.CLAIM_SECRETS_KEYS = [NEW_KEY]
    response = log_in_with_code(client, totp_code(secret))

    assert response.status_code == 403
    assert "Your second factor cannot be read" in response.text
    assert client.get("/admin/").status_code == 302  # not logged in
    with pytest.raises(CommandError, match="the TOTP Authenticator of admin"):
        call_command("claim_secrets_rotate", "--dry-run", stdout=open("/dev/null", "w"))  # noqa: SIM115

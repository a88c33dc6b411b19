"""The brand in every email the site sends (allauth's, through the account adapter, and
connect_link's), and the start-up checks of the BRAND_* settings."""

from pathlib import Path

import pytest
from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test.utils import override_settings

from branding.models import Brand
from connections.models import App

pytestmark = pytest.mark.django_db

EMAILS = Path(settings.BASE_DIR) / "templates" / "account" / "email"
# Every kind of email the account adapter sends from templates/account/email.
PREFIXES = sorted(
    f"account/email/{path.name.removesuffix('_subject.txt')}"
    for path in EMAILS.glob("*_subject.txt")
)


@pytest.fixture
def brand():
    brand = Brand(name="Acme Rewards", support_email="help@acme.example")
    brand.save()
    return brand


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_account_email_wears_the_brand(brand, rf, prefix):
    request = rf.get("/")
    context = {"user": None, "username": "alice", "public_url": "https://example.test"}
    message = get_adapter(request).render_mail(prefix, "alice@example.com", context)
    assert message.subject.startswith("[Acme Rewards] ")
    assert message.from_email == "Acme Rewards <noreply@localhost>"
    assert message.message()["Reply-To"] == "help@acme.example"
    assert "Connect & Claim" not in message.subject + message.body
    assert "Hello from Acme Rewards" in message.body
    assert message.body.rstrip().endswith("Questions? Write to help@acme.example")


def test_a_password_reset_sent_through_the_site_is_branded(client, member, brand):
    client.post("/password/reset/", {"email": member.email})
    (sent,) = mail.outbox
    assert sent.subject == "[Acme Rewards] Choose a new password"
    assert "the Acme Rewards account alice" in sent.body
    assert sent.message()["Reply-To"] == "help@acme.example"
    assert sent.message()["From"] == "Acme Rewards <noreply@localhost>"


def test_without_an_admin_brand_the_settings_name_the_emails(client, member):
    with override_settings(BRAND_NAME="Settings Co", BRAND_SUPPORT_EMAIL=""):
        client.post("/password/reset/", {"email": member.email})
    (sent,) = mail.outbox
    assert sent.subject == "[Settings Co] Choose a new password"
    assert "Questions?" not in sent.body and "Reply-To" not in sent.message()


def test_the_connect_link_email_is_branded(member, brand):
    App.objects.create(slug="github", name="GitHub", enabled=True)
    call_command("connect_link", "--user", "alice", "--app", "github", "--email", stdout=None)
    (sent,) = mail.outbox
    assert sent.from_email == "Acme Rewards <noreply@localhost>"
    assert sent.body.rstrip().endswith("Acme Rewards\nQuestions? Write to help@acme.example")


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("BRAND_ACCENT_COLOUR", "#ffff00", "branding.E001"),
        ("BRAND_ACCENT_COLOUR", "yellow", "six hexadecimal digits"),
        ("BRAND_NAME", "Acme\nBcc: x@example.com", "branding.E002"),
        ("BRAND_SUPPORT_EMAIL", "help at acme", "branding.E003"),
    ],
)
def test_bad_brand_settings_stop_the_start(setting, value, said):
    with override_settings(**{setting: value}), pytest.raises(SystemCheckError, match=said):
        call_command("check", tags=None)


def test_an_unusable_setting_gives_way_to_the_built_in_value(client, member):
    # A web server started without `check` still never serves them.
    bad = {
        "BRAND_NAME": "Acme\nBcc: all@example.com",
        "BRAND_SUPPORT_EMAIL": "help at acme",
        "BRAND_ACCENT_COLOUR": "red; } body { display: none",
    }
    with override_settings(**bad):
        css = client.get("/brand.css").text
        client.post("/password/reset/", {"email": member.email})
    assert "--accent: #4f46e5;" in css and "display: none" not in css
    (sent,) = mail.outbox
    assert sent.subject == "[Acme Bcc: all@example.com] Choose a new password"
    assert "Questions?" not in sent.body

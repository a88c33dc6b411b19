"""EMAIL_URL=consolemail:// (the development default): each email printed readable, its
links whole, so the one a newcomer copies from the terminal opens."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from config.settings import _mailer_from_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def console_mailer(settings):
    settings.MAILERS = {"default": _mailer_from_url("consolemail://")}


def test_the_confirmation_link_printed_at_sign_up_opens_whole(
    client, settings, console_mailer, capsys
):
    response = client.post(
        "/signup/",
        {
            "username": "dana",
            "email": "dana@example.com",
            "password1": "a-long-enough-passphrase-7",
            "password2": "a-long-enough-passphrase-7",
        },
    )
    assert response.status_code == 302
    printed = capsys.readouterr().out
    assert "Subject: [Connect & Claim] " in printed
    assert "To: dana@example.com" in printed
    assert "quoted-printable" not in printed  # the text as written, not as sent
    [link] = re.findall(re.escape(settings.PUBLIC_URL) + r"/confirm-email/\S+", printed)

    # The link as printed, copied whole, confirms the address.
    path = link.removeprefix(settings.PUBLIC_URL)
    assert client.get(path).status_code == 200
    client.post(path)
    assert EmailAddress.objects.get(email="dana@example.com").verified


def test_a_long_link_a_non_ascii_subject_and_the_other_parts(console_mailer, capsys):
    url = "https://claims.example.com/connect/l/" + "a1b2c3d4e5" * 11 + "?next=/claims/&x=y"
    assert len(url) > 150
    message = mail.EmailMultiAlternatives(
        subject="Ihr Abzeichen ist da – Glückwunsch",
        body=f"Open this:\n{url}\n\nThat is all.",
        to=["dana@example.com"],
    )
    message.attach_alternative(f'<a href="{url}">Open</a>', "text/html")
    message.attach("badge.txt", "a badge", "text/plain")
    message.send()

    printed = capsys.readouterr().out
    assert f"\n{url}\n" in printed
    assert "=\n" not in printed and "=3D" not in printed
    assert "Subject: Ihr Abzeichen ist da – Glückwunsch" in printed
    assert "[also as text/html]" in printed
    assert "[attachment badge.txt (text/plain)]" in printed
    assert "<a href" not in printed  # the HTML is named, not printed

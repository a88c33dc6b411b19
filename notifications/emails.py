"""The two emails, built from templates/notifications/email/: a text body, an HTML
alternative in an email-safe layout (light and dark), and the one-click unsubscribe
headers (RFC 8058). Every link is absolute, on PUBLIC_URL."""

from dataclasses import dataclass
from email.policy import default as default_policy

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from branding.selectors import brand_current
from notifications.models import Kind
from notifications.tokens import token_for

# The HTML layout's colours: (text, background) pairs, each at least 4.5:1 (WCAG AA;
# tests/notifications checks them). Light is inline; dark overrides it in a
# prefers-color-scheme block for the clients that read one.
LIGHT = {
    "page": "#f3f4f6",
    "card": "#ffffff",
    "text": "#111827",
    "muted": "#4b5563",
    "link": "#3730a3",
    "button": "#3730a3",
    "button_text": "#ffffff",
    "rule": "#d1d5db",
}
DARK = {
    "page": "#111827",
    "card": "#1f2937",
    "text": "#f3f4f6",
    "muted": "#d1d5db",
    "link": "#c7d2fe",
    "button": "#c7d2fe",
    "button_text": "#111827",
    "rule": "#4b5563",
}
# Which colour is read on which: what the contrast test walks.
READ_ON = [
    ("text", "card"),
    ("muted", "card"),
    ("link", "card"),
    ("button_text", "button"),
    ("text", "page"),
    ("muted", "page"),
]


def absolute(path: str) -> str:
    return settings.PUBLIC_URL.rstrip("/") + path


def one_line(text: str, limit: int = 150) -> str:
    """Upstream or staff text made safe for a subject line: one line, not too long."""
    return " ".join(str(text).split())[:limit]


@dataclass
class Email:
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def build(member, kind: str, template: str, context: dict) -> Email:
    """Render `template` (its _subject.txt, .txt and .html) for `member` about `kind`, in
    the active language (sending.py makes it the member's)."""
    brand = brand_current()
    unsubscribe_url = absolute(reverse("notifications:unsubscribe", args=[token_for(member, kind)]))
    context = {
        **context,
        "brand": brand,
        "member": member,
        "kind_label": Kind(kind).label,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": absolute(reverse("users:profile")) + "#notifications",
        "home_url": absolute("/"),
        "light": LIGHT,
        "dark": DARK,
        "LANGUAGE_CODE": translation.get_language(),
    }
    subject = one_line(render_to_string(f"notifications/email/{template}_subject.txt", context))
    context["subject"] = subject
    return Email(
        subject=f"[{one_line(brand.name, 60)}] {subject}",
        text=render_to_string(f"notifications/email/{template}.txt", context),
        html=render_to_string(f"notifications/email/{template}.html", context),
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )


class _Message(EmailMultiAlternatives):
    """Headers up to RFC 5322's 998 characters a line. At the SMTP policy's 78, Python
    cannot fold the long unbroken List-Unsubscribe URL and RFC 2047-encodes it, which
    RFC 2369/8058 forbid there (mail providers then ignore the one-click header)."""

    def message(self, *, policy=default_policy):
        return super().message(policy=policy.clone(max_line_length=998))


def send(email: Email, address: str) -> None:
    brand = brand_current()
    headers = dict(email.headers)
    if brand.support_email:
        headers["Reply-To"] = brand.support_email
    message = _Message(
        subject=email.subject,
        body=email.text,
        from_email=brand.from_email,
        to=[address],
        headers=headers,
    )
    message.attach_alternative(email.html, "text/html")
    message.send()

"""How django-allauth behaves here: who may sign up, our wording, links on PUBLIC_URL."""

from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.urls import reverse


def _public(url_or_path: str) -> str:
    """The same page on PUBLIC_URL: emailed links never depend on a request's Host."""
    parts = urlsplit(url_or_path)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return settings.PUBLIC_URL + path


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "email_taken": (
            "A member already uses this email address. Log in instead, or reset your "
            "password if you forgot it."
        ),
        "username_taken": "This username is taken. Choose another one.",
        "username_blacklisted": "This username is reserved. Choose another one.",
        "email_password_mismatch": (
            "That email address and password do not match. Check both and try again."
        ),
        "username_password_mismatch": (
            "That username and password do not match. Check both and try again."
        ),
        "too_many_login_attempts": (
            "Too many failed attempts to log in to this account. Wait a few minutes and try "
            "again, or reset your password."
        ),
        "invalid_or_expired_key": (
            "This link is not valid or has expired. Ask for a new one below."
        ),
        "invalid_password_reset": (
            "This password reset link is not valid or has expired. Ask for a new one."
        ),
        "rate_limited": "Too many requests in a short time. Wait a minute and try again.",
    }

    def is_open_for_signup(self, request) -> bool:
        return bool(settings.SIGNUP_OPEN)

    def clean_username(self, username: str, shallow: bool = False) -> str:
        # Members log in with a username or an email: a username that looks like an
        # email address would make that ambiguous.
        if "@" in username:
            raise self.validation_error("username_has_at")
        return super().clean_username(username, shallow=shallow)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        super().send_mail(template_prefix, email, {"public_url": settings.PUBLIC_URL, **context})

    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        return _public(reverse("account_confirm_email", args=[emailconfirmation.key]))

    def get_reset_password_from_key_url(self, key: str) -> str:
        return _public(super().get_reset_password_from_key_url(key))

    def get_login_stages(self) -> list[str]:
        return [
            "users.stages.EmailVerificationStage"
            if path == "allauth.account.stages.EmailVerificationStage"
            else path
            for path in super().get_login_stages()
        ]


AccountAdapter.error_messages["username_has_at"] = (
    "A username cannot contain @ (that is how we tell it from an email address)."
)

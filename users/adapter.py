"""How django-allauth behaves here: who may sign up, our wording, links on PUBLIC_URL,
the client's address and the failed-login limits."""

import hashlib
import math
import re
import time
from urllib.parse import urlencode, urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.userkit import filter_users_by_email, filter_users_by_username
from allauth.account.utils import get_next_redirect_url
from allauth.core.internal import ratelimit as allauth_ratelimit
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from branding.selectors import brand_current
from core import ratelimit
from core.ratelimit import client_ip
from users.lookalikes import has_lookalikes
from users.start_path import start_path_arrived, start_path_for, start_path_remember

# Wrong passwords, counted in this order; a try refused by one is not counted by the
# later ones (settings.ACCOUNT_RATE_LIMITS says why these three).
_FROM, _ACCOUNT_FROM, _ACCOUNT = (
    "login_failed_from",
    "login_failed_account_from",
    "login_failed_account",
)

# A username, at sign-up: ASCII letters, digits and . + - _ (no @: settings, logins).
_USERNAME = re.compile(r"[A-Za-z0-9.+\-_]+")
# Notices to an address that someone tried to use (sign-up, add-email): one an hour.
NOTICE_WINDOW = 3600


def _public(url_or_path: str) -> str:
    """The same page on PUBLIC_URL: emailed links never depend on a request's Host."""
    parts = urlsplit(url_or_path)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return settings.PUBLIC_URL + path


# Said with every wrong password: an account held by its limits answers the same way.
_HELD = gettext_lazy(
    "After several wrong passwords an account is held for up to 5 minutes: wait, or "
    "reset your password to get in at once."
)


def _address_digest(email: str) -> str:
    return hashlib.sha256(email.strip().casefold().encode()).hexdigest()[:32]


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "email_taken": gettext_lazy(
            "A member already uses this email address. Log in instead, or reset your "
            "password if you forgot it."
        ),
        "username_taken": gettext_lazy("This username is taken. Choose another one."),
        "username_blacklisted": gettext_lazy("This username is reserved. Choose another one."),
        "email_password_mismatch": format_lazy(
            "{} {}",
            gettext_lazy("That email address and password do not match. Check both and try again."),
            _HELD,
        ),
        "username_password_mismatch": format_lazy(
            "{} {}",
            gettext_lazy("That username and password do not match. Check both and try again."),
            _HELD,
        ),
        # allauth fills the %s with ACCOUNT_MAX_EMAIL_ADDRESSES (a number, never 1 here).
        "max_email_addresses": gettext_lazy(
            "An account can have at most %s email addresses. Remove one before adding another."
        ),
        "too_many_login_attempts": gettext_lazy(
            "Too many failed attempts to log in to this account. Wait a few minutes and try "
            "again, or reset your password."
        ),
        "invalid_or_expired_key": gettext_lazy(
            "This link is not valid or has expired. Ask for a new one below."
        ),
        "invalid_password_reset": gettext_lazy(
            "This password reset link is not valid or has expired. Ask for a new one."
        ),
        "rate_limited": gettext_lazy(
            "Too many requests in a short time. Wait a minute and try again."
        ),
    }

    def get_client_ip(self, request) -> str:
        # Every allauth limit keyed "ip" and every notice's "IP address" line.
        return client_ip(request)

    def clean_email(self, email: str) -> str:
        if has_lookalikes(email):
            raise self.validation_error("email_lookalike")
        # A domain in other scripts can read as a known one (Cyrillic "а" as "a"); its
        # xn-- form (plain ASCII) is still accepted, and shows what it is.
        if not email.rpartition("@")[2].isascii():
            raise self.validation_error("email_not_ascii")
        return super().clean_email(email)

    def is_open_for_signup(self, request) -> bool:
        return bool(settings.SIGNUP_OPEN)

    def clean_username(self, username: str, shallow: bool = False) -> str:
        # Members log in with a username or an email: a username that looks like an
        # email address would make that ambiguous.
        if "@" in username:
            raise self.validation_error("username_has_at")
        if has_lookalikes(username):
            raise self.validation_error("username_lookalike")
        if not _USERNAME.fullmatch(username):
            raise self.validation_error("username_not_ascii")
        return super().clean_username(username, shallow=shallow)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        super().send_mail(template_prefix, email, {"public_url": settings.PUBLIC_URL, **context})

    def render_mail(self, template_prefix, email, context, headers=None):
        # Every email wears the owner's brand (name, support address): the templates
        # read `brand`, the subject starts with its name, replies go to its support.
        brand = brand_current()
        if brand.support_email:
            headers = {"Reply-To": brand.support_email, **(headers or {})}
        return super().render_mail(template_prefix, email, {"brand": brand, **context}, headers)

    def format_email_subject(self, subject: str) -> str:
        return f"[{brand_current().name}] {subject}"

    def get_from_email(self) -> str:
        return brand_current().from_email

    def send_address_notice(self, template_prefix: str, email: str, context: dict) -> None:
        """A notice to an address someone else tried to use: at most one an hour."""
        if ratelimit.hit("address-notice", _address_digest(email), limit=1, window=NOTICE_WINDOW):
            return
        self.send_mail(template_prefix, email, context)

    def send_account_already_exists_mail(self, email: str) -> None:
        # allauth's letter (the sign-up with a registered address), held to one an hour.
        if ratelimit.hit("address-notice", _address_digest(email), limit=1, window=NOTICE_WINDOW):
            return
        super().send_account_already_exists_mail(email)

    def respond_email_verification_sent(self, request, user):
        # "Check your inbox", for every sign-up; its "Log in" link keeps a safe `next`.
        url = reverse("account_email_verification_sent")
        next_url = get_next_redirect_url(request)
        if next_url:
            url += "?" + urlencode({"next": next_url})
        return HttpResponseRedirect(url)

    # --- the claim page a person set out from (users.start_path) ------------------------

    def pre_login(self, request, user, **kwargs):
        # Signing up or logging in from /c/<slug>/ (a safe `next`, allauth's redirect_url;
        # a signup logs in too, before any stage): that claim page is where this member
        # lands after confirming their email anywhere and logging in there.
        response = super().pre_login(request, user, **kwargs)
        if response is None:
            start_path_remember(user, kwargs.get("redirect_url"))
        return response

    def get_login_redirect_url(self, request) -> str:
        # With no explicit `next` (allauth follows a safe one first): the start claim
        # while it is open to the member, else the home page.
        return start_path_for(request.user) or super().get_login_redirect_url(request)

    def post_login(self, request, user, **kwargs):
        # Landed on the start claim with a confirmed email: it is used (once).
        response = super().post_login(request, user, **kwargs)
        start_path_arrived(user, response.get("Location"))
        return response

    def get_email_verification_redirect_url(self, email_address) -> str:
        # Confirmed while logged in: the start claim, used (once) by landing there.
        url = super().get_email_verification_redirect_url(email_address)
        if self.request.user.is_authenticated:
            start_path_arrived(self.request.user, url)
        return url

    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        return _public(reverse("account_confirm_email", args=[emailconfirmation.key]))

    def get_reset_password_from_key_url(self, key: str) -> str:
        return _public(super().get_reset_password_from_key_url(key))

    def get_reauthentication_methods(self, user) -> list[dict]:
        # allauth's (password, authenticator), then Confirm with BitBadges for a member
        # with a BitBadges login: the only one for those without a password, so
        # /reauthenticate/ and every "confirm it is you" check send them there.
        from users.siwbb import reauth

        return [*super().get_reauthentication_methods(user), *reauth.methods(user)]

    def get_login_stages(self) -> list[str]:
        return [
            "users.stages.EmailVerificationStage"
            if path == "allauth.account.stages.EmailVerificationStage"
            else path
            for path in super().get_login_stages()
        ]

    # --- failed logins: per account, whichever login string names it ------------------

    def _login_account(self, credentials: dict) -> str:
        """The account a login string names, as a rate-limit key (the string if none)."""
        email = credentials.get("email")
        username = credentials.get("username")
        if email:
            users = filter_users_by_email(email, prefer_verified=True, for_login=True)
            if len(users) == 1:
                return f"member:{users[0].pk}"
        if username:
            user = filter_users_by_username(username).first()
            if user is not None:
                return f"member:{user.pk}"
        return "login:" + (email or username or "").casefold()

    def _login_buckets(self, request, credentials: dict) -> list[tuple[str, str]]:
        account = self._login_account(credentials)
        address = allauth_ratelimit.get_ip(request)
        return [(_FROM, ""), (_ACCOUNT_FROM, f"{account}|{address}"), (_ACCOUNT, account)]

    def pre_authenticate(self, request, **credentials) -> None:
        usage = allauth_ratelimit.RateLimitUsage(usage=[])
        self._login_failed_rl_usage = usage
        for action, key in self._login_buckets(request, credentials):
            counted = allauth_ratelimit.consume(
                request, app="allauth.account", action=action, key=key or None
            )
            if not counted:
                usage.rollback()
                if action != _FROM:
                    # An account held by its own limits answers as a wrong password
                    # would, after the same work: saying "too many" would tell which
                    # login strings name that account (issue 17).
                    get_user_model()().set_password(credentials.get("password") or "")
                    method = "email" if credentials.get("email") else "username"
                    raise self.validation_error(f"{method}_password_mismatch")
                raise forms.ValidationError(
                    _too_many_logins(_seconds_until_allowed(request, action, key or None)),
                    code="too_many_login_attempts",
                )
            usage.usage.extend(counted.usage)

    def _delete_login_attempts_cached_email(self, request, **credentials) -> None:
        # After a password reset the account's own buckets start again (from here).
        super()._delete_login_attempts_cached_email(request, **credentials)
        for action, key in self._login_buckets(request, credentials)[1:]:
            allauth_ratelimit.clear(request, app="allauth.account", action=action, key=key)


def _seconds_until_allowed(request, action: str, key: str | None) -> int:
    """How long until `action` allows one more try (allauth keeps each try's time)."""
    now = time.time()
    wait = 1.0
    for rate in allauth_ratelimit.get_rates(app="allauth.account", action=action):
        cache_key = allauth_ratelimit.get_cache_key(
            request, app="allauth.account", action=action, rate=rate, key=key
        )
        live = [t for t in cache.get(cache_key, []) if t > now - rate.duration]
        if len(live) >= rate.amount:
            wait = max(wait, live[rate.amount - 1] + rate.duration - now)
    return math.ceil(wait)


def _too_many_logins(seconds: int) -> str:
    if seconds < 60:
        when = ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    else:
        minutes = math.ceil(seconds / 60)
        when = ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    return _(
        "Too many failed attempts to log in from your connection. "
        "Try again in %(when)s, or reset your password."
    ) % {"when": when}


AccountAdapter.error_messages["username_has_at"] = gettext_lazy(
    "A username cannot contain @ (that is how we tell it from an email address)."
)
AccountAdapter.error_messages["username_lookalike"] = gettext_lazy(
    "A username cannot contain invisible or look-alike characters (such as zero-width "
    "spaces, soft hyphens or full-width letters). Type it with plain letters."
)
AccountAdapter.error_messages["username_not_ascii"] = gettext_lazy(
    "A username can use only the letters a to z (either case), digits and . + - _"
)
AccountAdapter.error_messages["email_not_ascii"] = gettext_lazy(
    "Type the part after @ in plain letters (a to z, digits, - and .); for an "
    "internationalised domain, use its xn-- form."
)
AccountAdapter.error_messages["email_lookalike"] = gettext_lazy(
    "This address contains invisible or look-alike characters (such as zero-width spaces, "
    "soft hyphens or full-width letters). Type it again with plain characters."
)

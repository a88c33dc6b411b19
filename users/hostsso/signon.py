"""What a host-site login does to members here (called by the social account adapter,
users/siwbb/adapter.py, for logins whose provider is "host").

- A member of the host site signing on for the first time gets an account, even with
  SIGNUP_OPEN=false: a username made by usernames.py, no password, signup_method "host".
- The email the host gives is the member's, verified here ONLY when the host said
  `email_verified: true`; an unverified one gets a confirmation link as any new address
  (or, when another member confirmed it, only a notice: users.forms' rule for adding an
  address). A verified address that names another member here (registered_members)
  makes no account: the page says to log in to that account and connect the host login
  from its profile. Nobody is ever logged in to an existing account by email
  (SOCIALACCOUNT_EMAIL_AUTHENTICATION stays off).
- The host's id (`sub`) is the login's uid and never changes: a member has one host
  login at most, and a later login with another email at the host changes nothing here
  (the login's extra_data records what the host said last).
"""

from __future__ import annotations

import logging

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.internal.flows.email_verification import send_verification_email_to_address
from allauth.account.models import EmailAddress
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from users.forms import confirmed_elsewhere, registered_members, send_taken_notice
from users.hostsso import PROVIDER_ID, config, wording
from users.hostsso.selectors import host_login
from users.hostsso.usernames import new_username
from users.social import save_with_a_free_username

log = logging.getLogger(__name__)

PROFILE_SECTION = "#host"


def profile_url() -> str:
    return reverse("users:profile") + PROFILE_SECTION


def apps() -> list[SocialApp]:
    """The host site's app, from settings, while sign-on is on."""
    if not config.hostsso_enabled():
        return []
    return [
        SocialApp(
            provider="openid_connect",
            provider_id=PROVIDER_ID,
            name=config.site_name(),
            client_id=settings.HOST_OIDC_CLIENT_ID,
            secret=settings.HOST_OIDC_CLIENT_SECRET,
        )
    ]


def is_host(sociallogin) -> bool:
    return sociallogin.account.provider == PROVIDER_ID


def is_host_provider(provider) -> bool:
    app = getattr(provider, "app", None)
    return app is not None and app.provider_id == PROVIDER_ID


def usable_email(identity: dict) -> tuple[str, bool]:
    """The host's email address if this site accepts it (users.adapter.clean_email: no
    look-alikes, a plain domain), and whether the host verified it."""
    email = identity.get("email") or ""
    if not email:
        return "", False
    try:
        email = get_account_adapter().clean_email(email)
    except ValidationError:
        return "", False
    return email.lower(), identity.get("email_verified") is True


# --- before allauth signs up, logs in or connects ------------------------------------------


def refuse_taken_email(request: HttpRequest, sociallogin) -> None:
    """A newcomer whose VERIFIED email names a member here: no account, the page saying
    what to do. (An unverified one tells nothing: see save_member.)"""
    email, verified = usable_email(sociallogin.account.extra_data)
    if email and verified and registered_members(email):
        account = sociallogin.account
        if SocialAccount.objects.filter(provider=account.provider, uid=account.uid).exists():
            # The member is this very host account, signed up a moment ago by another tab
            # (its login and its address commit together): the sign-up that follows finds
            # the login taken and logs in to that account (SocialAccountAdapter.save_user).
            return
        log.info("Host sign-on: a newcomer's verified email belongs to a member; no account made")
        raise ImmediateHttpResponse(
            wording.error_response(
                request,
                wording.EMAIL_TAKEN,
                next_url=sociallogin.state.get("next") or "",
                email=email,
            )
        )


def refuse_second_login(request: HttpRequest, sociallogin) -> None:
    """Connecting a host login to a member who has another one: refused, nothing written
    (the member's host id never changes)."""
    mine = host_login(request.user)
    if mine is not None and mine.uid != sociallogin.account.uid:
        messages.error(
            request,
            _(
                "Your account here is already connected to another %(host)s account, so this "
                "one was not connected. Log out of %(host)s and log in there with the account "
                "you connected before."
            )
            % {"host": config.site_name()},
        )
        raise ImmediateHttpResponse(
            HttpResponseRedirect(sociallogin.get_redirect_url(request) or profile_url())
        )


def connected(request: HttpRequest) -> None:
    messages.success(
        request,
        _("%(host)s is connected: you can log in here with it.") % {"host": config.site_name()},
    )


# --- the new member ----------------------------------------------------------------------


def save_member(request: HttpRequest, sociallogin, save) -> object:
    """Write the new member, their host login and their email address together, or none
    of them. `save` is allauth's own saving (user, login, its email rows). Another tab
    that signed the same host account up meanwhile: raises IntegrityError (the caller
    logs in to that account instead)."""
    user = sociallogin.user
    user.set_unusable_password()
    user.signup_method = user.SignupMethod.HOST
    identity = sociallogin.account.extra_data
    email, verified = usable_email(identity)
    # Only an address nobody here signs in with or confirmed is the account's own
    # (User.email) and primary. Written here, not by allauth (which drops an address any
    # other member merely listed, as if it were taken).
    mine = bool(email) and not registered_members(email)
    user.email = ""
    sociallogin.email_addresses = []
    address = None
    with transaction.atomic():
        save_with_a_free_username(
            user,
            lambda attempt: new_username(identity, attempt=attempt),
            provider=PROVIDER_ID,
            uid=sociallogin.account.uid,
        )
        saved = save()
        if email:
            # Not mine: another member's, listed unverified, never confirmed (users.forms'
            # rule for adding an address).
            address = EmailAddress.objects.create(
                user=saved, email=email, verified=verified and mine, primary=mine
            )
            if mine:
                saved.email = email
                saved.save(update_fields=["email"])
    if address is not None and not address.verified:
        if confirmed_elsewhere(saved, email):
            send_taken_notice(request, email)
        else:
            send_verification_email_to_address(request, address, signup=True)
    messages.success(request, _new_member_sentence(saved, address))
    return saved


def _new_member_sentence(member, address: EmailAddress | None) -> str:
    host = config.site_name()
    made = _(
        "Welcome! We made your account here from your %(host)s login: your username is %(username)s."
    ) % {
        "host": host,
        "username": member.get_username(),
    }
    if address is None:
        return (
            made
            + " "
            + _(
                "%(host)s gave us no email address we can use: add one on your profile and "
                "confirm it to connect accounts and complete claims."
            )
            % {"host": host}
        )
    return made

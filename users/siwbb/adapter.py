"""How allauth's social accounts behave here (settings.SOCIALACCOUNT_ADAPTER).

Two providers, each configured from settings (never from the database or the admin):
BitBadges (BITBADGES_CLIENT_ID / _SECRET) and the host site's OpenID Connect provider
(HOST_OIDC_*; what its logins do is users/hostsso/signon.py's, called from here). The
checks every login goes through are the same for both: staff need an authenticator,
connecting needs a recent re-authentication, Confirm with ... accepts only the member's
own login, sign-ups count against the sign-up limit. What a BitBadges answer does:
- a newcomer (SIGNUP_OPEN, within allauth's "signup" rate limit): an account with a
  username made from the address, no password, no email, the address proven;
- a member logging in: the proof of their address renewed once the login is complete
  (receivers.py, after any second-factor step);
- connecting from /profile/: the proven address replaces the typed one, and the member
  is told; an address another account holds is refused, nothing written.
Every failure becomes a page a person can read (wording.py).
"""

import logging
import secrets

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.internal.flows import reauthentication
from allauth.account.internal.userkit import filter_users_by_username
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.internal import ratelimit
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.internal.flows import connect as connect_flow
from allauth.socialaccount.internal.flows import login as login_flow
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialLogin
from allauth.socialaccount.providers.base.constants import AuthError, AuthProcess
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from users.hostsso import signon as host
from users.hostsso import wording as host_wording
from users.siwbb import client, proof, reauth, wording
from users.siwbb.config import PROVIDER_ID, siwbb_enabled
from users.social import save_with_a_free_username, staff_without_authenticator

log = logging.getLogger(__name__)

PROFILE_SECTION = "#bitbadges"


def profile_url() -> str:
    return reverse("users:profile") + PROFILE_SECTION


def new_username(uid: str, *, attempt: int = 0) -> str:
    """A free username from a bb1 address: bb-<8 characters of it>, longer if taken; a
    random suffix from the second attempt on (another sign-up took the one chosen)."""
    body = uid.removeprefix("bb1")
    if attempt == 0:
        for size in (8, 12, 16, 24, len(body)):
            candidate = f"bb-{body[:size]}"
            if not filter_users_by_username(candidate).exists():
                return candidate
    return f"bb-{body[:8]}-{secrets.token_hex(4)}"


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    error_messages = {
        **DefaultSocialAccountAdapter.error_messages,
        "no_password": gettext_lazy(
            "BitBadges is the only way you log in here, so it cannot be disconnected. Set a "
            "password first (Profile, Password), then disconnect it."
        ),
        "disconnect_last": gettext_lazy(
            "BitBadges is the only way you log in here, so it cannot be disconnected."
        ),
        "no_verified_email": gettext_lazy(
            "Confirm an email address first: without it and without BitBadges you could "
            "not get back into your account."
        ),
        "connected_other": gettext_lazy(
            "This BitBadges address is connected to another account on this site, so it was "
            "not connected to yours. Log in to that account and disconnect it there first."
        ),
        "email_taken": gettext_lazy(
            "A member already uses this email address. Log in to that account, then connect "
            "%s from your profile."
        ),
    }

    # --- the app: from settings only ----------------------------------------------------

    def list_apps(self, request, provider=None, client_id=None) -> list[SocialApp]:
        apps = host.apps()
        if siwbb_enabled():
            apps.append(
                SocialApp(
                    provider=PROVIDER_ID,
                    name="BitBadges",
                    client_id=settings.BITBADGES_CLIENT_ID,
                    secret=settings.BITBADGES_CLIENT_SECRET,
                )
            )
        return [
            app
            for app in apps
            if provider in (None, app.provider, app.provider_id)
            and (not client_id or client_id == app.client_id)
        ]

    # --- sign-up ------------------------------------------------------------------------

    def is_open_for_signup(self, request, sociallogin) -> bool:
        # A member of the host site may always join by signing on from it: with
        # SIGNUP_OPEN=false that is the only way in for newcomers.
        if sociallogin is not None and host.is_host(sociallogin):
            return True
        return get_account_adapter(request).is_open_for_signup(request)

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        user.email = ""
        if host.is_host(sociallogin):
            # The email is decided when the member is saved (signon.save_member), from the
            # login's extra_data; allauth's own rules for it never run.
            sociallogin.email_addresses = []
        else:
            proof.set_proven(user, sociallogin.account.extra_data)
        return user

    def save_user(self, request, sociallogin, form=None):
        if host.is_host(sociallogin):
            return self._save_host_member(request, sociallogin)
        # The member and their BitBadges login are written together or not at all. Two
        # tabs (a double click, two claim pages) can come back for one new wallet at the
        # same moment: the second finds the login taken and logs in to that account.
        user = sociallogin.user
        user.set_unusable_password()
        user.signup_method = user.SignupMethod.BITBADGES  # for the funnel's paths
        try:
            with transaction.atomic():
                if not form:
                    # Auto sign-up (the rule): the username is made here, never from an
                    # email. Through allauth's sign-up form (a stale session), as typed.
                    user.email = ""
                    uid = sociallogin.account.uid
                    save_with_a_free_username(
                        user,
                        lambda attempt: new_username(uid, attempt=attempt),
                        provider=PROVIDER_ID,
                        uid=uid,
                    )
                saved = super().save_user(request, sociallogin, form=form)
        except IntegrityError:
            account = sociallogin.account
            if not SocialAccount.objects.filter(
                provider=account.provider, uid=account.uid
            ).exists():
                raise
            log.info("Sign in with BitBadges: a sign-up finished in another tab; logging in")
            raise ImmediateHttpResponse(_log_in_instead(request, sociallogin)) from None
        messages.success(request, _new_account_sentence(saved, sociallogin.account.uid))
        return saved

    def _save_host_member(self, request, sociallogin):
        account = sociallogin.account
        try:
            return host.save_member(
                request,
                sociallogin,
                lambda: super(SocialAccountAdapter, self).save_user(
                    request, sociallogin, form=None
                ),
            )
        except IntegrityError:
            if SocialAccount.objects.filter(provider=account.provider, uid=account.uid).exists():
                log.info("Host sign-on: a sign-up finished in another tab; logging in")
                raise ImmediateHttpResponse(_log_in_instead(request, sociallogin)) from None
            log.warning("Host sign-on: a sign-up could not be written (a conflict); nothing was")
            raise ImmediateHttpResponse(
                host_wording.error_response(
                    request, host_wording.UNKNOWN, next_url=sociallogin.state.get("next") or ""
                )
            ) from None

    # --- after BitBadges answered, before allauth logs in, signs up or connects -----------

    def pre_social_login(self, request, sociallogin) -> None:
        process = sociallogin.state.get("process")
        # Staff: a wallet alone is no way into the admin (REVIEW_security #9).
        staff = request.user if process == AuthProcess.CONNECT else sociallogin.user
        if process != reauth.PROCESS and staff_without_authenticator(staff):
            log.warning("%s refused: a staff account without an authenticator", _name(sociallogin))
            words = host_wording if host.is_host(sociallogin) else wording
            raise ImmediateHttpResponse(
                words.error_response(
                    request,
                    words.STAFF,
                    process=process or AuthProcess.LOGIN,
                    next_url=sociallogin.state.get("next") or "",
                )
            )
        if process == AuthProcess.CONNECT:
            self._connect(request, sociallogin)
        elif process == reauth.PROCESS:
            reauth.confirm(request, sociallogin)  # never goes on to a login
        elif not sociallogin.is_existing:
            self._limit_signups(request, sociallogin)
            if host.is_host(sociallogin):
                host.refuse_taken_email(request, sociallogin)

    def _connect(self, request, sociallogin) -> None:
        member = request.user
        if not member.is_authenticated:
            return  # allauth sends them to log in
        self._refuse_other_accounts(request, sociallogin)
        if host.is_host(sociallogin):
            host.refuse_second_login(request, sociallogin)
        # Confirmed on the way out (views.py); checked again now, before anything is
        # written: a confirmation that ran out while the member was at BitBadges is asked
        # again, and the connect goes on from here (resume_connect) once they gave it.
        # (allauth's own check, SOCIALACCOUNT_REAUTHENTICATION_REQUIRED, comes after
        # this hook, too late for the proof.)
        if reauthentication.is_reauthentication_required(request, app="allauth.socialaccount"):
            raise ImmediateHttpResponse(
                reauthentication.stash_and_reauthenticate(
                    request, sociallogin.serialize(), f"{__name__}.resume_connect"
                )
            )
        self._prove_connected(request, sociallogin)

    def _refuse_other_accounts(self, request, sociallogin) -> None:
        if sociallogin.is_existing and sociallogin.user.pk != request.user.pk:
            next_url = sociallogin.get_redirect_url(request) or self._profile_url(sociallogin)
            messages.error(request, self._connected_other(sociallogin))
            raise ImmediateHttpResponse(HttpResponseRedirect(next_url))

    def _connected_other(self, sociallogin) -> str:
        if host.is_host(sociallogin):
            return _(
                "This %(host)s account is connected to another account on this site, so it "
                "was not connected to yours. Log in to that account to use it."
            ) % {"host": sociallogin.provider.name}
        return str(self.error_messages["connected_other"])

    def _profile_url(self, sociallogin) -> str:
        return host.profile_url() if host.is_host(sociallogin) else profile_url()

    def _prove_connected(self, request, sociallogin) -> None:
        """What a connect says (and, for BitBadges, proves) once it is written."""
        if host.is_host(sociallogin):
            host.connected(request)
            return
        member = request.user
        previous = proof.prove(member, sociallogin.account.extra_data)
        messages.success(request, _connected_sentence(member.address, previous))

    def _limit_signups(self, request, sociallogin) -> None:
        # The password sign-up's limit (ACCOUNT_RATE_LIMITS["signup"], per client address)
        # holds for BitBadges sign-ups too; BitBadges' return is a GET.
        if not self.is_open_for_signup(request, sociallogin):
            return  # allauth answers "joining is closed"
        if not ratelimit.consume(request, app="allauth.account", action="signup", limit_get=True):
            state = sociallogin.state
            raise ImmediateHttpResponse(
                wording.error_response(request, wording.RATE, next_url=state.get("next") or "")
            )

    def get_connect_redirect_url(self, request, socialaccount) -> str:
        return host.profile_url() if socialaccount.provider == host.PROVIDER_ID else profile_url()

    # --- failures -----------------------------------------------------------------------

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        context = extra_context or {}
        state = context.get("state") or {}
        process = state.get("process") or AuthProcess.LOGIN
        next_url = state.get("next") or ""
        if host.is_host_provider(provider):
            raise ImmediateHttpResponse(
                host_wording.failure_response(
                    request, error=error, exception=exception, state=state
                )
            )
        # "No" at BitBadges (RFC 6749's error=access_denied; BitBadges does not document
        # its Deny): the cancelled page, whether or not the state came back with it, with
        # the way to start again where the member was going.
        if error == AuthError.CANCELLED or request.GET.get("error") == "access_denied":
            raise ImmediateHttpResponse(
                wording.cancelled_response(request, process=process, next_url=next_url)
            )
        if isinstance(exception, client.SiwbbFailure):
            reason = exception.kind
        elif not state:
            reason = wording.STATE
        elif exception is None:
            reason = wording.PROVIDER_ERROR
        else:
            log.warning("Sign in with BitBadges failed: %s", type(exception).__name__)
            reason = wording.UNKNOWN
        raise ImmediateHttpResponse(
            wording.error_response(request, reason, process=process, next_url=next_url)
        )


def _log_in_instead(request, sociallogin):
    """The BitBadges login of a sign-up was made meanwhile (another tab): the same answer,
    as a log-in to that account, through allauth's whole login (second factor included)."""
    account = sociallogin.account
    again = SocialLogin(
        account=SocialAccount(
            provider=account.provider, uid=account.uid, extra_data=account.extra_data
        ),
        user=get_user_model()(),
    )
    again.state = {**sociallogin.state, "process": AuthProcess.LOGIN}
    return login_flow.complete_login(request, again)


def resume_connect(request, serialized: dict):
    """A connect held for a re-authentication at the callback, once it is given (allauth's
    resume_request calls it): allauth's connect, then the proof. Minutes may have passed:
    a login another account took meanwhile is refused, nothing written."""
    sociallogin = SocialLogin.deserialize(serialized)
    adapter = get_social_adapter(request)
    account = sociallogin.account
    mine = SocialAccount.objects.filter(provider=account.provider, uid=account.uid)
    refused = HttpResponseRedirect(
        sociallogin.get_redirect_url(request) or adapter._profile_url(sociallogin)
    )
    if mine.exclude(user_id=request.user.pk).exists():
        messages.error(request, adapter._connected_other(sociallogin))
        return refused
    if host.is_host(sociallogin):
        try:
            host.refuse_second_login(request, sociallogin)
        except ImmediateHttpResponse as refusal:
            return refusal.response
    try:
        with transaction.atomic():
            response = connect_flow.connect(request, sociallogin)
    except IntegrityError:
        messages.error(request, adapter._connected_other(sociallogin))
        return refused
    if mine.filter(user_id=request.user.pk).exists():
        adapter._prove_connected(request, sociallogin)
    return response


def _name(sociallogin) -> str:
    return "Host sign-on" if host.is_host(sociallogin) else "Sign in with BitBadges"


def _new_account_sentence(member, uid: str) -> str:
    """Said after a sign-up with BitBadges: a new account was made, and when another
    account here has typed this address (not proven), how to keep to that one. The
    person just proved the address, so saying it is in use tells them nothing new."""
    made = _("We made a new account here for %(address)s.") % {"address": member.address}
    spellings = {member.address, uid}
    if not type(member).objects.filter(address__in=spellings).exclude(pk=member.pk).exists():
        return made
    return _(
        "We made a new account here for %(address)s, but another account here already "
        "uses this address. To keep to that one instead, log out, log in to it with its "
        "password and connect BitBadges from its profile."
    ) % {"address": member.address}


def _connected_sentence(address: str, previous: str) -> str:
    if previous and previous != address:
        return _(
            "BitBadges proved that %(address)s is yours: your badges go there now, instead of "
            "%(previous)s, the address you had typed."
        ) % {"address": address, "previous": previous}
    return _("BitBadges proved that %(address)s is yours: your badges go there.") % {
        "address": address
    }

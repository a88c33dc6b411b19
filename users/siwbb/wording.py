"""What a member reads when Sign in with BitBadges did not work, and the page that says it.

Every failure ends on templates/socialaccount/authentication_error.html with a title,
a sentence saying what happened and what to do, and the way back in; nothing is written
before (allauth makes accounts only after a successful exchange).
"""

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from users.siwbb import client

TEMPLATE = "socialaccount/authentication_error.html"
CANCELLED_TEMPLATE = "socialaccount/login_cancelled.html"
CANCELLED_SESSION_KEY = "siwbb_cancelled"
# What the page's button starts again: sign in, connect, or Confirm with BitBadges.
PROCESSES = ("login", "connect", "reauthenticate")


@dataclass(frozen=True)
class Reason:
    title: Promise
    sentence: Promise
    status: int


STATE = "state"
PROVIDER_ERROR = "provider_error"
RATE = "rate"
PROCESS = "process"
UNKNOWN = "unknown"
REAUTH_OTHER = "reauth_other"
STAFF = "staff"

REASONS = {
    STATE: Reason(
        _("This sign-in has expired"),
        _(
            "BitBadges sent you back here, but this sign-in did not start in this browser, "
            "was finished already, or started more than 10 minutes ago. Nothing was changed. "
            "Start again with the BitBadges button."
        ),
        400,
    ),
    client.CODE: Reason(
        _("BitBadges did not confirm the sign-in"),
        _(
            "BitBadges did not confirm the sign-in: the link was used already or is more "
            "than 10 minutes old. Nothing was changed. Try again."
        ),
        400,
    ),
    client.REFUSED: Reason(
        _("BitBadges did not confirm the sign-in"),
        _(
            "BitBadges could not verify this sign-in, so you are not signed in and nothing "
            "was changed. Try again."
        ),
        400,
    ),
    PROVIDER_ERROR: Reason(
        _("BitBadges did not finish the sign-in"),
        _(
            "BitBadges sent you back with an error instead of a sign-in, so nothing was "
            "changed. Try again; if it keeps happening, log in with your password."
        ),
        400,
    ),
    client.REJECTED: Reason(
        _("BitBadges refused this sign-in"),
        _("BitBadges refused this sign-in, so nothing was changed. Start again."),
        502,
    ),
    client.CONFIG: Reason(
        _("Sign in with BitBadges is not working"),
        _(
            "BitBadges refused this site's sign-in settings, so you are not signed in. The "
            "problem is on our side and the site's team has been told. Try again later, or "
            "log in with your password."
        ),
        502,
    ),
    client.UNAVAILABLE: Reason(
        _("BitBadges did not answer"),
        _(
            "BitBadges did not answer in time, so you are not signed in and nothing was "
            "changed. Try again in a few minutes."
        ),
        503,
    ),
    client.ANSWER: Reason(
        _("BitBadges did not confirm the sign-in"),
        _(
            "BitBadges' answer did not name a valid address, so you are not signed in and "
            "nothing was changed. Try again in a few minutes."
        ),
        502,
    ),
    RATE: Reason(
        _("Too many sign-ins"),
        _(
            "Too many sign-ins or sign-ups from your connection in a short time. Nothing was "
            "changed. Wait a minute and try again."
        ),
        429,
    ),
    PROCESS: Reason(
        _("This sign-in link is not one of ours"),
        _(
            "This link does not start a sign-in this site knows. Nothing was changed. Use "
            "the BitBadges button on the log-in page or on your profile."
        ),
        400,
    ),
    REAUTH_OTHER: Reason(
        _("This is not your BitBadges address"),
        _(
            "BitBadges confirmed an address that is not the one you log in with here, so "
            "nothing was confirmed or changed. Confirm again with the address you log in with."
        ),
        403,
    ),
    STAFF: Reason(
        _("Staff log in with a password"),
        _(
            "Staff log in with their password and authenticator app, not with BitBadges, so "
            "nothing was changed. Log in with your password, or set up an authenticator app "
            "first (Profile, Two-factor authentication)."
        ),
        403,
    ),
    UNKNOWN: Reason(
        _("Sign in with BitBadges did not work"),
        _(
            "Something went wrong between this site and BitBadges, so you are not signed in "
            "and nothing was changed. Try again."
        ),
        400,
    ),
}


def error_response(
    request: HttpRequest, reason: str, *, process: str = "login", next_url: str = ""
) -> HttpResponse:
    """The error page for `reason`, offering the same button again (PROCESSES)."""
    found = REASONS.get(reason, REASONS[UNKNOWN])
    response = render(
        request,
        TEMPLATE,
        {
            "siwbb_error": found,
            "siwbb_reason": reason,
            "siwbb_process": process if process in PROCESSES else "login",
            "siwbb_next": next_url,
        },
        status=found.status,
    )
    if found.status == 429:
        response["Retry-After"] = "60"
    return response


def cancelled_response(
    request: HttpRequest, *, process: str = "login", next_url: str = ""
) -> HttpResponse:
    """The member said no at BitBadges: a redirect to the "cancelled" page, which offers
    the same button again (siwbb_process, PROCESSES) and where they were going
    (siwbb_next): kept in the session for that page (views.login_cancelled)."""
    request.session[CANCELLED_SESSION_KEY] = {
        "process": process if process in PROCESSES else "login",
        "next": next_url,
    }
    return HttpResponseRedirect(reverse("socialaccount_login_cancelled"))


def cancelled_page(request: HttpRequest) -> HttpResponse:
    """The "cancelled" page, with what cancelled_response kept (once), else the bare page."""
    kept = request.session.pop(CANCELLED_SESSION_KEY, None) or {}
    return render(
        request,
        CANCELLED_TEMPLATE,
        {"siwbb_process": kept.get("process") or "", "siwbb_next": kept.get("next") or ""},
    )

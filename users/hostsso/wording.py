"""What a member reads when signing on from the host site did not work, and the pages that
say it: a title, a sentence saying what happened and what to do, and the way back in.
Nothing is written before any of these (allauth writes only after every check passed).
"""

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from users.hostsso import PROVIDER_ID, client, config

TEMPLATE = "hostsso/problem.html"
CANCELLED_TEMPLATE = "hostsso/cancelled.html"
CANCELLED_SESSION_KEY = "hostsso_cancelled"
# What the page's button starts again: log in, connect, or Confirm with <host>.
PROCESSES = ("login", "connect", "reauthenticate")


@dataclass(frozen=True)
class Reason:
    title: Promise
    sentence: Promise  # with %(host)s
    status: int


STATE = "state"
PROVIDER_ERROR = "provider_error"
RATE = "rate"
PROCESS = "process"
UNKNOWN = "unknown"
REAUTH_OTHER = "reauth_other"
STAFF = "staff"
EMAIL_TAKEN = "email_taken"
ISSUER = "issuer"

REASONS = {
    STATE: Reason(
        _("This sign-in has expired"),
        _(
            "%(host)s sent you back here, but this sign-in did not start in this browser, "
            "was finished already, or started too long ago. Nothing was changed. Start again "
            "with the %(host)s button."
        ),
        400,
    ),
    PROVIDER_ERROR: Reason(
        _("%(host)s did not finish the sign-in"),
        _(
            "%(host)s sent you back with an error instead of a sign-in, so nothing was "
            "changed. Try again; if it keeps happening, tell the team of %(host)s."
        ),
        400,
    ),
    ISSUER: Reason(
        _("This answer is not from %(host)s"),
        _(
            "The answer that brought you back here does not come from %(host)s, so you are "
            "not signed in and nothing was changed. Start again with the %(host)s button."
        ),
        400,
    ),
    client.CODE: Reason(
        _("%(host)s did not confirm the sign-in"),
        _(
            "%(host)s did not confirm the sign-in: the link was used already or is too old. "
            "Nothing was changed. Try again."
        ),
        400,
    ),
    client.REJECTED: Reason(
        _("%(host)s refused this sign-in"),
        _("%(host)s refused this sign-in, so nothing was changed. Start again."),
        502,
    ),
    client.CONFIG: Reason(
        _("Log in with %(host)s is not working"),
        _(
            "%(host)s and this site do not agree on this site's sign-in settings, so you are "
            "not signed in. The problem is on our side and the site's team has been told. "
            "Try again later."
        ),
        502,
    ),
    client.UNAVAILABLE: Reason(
        _("%(host)s did not answer"),
        _(
            "%(host)s did not answer in time, so you are not signed in and nothing was "
            "changed. Try again in a few minutes."
        ),
        503,
    ),
    client.ANSWER: Reason(
        _("%(host)s did not confirm the sign-in"),
        _(
            "We could not read the answer of %(host)s, so you are not signed in and nothing "
            "was changed. Try again in a few minutes."
        ),
        502,
    ),
    client.TOKEN: Reason(
        _("%(host)s did not confirm the sign-in"),
        _(
            "The answer of %(host)s did not pass our checks (its signature, whom it was for, "
            "or its age), so you are not signed in and nothing was changed. Try again."
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
            "the %(host)s button on the log-in page or on your profile."
        ),
        400,
    ),
    REAUTH_OTHER: Reason(
        _("This is not your %(host)s account"),
        _(
            "%(host)s confirmed another account than the one you log in with here, so "
            "nothing was confirmed or changed. Log out of %(host)s, log in there as yourself "
            "and confirm again."
        ),
        403,
    ),
    STAFF: Reason(
        _("Staff log in with a password"),
        _(
            "Staff log in with their password and authenticator app, not with %(host)s, so "
            "nothing was changed. Log in with your password, or set up an authenticator app "
            "first (Profile, Two-factor authentication)."
        ),
        403,
    ),
    EMAIL_TAKEN: Reason(
        _("You may already have an account here"),
        _(
            "An account here already uses %(email)s, the email address %(host)s gave us, so "
            "no new account was made. If it is yours: log in to it (with its password, or "
            "the way you usually do), then connect %(host)s from your profile. From then "
            "on, Log in with %(host)s takes you to it."
        ),
        409,
    ),
    UNKNOWN: Reason(
        _("Log in with %(host)s did not work"),
        _(
            "Something went wrong between this site and %(host)s, so you are not signed in "
            "and nothing was changed. Try again."
        ),
        400,
    ),
}


def error_response(
    request: HttpRequest,
    reason: str,
    *,
    process: str = "login",
    next_url: str = "",
    email: str = "",
) -> HttpResponse:
    """The problem page for `reason`, offering the same button again (PROCESSES)."""
    found = REASONS.get(reason, REASONS[UNKNOWN])
    words = {"host": config.site_name(), "email": email}
    response = render(
        request,
        TEMPLATE,
        {
            "host_title": found.title % words,
            "host_sentence": found.sentence % words,
            "host_reason": reason,
            "host_process": process if process in PROCESSES else "login",
            "host_next": next_url,
        },
        status=found.status,
    )
    if found.status == 429:
        response["Retry-After"] = "60"
    return response


def cancelled_response(
    request: HttpRequest, *, process: str = "login", next_url: str = ""
) -> HttpResponse:
    """The member said no at the host site: a redirect to the "cancelled" page, which
    offers the same button again, kept in the session for that page (once)."""
    request.session[CANCELLED_SESSION_KEY] = {
        "process": process if process in PROCESSES else "login",
        "next": next_url,
    }
    return HttpResponseRedirect(reverse(f"{PROVIDER_ID}_login_cancelled"))


def cancelled_page(request: HttpRequest) -> HttpResponse:
    kept = request.session.pop(CANCELLED_SESSION_KEY, None) or {}
    return render(
        request,
        CANCELLED_TEMPLATE,
        {"host_process": kept.get("process") or "login", "host_next": kept.get("next") or ""},
    )


# The host's own error codes (RFC 6749 4.1.2.1; OpenID Connect Core 3.1.2.6) that mean it
# could not answer now, rather than that something was wrong with the request.
_BUSY = ("temporarily_unavailable", "server_error")


def failure_response(
    request: HttpRequest, *, error=None, exception=None, state=None
) -> HttpResponse:
    """The page for a sign-in that came back without a member (allauth's
    on_authentication_error): "no" at the host, an error it sent, a state we do not have,
    or a HostFailure of the exchange and checks."""
    state = state or {}
    process = state.get("process") or "login"
    next_url = state.get("next") or ""
    host_error = request.GET.get("error")
    if error == "cancelled" or host_error == "access_denied":
        return cancelled_response(request, process=process, next_url=next_url)
    if isinstance(exception, client.HostFailure):
        client.log_failure(exception)
        reason = exception.kind
    elif not state:
        reason = STATE
    elif exception is None:
        reason = client.UNAVAILABLE if host_error in _BUSY else PROVIDER_ERROR
    else:
        client.log.warning("Host sign-on failed: %s", type(exception).__name__)
        reason = UNKNOWN
    return error_response(request, reason, process=process, next_url=next_url)

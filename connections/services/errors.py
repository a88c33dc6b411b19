"""Errors a member can act on: every failure of a connections service is a ConnectError,
and `str(exc)` is a sentence for the member."""

import logging
import math

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from connections import pipedream
from core import ratelimit

logger = logging.getLogger(__name__)


class ConnectError(Exception):
    """Connecting or changing an account failed; `str(exc)` is a sentence for the member."""


class AppNotAvailable(ConnectError):
    def __init__(self, message: str = "") -> None:
        super().__init__(message or _("This app is not available to connect on this site."))


class TooManyAttempts(ConnectError):
    def __init__(self, *, retry_after: int, doing: str = "started too many connections") -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(_too_many(doing, self.retry_after))


def _too_many(doing: str, seconds: int) -> str:
    """TooManyAttempts' sentence: a whole one for each thing done too often."""
    if doing == "started too many connections":
        text = ngettext(
            "You have started too many connections in a short time. "
            "Try again in %(seconds)d second.",
            "You have started too many connections in a short time. "
            "Try again in %(seconds)d seconds.",
            seconds,
        )
    elif doing == "tried to disconnect accounts too often":
        text = ngettext(
            "You have tried to disconnect accounts too often in a short time. "
            "Try again in %(seconds)d second.",
            "You have tried to disconnect accounts too often in a short time. "
            "Try again in %(seconds)d seconds.",
            seconds,
        )
    elif doing == "come back from Pipedream too often":
        text = ngettext(
            "You have come back from Pipedream too often in a short time. "
            "Try again in %(seconds)d second.",
            "You have come back from Pipedream too often in a short time. "
            "Try again in %(seconds)d seconds.",
            seconds,
        )
    elif doing == "tried to delete your account too often":
        text = ngettext(
            "You have tried to delete your account too often in a short time. "
            "Try again in %(seconds)d second.",
            "You have tried to delete your account too often in a short time. "
            "Try again in %(seconds)d seconds.",
            seconds,
        )
    else:
        return _("You have %(doing)s in a short time. Try again in %(seconds)d seconds.") % {
            "doing": doing,
            "seconds": seconds,
        }
    return text % {"seconds": seconds}


def attempt_count(scope: str, subject: object, *, setting: str, doing: str) -> None:
    """Count one attempt at `scope` by `subject` against the "count/seconds" setting named
    `setting`; past it, TooManyAttempts saying what they have `doing` too often."""
    limit, window = getattr(settings, setting)
    wait = ratelimit.hit(scope, subject, limit=int(limit), window=int(window))
    if wait is not None:
        raise TooManyAttempts(retry_after=wait, doing=doing)


class ForeignAccount(ConnectError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or _("That account was connected by someone else, so it cannot be added to yours.")
        )


class AccountNotFound(ConnectError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or _("Pipedream has no such account. It may have been removed; try connecting again.")
        )


class UpstreamError(ConnectError):
    """Pipedream failed; `cause` is the PipedreamError (for logs and admins, not members)."""

    def __init__(self, cause: pipedream.PipedreamError) -> None:
        self.cause = cause
        super().__init__(self._sentence(cause))

    @staticmethod
    def _sentence(cause: pipedream.PipedreamError) -> str:
        if isinstance(cause, pipedream.RateLimited):
            if not cause.retry_after:
                return _("Pipedream is busy right now. Nothing was changed; try again in a minute.")
            seconds = math.ceil(cause.retry_after)
            return ngettext(
                "Pipedream is busy right now. Nothing was changed; try again in %(seconds)d second.",
                "Pipedream is busy right now. Nothing was changed; try again in %(seconds)d seconds.",
                seconds,
            ) % {"seconds": seconds}
        if isinstance(cause, pipedream.Unauthorized | pipedream.NotConfigured):
            return _(
                "This site could not sign in to Pipedream. Nothing was changed; "
                "please tell the site's administrators."
            )
        if cause.transient:  # down, or an answer we cannot read
            return _(
                "Pipedream is not answering right now. Nothing was changed; try again in a minute."
            )
        return _(
            "Pipedream refused the request. Nothing was changed; try again, and tell the "
            "site's administrators if it keeps happening."
        )


class EmailNotVerified(ConnectError):
    """The member has neither a confirmed email address nor an address proven by Sign in
    with BitBadges: no Connect token until they have one. `bitbadges`: Sign in with
    BitBadges is on, so connecting BitBadges (which proves the address) is the other way.
    "We sent a link" only to a member who has an email address to send it to."""

    def __init__(self, *, pending_email: str = "", bitbadges: bool = False) -> None:
        self.pending_email = pending_email
        self.bitbadges = bitbadges
        if pending_email and bitbadges:
            message = _(
                "Confirm your email address first: we sent a link to %(email)s. Open it, "
                "then connect your account. Or connect BitBadges on your profile instead: "
                "an address BitBadges proves is enough."
            ) % {"email": pending_email}
        elif pending_email:
            message = _(
                "Confirm your email address first: we sent a link to "
                "%(email)s. Open it, then connect your account."
            ) % {"email": pending_email}
        elif bitbadges:
            message = _(
                "Connect BitBadges on your profile to prove your address, or add an email "
                "address and confirm it (on your email page), then connect your account."
            )
        else:
            message = _(
                "Add an email address and confirm it first (on your email page), "
                "then connect your account."
            )
        super().__init__(message)


class LinkExpired(ConnectError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or _("This link has expired. Ask for a new one, or connect from your account page.")
        )


class LinkUsed(LinkExpired):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or _(
                "This link has already connected an account, so it no longer works. Connect "
                "from your accounts page, or ask for a new link."
            )
        )


class LinkInvalid(ConnectError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or _("This link is not valid. Check that you copied all of it, or ask for a new one.")
        )


# Pipedream's CONNECTION_ERROR past development mode's 10 external users reads "You've hit
# your limit on the number of external users you can connect." (its webhooks docs).
DEVELOPMENT_LIMIT_REASON = "limit on the number of external users"
# English here (tests and logs read it); failure_sentence translates it.
DEVELOPMENT_LIMIT_SENTENCE = gettext_noop(
    "This site cannot connect accounts for more members yet: its Pipedream project is "
    "still in development mode, which allows 10 members. Nothing was connected. Please "
    "tell the site's administrators; once they switch it to production, connect again."
)


def failure_sentence(reason: str) -> str | None:
    """A sentence the member can act on for a connection Pipedream refused with `reason`,
    for the reasons that are not the member's to fix; None for any other reason."""
    if DEVELOPMENT_LIMIT_REASON in reason.lower():
        return _(DEVELOPMENT_LIMIT_SENTENCE)
    return None


def upstream_failed(exc: pipedream.PipedreamError, doing: str) -> UpstreamError:
    """Log that Pipedream failed while `doing` something; the UpstreamError to raise."""
    logger.warning("Pipedream failed while trying to %s: %s", doing, exc)
    return UpstreamError(exc)

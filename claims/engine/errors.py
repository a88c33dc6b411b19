"""What stops a completion where it is: errors for people, and the engine's own signals.

`ClaimsError` and its kinds carry a sentence a member or an admin can act on. The rest
are raised inside the engine and caught by the step that runs it (claims/engine/delivery.py):
`Transient` retries later, `Permanent` stops, `Paused` waits on BitBadges' credits,
`LeaseLost` leaves the completion to the worker that took it over. `bitbadges_failure()`
says which of them a BitBadges error is.

The member's sentences of `Transient` and `Permanent` become a completion's stored
reason: English, marked with gettext_noop, translated when a page shows them
(claims.life.sentence_words). A `ClaimsError` is shown at once, in the member's language.
"""

from django.utils.translation import gettext, gettext_noop, ngettext

from claims import bitbadges, wording
from claims.models import Completion

State = Completion.State


class ClaimsError(Exception):
    """Something a member or an admin can act on; str() is the sentence to show."""


class TooManyChecks(ClaimsError):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            ngettext(
                "You have asked for many checks in a short time. Try again in %(seconds)s second.",
                "You have asked for many checks in a short time. Try again in %(seconds)s seconds.",
                retry_after,
            )
            % {"seconds": retry_after}
        )


class NotAvailable(ClaimsError):
    def __init__(self) -> None:
        super().__init__(gettext("This claim is not available."))


class Transient(Exception):
    """An upstream failure worth retrying; `reason` is for the member, `detail` for admins."""

    def __init__(self, reason: str, detail: str = "", *, outcome_unknown: bool = False) -> None:
        self.reason = reason
        self.detail = detail or reason
        self.outcome_unknown = outcome_unknown
        super().__init__(self.detail)


class Paused(Exception):
    """BitBadges answered 402 (no credits): park the completion on the delivery pause."""

    def __init__(self, exc: bitbadges.PaymentRequired) -> None:
        self.exc = exc
        super().__init__(str(exc))


class Permanent(Exception):
    """Stop here: `state` is ineligible or failed; `reason` is for the member."""

    def __init__(self, state: str, reason: str, detail: str = "") -> None:
        self.state = state
        self.reason = reason
        self.detail = detail or reason
        super().__init__(self.detail)


class LeaseLost(Exception):
    """Another worker took this completion over; this one must send nothing more."""


class CannotAsk(Exception):
    """Nothing upstream can say whether this delivery landed (a workflow with no claim ID)."""


SETTINGS_NEED_ATTENTION = wording.SETTINGS_NEED_ATTENTION


def bitbadges_failure(exc: bitbadges.BitBadgesError) -> Exception:
    """Map a BitBadges error onto retry or stop, with a sentence for the member."""
    if isinstance(exc, bitbadges.InvalidAddress):
        return Permanent(
            State.INELIGIBLE,
            gettext_noop("BitBadges does not accept your address. Check it on this page."),
            str(exc),
        )
    if isinstance(exc, bitbadges.AlreadyClaimed):
        return Permanent(
            State.FAILED,
            gettext_noop("Your address has already received this claim on BitBadges."),
            str(exc),
        )
    if isinstance(exc, bitbadges.ClaimExhausted):
        return Permanent(
            State.FAILED, gettext_noop("All of this claim's badges have been given out."), str(exc)
        )
    if isinstance(exc, bitbadges.NotWhitelisted):
        return Transient(
            gettext_noop("BitBadges has not seen your address on the list yet."), str(exc)
        )
    if isinstance(exc, bitbadges.OutsideWindow):
        # BitBadges' own message stays in the detail, for staff.
        return Permanent(
            State.FAILED,
            gettext_noop(
                "BitBadges is not accepting this claim at the moment: it is outside the dates "
                "its organiser set."
            ),
            str(exc),
        )
    if isinstance(exc, bitbadges.ClaimHalted):
        return Permanent(
            State.FAILED,
            gettext_noop("The organiser has paused this claim on BitBadges."),
            str(exc),
        )
    if isinstance(exc, bitbadges.SignInRequired):
        return Permanent(
            State.FAILED,
            wording.SIGN_IN_REQUIRED,
            f"{exc} (turn off the claim's sign-in requirement on BitBadges, or deliver it by "
            "dynamic store)",
        )
    if isinstance(exc, bitbadges.ClaimRejected):
        return Permanent(
            State.FAILED,
            wording.SETTINGS_REFUSED,
            str(exc),
        )
    if isinstance(exc, bitbadges.AttemptTimeout):
        return Transient(
            gettext_noop("BitBadges has not finished processing yet; we will check again."),
            str(exc),
            outcome_unknown=exc.outcome_unknown,
        )
    if isinstance(exc, bitbadges.PaymentRequired):
        return Paused(exc)
    if isinstance(exc, bitbadges.StoreRefused):
        return Permanent(
            State.FAILED,
            SETTINGS_NEED_ATTENTION,
            f"{exc} (the claim's dynamic store ID or store secret is wrong: correct them in "
            "the claim's settings, then Retry)",
        )
    if isinstance(exc, bitbadges.CannotVerify):
        return Transient(
            gettext_noop("We are checking with BitBadges whether this was delivered."),
            str(exc),
            outcome_unknown=exc.outcome_unknown,
        )
    if isinstance(exc, bitbadges.Unauthorized | bitbadges.NotConfigured):
        return Transient(
            gettext_noop("BitBadges is refusing our requests at the moment; we will try again."),
            str(exc),
        )
    # Throttled, down, an answer we cannot read: whether the call may have landed is
    # the error's to say.
    return Transient(
        gettext_noop("BitBadges is not answering at the moment; we will try again."),
        str(exc),
        outcome_unknown=exc.outcome_unknown,
    )

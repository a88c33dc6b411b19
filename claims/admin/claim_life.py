"""A claim's life in the admin: what BitBadges last said of its uses, window and halt, when
it was read (and when a reading failed), and "Read again" (claims/life.py reads it).

The change page shows it as a read-only field with the button; the list shows a short
column. "Read again" is a POST (the change form's own CSRF token, through the button's
`formaction`), for staff who may change the claim, a few times a minute at most.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from claims import life
from claims.bitbadges import badge
from claims.models import Claim
from core import ratelimit


def _when(value) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}" if value else ""


def _uses(claim: Claim) -> str:
    if claim.life_max_uses is None:
        taken = f"; {claim.life_used} taken" if claim.life_used is not None else ""
        return (
            "no limit read (no numUses plugin answered, or its maxUses is larger than "
            f"{life.BIGGEST:,}: a limit no claim reaches){taken}"
        )
    if claim.life_max_uses == 0:
        return "max uses 0 (BitBadges' sources differ on what 0 means: not enforced here)"
    if claim.life_used is None:
        return f"{claim.life_max_uses} uses; how many are taken is hidden by the claim"
    left = life.remaining(claim)
    return f"{left} of {claim.life_max_uses} left ({claim.life_used} taken)"


def _window(claim: Claim) -> str:
    windows = claim.life_windows or []
    if not windows:
        return "none (open at any time)"
    if [list(pair) for pair in windows] == [list(pair) for pair in life.NEVER]:
        return "never open (its time windows do not overlap)"
    start, end = claim.life_window_start, claim.life_window_end
    text = f"{_when(start) or 'any time'} to {_when(end) or 'no end'}"
    if len(windows) > 1:
        text += f" ({len(windows)} separate windows)"
    return text


def life_lines(claim: Claim) -> list[tuple[str, str]]:
    """(label, text) rows of the claim's life for the admin."""
    if not claim.bitbadges_claim_id:
        return [("BitBadges", "No BitBadges claim ID: nothing to read.")]
    if claim.life_read_at is None and claim.life_read_failed_at is None:
        return [("BitBadges", "Not read yet.")]
    stop = life.stop_for(claim)
    rows = []
    if claim.life_read_at is not None:
        rows += [
            ("Uses", _uses(claim)),
            ("Window", _window(claim)),
            ("Halted", "yes: every attempt is refused" if claim.life_halted else "no"),
            ("Read at", _when(claim.life_read_at)),
        ]
    else:
        rows.append(("Read at", "never read successfully"))
    if claim.life_read_failed_at is not None:
        rows.append(
            (
                "Last reading failed",
                f"{_when(claim.life_read_failed_at)}: {claim.life_read_error}"
                + (" The reading above stands." if claim.life_read_at else ""),
            )
        )
    rows.append(("For members now", stop.sentence if stop else "open: deliveries go ahead"))
    return rows + badge.admin_rows(claim)


def life_field(claim: Claim | None):
    """The change page's read-only field: the reading and the Read again button."""
    if claim is None or claim.pk is None:
        return "Read once the claim is saved."
    rows = format_html_join(
        "", "<li><strong>{}:</strong> {}</li>", ((label, text) for label, text in life_lines(claim))
    )
    if not claim.bitbadges_claim_id:
        return format_html('<ul class="claim-life">{}</ul>', rows)
    url = reverse("admin:claims_claim_read_life", args=[claim.pk])
    return format_html(
        '<ul class="claim-life">{}</ul><button type="submit" class="button" formaction="{}" '
        'formmethod="post" formnovalidate name="_read_life">Read again</button>',
        rows,
        url,
    )


def life_short(claim: Claim) -> str:
    """The list's column: left / halted / window, or why there is nothing."""
    if not claim.bitbadges_claim_id:
        return "—"
    if claim.life_read_at is None:
        return "read failed" if claim.life_read_failed_at else "not read"
    stop = life.stop_for(claim)
    left = life.remaining(claim)
    text = f"{left} left" if left is not None else "uses hidden"
    if stop is not None:
        text += f", {_STOP_WORDS[stop.kind]}"
    return f"{text} · read {timezone.localtime(claim.life_read_at):%m-%d %H:%M}"


_STOP_WORDS = {
    "used_up": "used up",
    "halted": "halted",
    "not_open": "not open yet",
    "closed": "closed",
}


def read_limit() -> tuple[int, int]:
    limit, window = getattr(settings, "CLAIM_LIFE_READ_RATE_LIMIT", (6, 60))
    return int(limit), int(window)


@require_POST
def read_again(request, object_id, *, model_admin):
    """POST: read the claim's life from BitBadges now; back to the claim's page."""
    object_id = unquote(object_id)
    if not (object_id.isascii() and object_id.isdigit()):  # "²" is a digit to isdigit()
        raise Http404("No such claim.")
    claim = get_object_or_404(Claim, pk=object_id)
    if not model_admin.has_change_permission(request, claim):
        raise PermissionDenied
    back = HttpResponseRedirect(reverse("admin:claims_claim_change", args=[claim.pk]))
    limit, window = read_limit()
    wait = ratelimit.hit("claims-life-read", request.user.pk, limit=limit, window=window)
    if wait is not None:
        model_admin.message_user(
            request,
            f"BitBadges was asked many times in a short time. Try again in {wait} seconds.",
            messages.ERROR,
        )
        return back
    if not claim.bitbadges_claim_id:
        model_admin.message_user(request, "This claim has no BitBadges claim ID.", messages.ERROR)
        return back
    if life.refresh(claim):
        model_admin.message_user(request, "Read from BitBadges just now.", messages.SUCCESS)
    else:
        stands = (
            f" The reading of {_when(claim.life_read_at)} stands." if claim.life_read_at else ""
        )
        model_admin.message_user(
            request,
            f"BitBadges could not be read: {claim.life_read_error}.{stands}",
            messages.ERROR,
        )
    return back

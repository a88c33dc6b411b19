"""A claim's life: what BitBadges last said of its uses, windows and halt (kept on the
Claim, claims/bitbadges/life.py reads it), and the site's own window, and what they mean
for members now.

`stop_for(claim)` says whether the claim takes no new deliveries now, and the sentence a
member reads. The engine asks it before it checks anyone (claims/engine/delivery.py): a
stopped claim's completions wait, with that sentence, until it reopens or for a while
that grows as long as the stop lasts (`wait_until()`); past the site's own end they are
not eligible. `refresh(claim)` reads BitBadges again and keeps the reading (a failure
keeps the last reading and says when and why it failed); when the claim is open after
it, the completions waiting on it are due at once. `note_refusal()` keeps what a
delivery refused for a halt, a used-up claim or its window says, and reads again.

A stop's `sentence` is English: completions keep it as their reason, and it is how a
completion waiting on a stop is found again. Pages show `Stop.words` (`sentence_words`),
the same sentence in the active language.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from claims import bitbadges, queue, wording
from claims.bitbadges import badge
from claims.bitbadges.life import NEVER, ClaimLife, ms_datetime
from claims.models import Claim, Completion, CompletionEvent
from core import ratelimit

logger = logging.getLogger(__name__)

USED_UP = gettext_noop("All badges of this claim have been given out.")
HALTED = gettext_noop("This claim is paused by its organiser.")
OPENS = "This claim opens on {at}."
CLOSED_ON = "This claim closed on {at}."
CLOSED = gettext_noop("This claim is closed.")
# OPENS and CLOSED_ON as members read them, by their English beginning; %(at)s is the
# date and time.
_DATED = {
    "This claim opens on ": gettext_noop("This claim opens on %(at)s."),
    "This claim closed on ": gettext_noop("This claim closed on %(at)s."),
}
# The beginnings of every sentence above: how a completion waiting on a stop is known.
_SENTENCE_STARTS = (USED_UP, HALTED, "This claim opens on ", "This claim closed on ", CLOSED)


@dataclass(frozen=True)
class Stop:
    """Why a claim takes no new deliveries now; `until`: when it opens again, if known."""

    kind: str  # "used_up", "halted", "not_open", "closed"
    sentence: str
    until: datetime.datetime | None = None
    local: bool = False  # the site's own window (starts_at, ends_at), not BitBadges'

    @property
    def words(self) -> str:
        """The sentence in the active language, for the pages."""
        return sentence_words(self.sentence)


def sentence_words(sentence: str) -> str:
    """A stop's sentence (or a completion's reason that is one) in the active language."""
    for start, translated in _DATED.items():
        if sentence.startswith(start) and sentence.endswith("."):
            return gettext(translated) % {"at": sentence[len(start) : -1]}
    return wording.reason_words(sentence)


def stopped_wait() -> datetime.timedelta:
    """How long a completion of a stopped claim waits when no reopening time is known (a
    reading that finds the claim open makes it due at once)."""
    return getattr(settings, "CLAIM_LIFE_STOPPED_WAIT", datetime.timedelta(hours=6))


def stopped_wait_max() -> datetime.timedelta:
    """The longest a completion waits on a stop before it is looked at again."""
    return getattr(settings, "CLAIM_LIFE_STOPPED_WAIT_MAX", datetime.timedelta(days=7))


def wait_until(
    completion: Completion, stop: Stop, now: datetime.datetime | None = None
) -> datetime.datetime:
    """When a completion of a stopped claim is looked at again: when the claim reopens, if
    that is known; else after stopped_wait(), doubled each time it comes back to the same
    stop, up to stopped_wait_max(). A reading that finds the claim open wakes it at once
    (`wake_waiting`), so the wait only bounds what a missed reading costs; a claim stopped
    for good no longer runs its completions, and writes their events, every few hours."""
    now = now or timezone.now()
    if stop.until is not None:
        return stop.until
    base = stopped_wait()
    last = (
        CompletionEvent.objects.filter(
            completion_id=completion.pk, to_state=Completion.State.WAITING
        )
        .order_by("-pk")
        .values_list("at", "details")
        .first()
    )
    wait = base
    if last is not None and isinstance(last[1], dict) and last[1].get("reason") == stop.sentence:
        wait = max(base, min(2 * (now - last[0]), stopped_wait_max()))
    return now + wait


def max_age() -> datetime.timedelta:
    """Readings older than this are read again by `bitbadges_check --life`."""
    return getattr(settings, "CLAIM_LIFE_MAX_AGE", datetime.timedelta(minutes=15))


def _at(value: datetime.datetime) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"


def _window_stop(windows: list, now: datetime.datetime) -> Stop | None:
    """Whether `now` falls outside the windows read from BitBadges ([[start ms, end ms]])."""
    pairs = [(int(start), int(end)) for start, end in windows]
    if not pairs:
        return None
    if tuple(pairs) == NEVER:
        return Stop("closed", CLOSED)
    ms = int(now.timestamp() * 1000)
    if any(start <= ms <= end for start, end in pairs):
        return None
    later = [start for start, _ in pairs if start > ms]
    if later:
        opens = ms_datetime(min(later), start=False)
        if opens is not None:
            return Stop("not_open", OPENS.format(at=_at(opens)), until=opens)
        return Stop("closed", CLOSED)
    ended = ms_datetime(max(end for _, end in pairs), start=False)
    if ended is None:
        return Stop("closed", CLOSED)
    return Stop("closed", CLOSED_ON.format(at=_at(ended)), until=None)


def stop_for(claim: Claim, now: datetime.datetime | None = None) -> Stop | None:
    """Why `claim` takes no new deliveries at `now` (None: it does). From the site's own
    window, then from BitBadges' last reading: its window, a used-up numUses, a halt."""
    now = now or timezone.now()
    if claim.ends_at and now >= claim.ends_at:
        return Stop("closed", CLOSED_ON.format(at=_at(claim.ends_at)), local=True)
    window = _window_stop(claim.life_windows or [], now)
    if window is not None and window.kind == "closed":
        return window
    if claim.life_max_uses and (claim.life_used or 0) >= claim.life_max_uses:
        return Stop("used_up", USED_UP)
    if claim.life_halted:
        return Stop("halted", HALTED)
    if claim.starts_at and now < claim.starts_at:
        later = window.until if window and window.until else None
        opens = max(claim.starts_at, later) if later else claim.starts_at
        return Stop(
            "not_open", OPENS.format(at=_at(opens)), until=opens, local=opens == claim.starts_at
        )
    return window


def is_stop_reason(reason: str) -> bool:
    return reason.startswith(_SENTENCE_STARTS)


def remaining(claim: Claim) -> int | None:
    if not claim.life_max_uses or claim.life_used is None:
        return None
    return max(claim.life_max_uses - claim.life_used, 0)


def reads_bitbadges(claim: Claim) -> bool:
    return bool(claim.bitbadges_claim_id)


# The largest number the uses columns hold (a signed bigint); BitBadges' are uint64.
BIGGEST = 2**63 - 1


def keep(claim: Claim, life: ClaimLife) -> None:
    """Keep a reading on the claim (only its life fields are written).

    A maxUses beyond BIGGEST (a uint64 goes up to 2**64 - 1) is a limit nobody can reach:
    kept as none. A numUses beyond it is beyond any limit kept, so BIGGEST keeps the
    claim used up."""
    claim.life_max_uses = life.max_uses if (life.max_uses or 0) <= BIGGEST else None
    claim.life_used = min(life.used, BIGGEST) if life.used is not None else None
    claim.life_windows = [[start, end] for start, end in life.windows]
    claim.life_window_start = life.window_start
    claim.life_window_end = life.window_end
    claim.life_halted = life.halted
    claim.life_read_at = life.fetched_at
    claim.life_read_failed_at = None
    claim.life_read_error = ""
    claim.save(update_fields=[*_LIFE_FIELDS])


_LIFE_FIELDS = (
    "life_max_uses",
    "life_used",
    "life_windows",
    "life_window_start",
    "life_window_end",
    "life_halted",
    "life_read_at",
    "life_read_failed_at",
    "life_read_error",
)


def refresh(claim: Claim, *, client: bitbadges.BitBadgesClient | None = None) -> bool:
    """Read the claim's life from BitBadges and keep it; True when it was read.

    A claim without a BitBadges claim ID has nothing to read (False, nothing changes).
    A failure keeps the last reading and records when and why it failed, never raised:
    an answer that cannot be read or kept too, so that it neither stops a scheduled pass
    nor is read first again at its next minute. When the claim is open after a reading,
    its completions waiting on a stop are due at once (complete_claims, the cron, takes
    them).
    """
    if not reads_bitbadges(claim):
        return False
    client = client or bitbadges.get_client()
    try:
        life = client.claim_life(claim.bitbadges_claim_id)
    except bitbadges.BitBadgesError as exc:  # logged by the client
        return _read_failed(claim, str(exc))
    except ValueError as exc:
        logger.exception("Claim %s: BitBadges' answer could not be read", claim.pk)
        return _read_failed(claim, f"BitBadges' answer could not be read ({exc})")
    try:
        with transaction.atomic():  # a savepoint: the failure is written after it
            keep(claim, life)
    except (DatabaseError, ValueError, OverflowError) as exc:
        logger.exception("Claim %s: its life as read could not be kept", claim.pk)
        claim.refresh_from_db(fields=list(_LIFE_FIELDS))  # what is kept, not what failed
        return _read_failed(claim, f"The reading could not be kept ({type(exc).__name__}: {exc})")
    badge.keep(claim, life.badge)  # its name and image (never raises)
    if stop_for(claim) is None:
        wake_waiting(claim)
    return True


def _read_failed(claim: Claim, error: str) -> bool:
    claim.life_read_failed_at = timezone.now()
    claim.life_read_error = error[:1000]
    claim.save(update_fields=["life_read_failed_at", "life_read_error"])
    return False


WAKE_QUEUED = 1000  # woken completions queued at once; complete_claims takes the rest


def wake_waiting(claim: Claim) -> int:
    """Completions waiting on a stop of `claim` become due now and are queued (no state
    changes: the worker that takes them writes the ledger). An unknown outcome keeps its
    own time."""
    now = timezone.now()
    waiting = Completion.objects.filter(
        claim=claim,
        state=Completion.State.WAITING,
        next_attempt_at__gt=now,
        outcome_unknown=False,
        paused_at__isnull=True,
    ).filter(_stop_reasons())
    ids = list(waiting.values_list("pk", flat=True)[:WAKE_QUEUED])
    woken = waiting.update(next_attempt_at=now)
    for pk in ids:
        queue.process(pk)
    return woken


def _stop_reasons() -> Q:
    query = Q()
    for start in _SENTENCE_STARTS:
        query |= Q(reason__startswith=start)
    return query


def note_refusal(claim: Claim, exc: Exception) -> None:
    """A delivery was refused because the claim is used up, halted or outside its window:
    keep what the refusal says at once, so that no other completion is sent meanwhile,
    then read the claim again (at most once a minute per claim)."""
    if not isinstance(
        exc, (bitbadges.ClaimExhausted, bitbadges.ClaimHalted, bitbadges.OutsideWindow)
    ):
        return
    if isinstance(exc, bitbadges.ClaimExhausted):
        taken = claim.life_used if claim.life_used is not None else claim.life_max_uses
        if taken is not None:  # else nothing was read to compare with: the reading tells
            Claim.objects.filter(pk=claim.pk).update(
                life_max_uses=claim.life_max_uses or taken,
                life_used=claim.life_max_uses or taken,
            )
    elif isinstance(exc, bitbadges.ClaimHalted):
        Claim.objects.filter(pk=claim.pk).update(life_halted=True)
    if ratelimit.hit("claims-life-refused", claim.pk, limit=1, window=60) is None:
        refresh(Claim.objects.get(pk=claim.pk))


def due_for_reading(now: datetime.datetime | None = None):
    """Enabled claims with a BitBadges claim ID whose reading is older than max_age()
    (bitbadges_check --life reads them; the scheduler runs it every minute)."""
    now = now or timezone.now()
    since = now - max_age()
    stale = Q(life_read_at__isnull=True) | Q(life_read_at__lt=since)
    # A reading that failed lately is tried again after max_age(), not every minute.
    resting = Q(life_read_failed_at__isnull=True) | Q(life_read_failed_at__lt=since)
    claims = Claim.objects.enabled().exclude(bitbadges_claim_id="")
    return claims.filter(stale & resting).order_by("pk")

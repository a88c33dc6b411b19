"""Deliveries that wait on an upstream only its owner can fix: BitBadges out of credits.

When the BitBadges API key's account runs out of credits, BitBadges answers every
request with 402 until it is topped up (docs/fidelity.md, "Credits"). Failing deliveries
then would spend their attempts on something no retry can fix, so instead:

- the first 402 starts a pause (one `DeliveryPause` row per upstream, made under a row
  lock so concurrent workers agree) and schedules a probe;
- a completion that meets the pause waits (`paused_at` set, no attempt spent), whether
  it met the 402 itself or found the pause before calling;
- the probe makes one cheap call at growing intervals; when it passes, the pause row is
  deleted and every waiting completion is queued again, in one transaction.

A completion that pauses after the pause ended starts a new one, whose first probe
resumes it: nothing waits on a pause that no longer exists.
"""

import datetime
import functools
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from claims import bitbadges, queue
from claims.audit import Actor
from claims.models import Completion, CompletionEvent, DeliveryPause

logger = logging.getLogger(__name__)

BITBADGES = DeliveryPause.Upstream.BITBADGES
RESUME_ACTOR = Actor.system("credits back")


def probe_interval(probes: int) -> datetime.timedelta:
    """The wait before the next probe: doubling from BITBADGES_CREDITS_PROBE, capped."""
    base = float(getattr(settings, "BITBADGES_CREDITS_PROBE", 60.0))
    ceiling = float(getattr(settings, "BITBADGES_CREDITS_PROBE_MAX", 900.0))
    return datetime.timedelta(seconds=max(1.0, min(ceiling, base * 2 ** max(0, probes))))


def active(upstream: str = BITBADGES) -> DeliveryPause | None:
    return DeliveryPause.objects.filter(upstream=upstream).first()


OUT_OF_CREDITS = "BitBadges answers 402 Payment Required: the API key's account is out of credits."


def _reason(exc: bitbadges.PaymentRequired) -> str:
    # In our words: BitBadges' own sentence carries its top-up link as a relative path,
    # which means nothing here; the absolute link is kept beside it (action_url).
    return OUT_OF_CREDITS


def start(exc: bitbadges.PaymentRequired, *, upstream: str = BITBADGES) -> DeliveryPause:
    """The pause for `upstream`, started now if none is on. Call inside the transaction
    that parks the completion, so that a resume cannot slip in between."""
    pause = DeliveryPause.objects.select_for_update().filter(upstream=upstream).first()
    if pause is not None:
        return pause
    now = timezone.now()
    try:
        with transaction.atomic():
            pause = DeliveryPause.objects.create(
                upstream=upstream,
                reason=_reason(exc),
                action_url=(exc.top_up_url or "")[:500],
                started_at=now,
                next_probe_at=now + probe_interval(0),
            )
    except IntegrityError:  # another worker started it a moment ago
        return DeliveryPause.objects.select_for_update().get(upstream=upstream)
    logger.warning(
        "Deliveries through %s paused: %s",
        pause.get_upstream_display(),
        pause.reason,
        extra={"upstream": upstream, "pause": pause.pk},
    )
    transaction.on_commit(functools.partial(queue.pause_probe, pause.next_probe_at))
    return pause


@dataclass(frozen=True)
class Probed:
    """What a probe found: `state` is "none" (no pause), "not due", "still paused" or
    "resumed", with how many completions it queued again."""

    state: str
    resumed: int = 0

    def __str__(self) -> str:
        return f"resumed {self.resumed}" if self.state == "resumed" else self.state


def probe(*, force: bool = False, upstream: str = BITBADGES) -> Probed:
    """Check whether a pause is over, if one is on and its time has come (or `force`)."""
    pause = active(upstream)
    if pause is None:
        return Probed("none")
    now = timezone.now()
    if not force and pause.next_probe_at > now:
        return Probed("not due")
    try:
        bitbadges.get_client().probe()
    except bitbadges.BitBadgesError as exc:
        probes = pause.probes + 1
        next_at = timezone.now() + probe_interval(probes)
        result = (
            "Still out of credits (402)."
            if isinstance(exc, bitbadges.PaymentRequired)
            else f"BitBadges could not be asked: {exc}"
        )
        DeliveryPause.objects.filter(pk=pause.pk).update(
            probes=probes,
            last_probe_at=now,
            last_probe_result=result[:2000],
            next_probe_at=next_at,
        )
        logger.info("Delivery pause probe: still refused (%s); next at %s", exc, next_at)
        queue.pause_probe(next_at)
        return Probed("still paused")
    return Probed("resumed", resume(upstream=upstream))


def resume(*, upstream: str = BITBADGES) -> int:
    """End the pause and queue every completion that waited on it; how many."""
    now = timezone.now()
    with transaction.atomic():
        pause = DeliveryPause.objects.select_for_update().filter(upstream=upstream).first()
        if pause is None:
            return 0
        waiting = list(
            Completion.objects.select_for_update()
            .paused()
            .filter(state=Completion.State.WAITING)
            .values_list("pk", "outcome_unknown", "last_attempt_at")
        )
        wait = datetime.timedelta(seconds=float(settings.CLAIMS_UNKNOWN_OUTCOME_WAIT))
        runs = []
        for pk, unknown, last_attempt_at in waiting:
            # An unknown outcome is still checked no sooner than its wait allows.
            run_after = max(now, last_attempt_at + wait) if unknown and last_attempt_at else now
            runs.append((pk, run_after))
        queued = {
            "paused_at": None,
            "reason": gettext_noop("Queued for a check."),
            "updated_at": now,
        }
        Completion.objects.filter(pk__in=[pk for pk, at in runs if at == now]).update(
            next_attempt_at=now, **queued
        )
        for pk, run_after in runs:
            if run_after != now:
                Completion.objects.filter(pk=pk).update(next_attempt_at=run_after, **queued)
        CompletionEvent.objects.bulk_create(
            CompletionEvent(
                completion_id=pk,
                at=now,
                from_state=Completion.State.WAITING,
                to_state=Completion.State.WAITING,
                reason=CompletionEvent.Reason.RESUMED,
                **RESUME_ACTOR.fields(),
                details={"resumed": f"{pause.get_upstream_display()} answers again"},
            )
            for pk, _ in runs
        )
        pause.delete()

        for pk, run_after in runs:
            queue.process(pk, run_after if run_after > now else None)
    logger.warning(
        "Deliveries through %s resumed: %d completion(s) queued again",
        upstream,
        len(runs),
        extra={"upstream": upstream, "resumed": len(runs)},
    )
    return len(runs)


def summary(upstream: str = BITBADGES) -> dict | None:
    """What the admin and /healthz show about a pause: None when deliveries flow."""
    pause = active(upstream)
    if pause is None:
        return None
    return {
        "upstream": pause.get_upstream_display(),
        "reason": pause.reason,
        "action_url": pause.action_url,
        "since": pause.started_at,
        "probes": pause.probes,
        "last_probe_at": pause.last_probe_at,
        "last_probe_result": pause.last_probe_result,
        "next_probe_at": pause.next_probe_at,
        "waiting": Completion.objects.paused().count(),
    }

"""How long the engine waits, polls and holds a completion, from settings."""

import datetime
import random

from django.conf import settings


def poll_interval() -> float:
    return float(getattr(settings, "CLAIMS_POLL_INTERVAL", 2.0))


def poll_deadline() -> float:
    return float(getattr(settings, "CLAIMS_POLL_DEADLINE", 30.0))


def lease_duration() -> datetime.timedelta:
    """Long enough for a whole delivery: the calls, the poll, and a margin.

    A BitBadges attempt resolves in seconds; the lease is minutes. So when another
    worker takes over an expired lease, what the first one sent has resolved upstream.
    """
    timeouts = float(getattr(settings, "BITBADGES_TIMEOUT", 10.0)) + float(
        getattr(settings, "PIPEDREAM_TIMEOUT", 10.0)
    )
    return datetime.timedelta(seconds=max(60.0, poll_deadline() + 3 * timeouts + 60.0))


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential backoff with jitter: base * 2^(n-1), capped, times 0.5..1.5."""
    base = float(getattr(settings, "CLAIMS_RETRY_BASE", 30.0))
    ceiling = float(getattr(settings, "CLAIMS_RETRY_MAX", 3600.0))
    # The exponent is bounded: past 2^64 the ceiling has long won, and a larger power
    # of two would not fit in a float.
    seconds = min(ceiling, base * 2 ** min(64, max(0, attempts - 1)))
    return datetime.timedelta(seconds=seconds * random.uniform(0.5, 1.5))


def max_attempts() -> int:
    return max(1, int(getattr(settings, "CLAIMS_MAX_ATTEMPTS", 6)))


def unknown_outcome_wait() -> datetime.timedelta:
    """The least wait before checking an unknown outcome upstream. BitBadges resolves an
    attempt in about 1 to 5 s, but runs one collection's attempts one at a time, so a
    busy collection can hold one in its queue far longer; a request still being served
    takes at most its timeout, and a workflow may still be running."""
    return datetime.timedelta(seconds=float(getattr(settings, "CLAIMS_UNKNOWN_OUTCOME_WAIT", 300)))

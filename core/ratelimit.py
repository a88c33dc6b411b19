"""A fixed-window counter in Django's cache, shared by every process that shares it."""

import math
import time

from django.core.cache import cache


def hit(scope: str, subject: object, *, limit: int, window: int) -> int | None:
    """Count one use of `scope` by `subject`; past `limit` per `window` seconds, the
    seconds until the window ends (at least 1), else None."""
    now = time.time()
    bucket = int(now // window)
    key = f"ratelimit:{scope}:{subject}:{bucket}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        return max(1, math.ceil((bucket + 1) * window - now))
    return None

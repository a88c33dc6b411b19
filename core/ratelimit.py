"""A counter in Django's cache, shared by every process that shares it: `limit` uses per
`window` seconds, the window starting at the first use (not at a multiple of `window`
since the epoch, which would let a caller spend twice the limit around each boundary,
and tests that make limit+1 calls fail whenever a boundary falls among them)."""

import math
import time
from collections.abc import Callable

from allauth.core.internal.httpkit import clean_client_ip
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def hit(
    scope: str,
    subject: object,
    *,
    limit: int,
    window: int,
    on_first_refusal: Callable[[int], object] | None = None,
) -> int | None:
    """Count one use of `scope` by `subject`; past `limit` in the `window` seconds since
    the first of them, the seconds until that window ends (at least 1), else None.

    `on_first_refusal(seconds)` is called for the first use past the limit in a window
    only: a flood is logged once, not once per request."""
    now = time.time()
    key = f"ratelimit:{scope}:{subject}"
    started = f"{key}:since"
    if cache.add(key, 0, timeout=window):  # the first use opens the window
        cache.set(started, now, timeout=window)
    try:
        count = cache.incr(key)  # keeps the counter's expiry (locmem and Redis alike)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        cache.set(started, now, timeout=window)
        count = 1
    if count > limit:
        since = cache.get(started)
        if not isinstance(since, int | float):
            # The window's start is gone, so its window is over: either both keys expired
            # between the add and the incr, or Redis' INCR (Django's incr is EXISTS, then
            # INCR) made the counter again with no expiry, which would refuse this subject
            # for ever. This use opens a new window.
            cache.set(key, 1, timeout=window)
            cache.set(started, now, timeout=window)
            return None if limit >= 1 else window
        wait = max(1, math.ceil(since + window - now))
        if on_first_refusal is not None and count == limit + 1:
            on_first_refusal(wait)
        return wait
    return None


def client_ip(request: HttpRequest) -> str:
    """The client's address as this site's own proxies report it (settings, "The edge").

    TRUSTED_CLIENT_IP_HEADER wins when set; else the TRUSTED_PROXY_COUNT-th address from
    the right of X-Forwarded-For (the one our outermost proxy saw); else REMOTE_ADDR. A
    header that is missing, too short (the request did not come through all our proxies)
    or not an address is not believed: the socket's address is used, never an error.
    """
    header = getattr(settings, "TRUSTED_CLIENT_IP_HEADER", None)
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    claimed = None
    if header:
        claimed = request.headers.get(header)
    elif count > 0:
        entries = request.headers.get("x-forwarded-for", "").split(",")
        if len(entries) >= count:
            claimed = entries[-count]
    ip = clean_client_ip(claimed) if claimed else None
    return ip or clean_client_ip(request.META.get("REMOTE_ADDR") or "") or "unknown"

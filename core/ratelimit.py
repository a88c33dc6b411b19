"""A counter in Django's cache, shared by every process that shares it: `limit` uses per
`window` seconds, the window starting at the first use (not at a multiple of `window`
since the epoch, which would let a caller spend twice the limit around each boundary,
and tests that make limit+1 calls fail whenever a boundary falls among them).

On Redis (production) one use of one or several counters is one round trip: a script
counts, opens the window and reads its start atomically. Any other cache (tests use
locmem) takes the portable path through Django's cache API, with the same answers.
"""

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from allauth.core.internal.httpkit import clean_client_ip
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest

# For each counter (KEYS: its key, then its window's start; ARGV: window seconds, now in
# ms): count one use; a counter without a window start (its first use, or one left
# without it by an expiry) opens a new window at 1. Answers {count, start in ms} each.
_HIT_SCRIPT = """
local out = {}
for i = 1, #KEYS, 2 do
  local window = ARGV[i]
  local count = redis.call('INCR', KEYS[i])
  local since = redis.call('GET', KEYS[i + 1])
  if not since then
    since = ARGV[i + 1]
    count = 1
    redis.call('SET', KEYS[i], 1, 'EX', window)
    redis.call('SET', KEYS[i + 1], since, 'EX', window)
  end
  out[#out + 1] = count
  out[#out + 1] = since
end
return out
"""

# The script, registered once per process; each call runs it on the cache's own client
# (config/settings.py's backend keeps one per connection pool: core/redis_cache.py).
_SCRIPT: list[Any] = []


def _run_script(cache: RedisCache, keys: list[str], args: list[str]) -> Any:
    client = cache._cache.get_client(write=True)
    if not _SCRIPT:
        _SCRIPT.append(client.register_script(_HIT_SCRIPT))
    return _SCRIPT[0](keys=keys, args=args, client=client)


Counter = tuple[str, object, int, int]  # scope, subject, limit, window


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
    return hits([(scope, subject, limit, window)], on_first_refusal=on_first_refusal)[0]


def hits(
    counters: Sequence[Counter], *, on_first_refusal: Callable[[int], object] | None = None
) -> list[int | None]:
    """`hit` for each (scope, subject, limit, window) of `counters`, every one counted
    (one round trip on Redis); the answers in the same order."""
    now = time.time()
    cache = caches[DEFAULT_CACHE_ALIAS]
    keys = [f"ratelimit:{scope}:{subject}" for scope, subject, _, _ in counters]
    if isinstance(cache, RedisCache):
        full, args = [], []
        for key, (_, _, _, window) in zip(keys, counters, strict=True):
            # The start in ms under a key of its own (the portable path pickles a float).
            full += [cache.make_and_validate_key(key), cache.make_and_validate_key(f"{key}:ms")]
            args += [str(int(window)), str(int(now * 1000))]
        answers = _run_script(cache, full, args)
        counted = [(int(answers[i]), int(answers[i + 1]) / 1000) for i in range(0, len(answers), 2)]
    else:
        counted = [
            _count(cache, key, window, now)
            for key, (_, _, _, window) in zip(keys, counters, strict=True)
        ]
    waits: list[int | None] = []
    for (count, since), (_, _, limit, window) in zip(counted, counters, strict=True):
        if count <= limit:
            waits.append(None)
            continue
        wait = max(1, math.ceil(since + window - now))
        if on_first_refusal is not None and count == limit + 1:
            on_first_refusal(wait)
        waits.append(wait)
    return waits


def _count(cache: BaseCache, key: str, window: int, now: float) -> tuple[int, float]:
    """One use of the counter `key` through Django's cache API: (count, window start)."""
    started = f"{key}:since"
    if cache.add(key, 0, timeout=window):  # the first use opens the window
        cache.set(started, now, timeout=window)
    try:
        count = cache.incr(key)  # keeps the counter's expiry (locmem and Redis alike)
    except ValueError:  # expired between add and incr
        count = 0
    since = cache.get(started)
    if count == 0 or not isinstance(since, int | float):
        # The window's start is gone, so its window is over: either both keys expired
        # between the add and the incr, or the counter was made again with no expiry
        # (Django's incr on Redis is EXISTS, then INCR), which would refuse this subject
        # for ever. This use opens a new window.
        cache.set(key, 1, timeout=window)
        cache.set(started, now, timeout=window)
        return 1, now
    return count, since


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

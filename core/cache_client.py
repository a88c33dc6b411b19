"""Reads of Django's cache that skip its per-call cost on Redis, for the hot paths.

Django's RedisCache builds a new redis-py client object for every call, which on this
site's hot paths (a Connect token mint, a webhook's task) costs more CPU than the round
trip itself. Here one client per process and connection pool is kept and reused (a
redis-py client is safe to share between threads). Values are read and written as
Django's cache does (its own key function and serializer), so either side reads what
the other wrote; any other cache backend goes through Django's API unchanged.
"""

import threading
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache

_CLIENTS: dict[int, tuple[Any, Any]] = {}  # id(pool): (pool, its client)
_LOCK = threading.Lock()


def redis_client(cache: RedisCache) -> Any:
    """The process's redis-py client for `cache`'s write pool (made once)."""
    backend: Any = cache._cache  # Django's RedisCacheClient: its pool and client class
    pool = backend._get_connection_pool(write=True)
    kept = _CLIENTS.get(id(pool))
    if kept is None or kept[0] is not pool:  # (an id is reused once its pool is gone)
        with _LOCK:
            kept = _CLIENTS[id(pool)] = (pool, backend._client(connection_pool=pool))
    return kept[1]


def cache_get(key: str, default: Any = None) -> Any:
    """cache.get(key, default) of the default cache, one reused client on Redis."""
    cache = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(cache, RedisCache):
        return cache.get(key, default)
    raw = redis_client(cache).get(cache.make_and_validate_key(key))
    if raw is None:
        return default
    serializer: Any = cache._cache._serializer  # type: ignore[attr-defined]
    return serializer.loads(raw)

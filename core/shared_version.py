"""A version in the cache every process shares, for answers a process keeps for itself.

A few hot paths keep an answer per process (which webhook endpoints are on, which apps
some claim wants, the enabled apps) and trust it only while a version in the cache is
the one they read it under; whatever changes the rows replaces the version
(`replace`), so every process reads the rows again on its next use.

That only holds when every process reads the same cache. The local-memory cache (the
default without CACHE_URL) is each process's own: the task worker would never see a
version the web process replaced, and the dummy cache keeps nothing. On those, and when
the cache cannot be read, `read` answers None: nothing is kept and the rows are read
every time, as if there were no shortcut.
"""

import logging
import uuid

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger(__name__)


def shared() -> bool:
    """Whether the default cache is one every process of the site reads."""
    return not isinstance(caches[DEFAULT_CACHE_ALIAS], LocMemCache | DummyCache)


def read(key: str) -> str | None:
    """The version under `key` (started if there is none yet), or None when no answer may
    be kept on it (see the module's docstring)."""
    if not shared():
        return None
    try:
        version = cache.get(key)
        if version is None:  # never set, or evicted: start one every process shares
            cache.add(key, uuid.uuid4().hex, timeout=None)
            version = cache.get(key)
    except Exception:  # the cache is down: nothing is trusted, the rows decide
        logger.warning("Shared version %s unreadable", key, exc_info=True)
        return None
    return None if version is None else str(version)


def replace(key: str) -> str:
    """A new version under `key` (returned): every answer kept under the old one is
    read again. A cache that cannot be written leaves it; readers of a cache that
    cannot be read keep nothing anyway."""
    version = uuid.uuid4().hex
    try:
        cache.set(key, version, timeout=None)
    except Exception:
        logger.warning("Shared version %s not replaced", key, exc_info=True)
    return version

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
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction

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


MISSING: Any = object()  # Kept.lookup: nothing kept under the current version


class Kept[T]:
    """One answer a process keeps for itself under the shared version `key`.

    `lookup()` gives the current version (None: keep nothing, read the rows) and the
    answer kept under it (MISSING if none); `keep(version, answer)` keeps an answer read
    after that lookup. Whatever changes the rows calls `changed()` in the same
    transaction: the version is replaced at once (this transaction's own later reads
    see it) and again once it commits (every other process does). An answer read under
    the version this process set for a change not committed yet is not kept: a
    rollback would undo the change without a new version.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self._known: tuple[str, T] | None = None
        self._uncommitted: str | None = None

    def lookup(self) -> tuple[str | None, T]:
        version = read(self.key)
        known = self._known
        if version is None or known is None or known[0] != version:
            return version, MISSING
        return version, known[1]

    def keep(self, version: str | None, answer: T) -> None:
        if version is not None and version != self._uncommitted:
            self._known = (version, answer)

    def changed(self) -> None:
        self._uncommitted = replace(self.key)
        transaction.on_commit(self.committed)

    def committed(self) -> None:
        """The change committed (or was made outside a transaction): a new version."""
        replace(self.key)

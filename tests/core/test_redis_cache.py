"""core.redis_cache: Django's Redis cache with one redis-py client per pool.

Needs the local Redis (CI has it): skipped without it, except in CI (CI=true), where a
missing Redis fails the test rather than hide it.
"""

import os
import threading

import pytest

REDIS_URL = os.environ.get("RATELIMIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")  # conftest's


@pytest.fixture
def kept_cache(shared_cache):
    """The default cache on Redis, as config/settings.py sets it (tests/conftest.py)."""
    return shared_cache


def test_every_call_gets_the_same_client(kept_cache):
    backend = kept_cache._cache
    first = backend.get_client(write=True)
    assert backend.get_client(write=True) is first
    assert backend.get_client("some-key") is first  # one server: reads use the same pool
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(backend.get_client())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(client is first for client in seen)


def test_it_reads_and_writes_as_django_s_backend_does(kept_cache):
    kept_cache.set("k", {"a": [1, 2]}, 30)
    assert kept_cache.get("k") == {"a": [1, 2]}
    assert kept_cache.add("k", "other", 30) is False
    assert kept_cache.add("n", 1, 30) is True
    assert kept_cache.incr("n") == 2
    kept_cache.set_many({"x": 1, "y": 2}, 30)
    assert kept_cache.get_many(["x", "y", "z"]) == {"x": 1, "y": 2}
    kept_cache.delete_many(["x", "y"])
    assert kept_cache.get_many(["x", "y"]) == {}
    # Django's own backend, on the same Redis and prefix, reads what this one wrote.
    from django.core.cache.backends.redis import RedisCache  # only this test needs it

    django_backend = RedisCache(REDIS_URL, {"KEY_PREFIX": kept_cache.key_prefix})
    assert django_backend.get("k") == {"a": [1, 2]}

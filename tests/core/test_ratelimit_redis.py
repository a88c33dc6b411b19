"""core.ratelimit on Redis (production's cache): one script counts every counter of a use.

Needs the local Redis (CI has it): skipped without it, except in CI (CI=true), where a
missing Redis fails the test rather than hide it.
"""

import uuid

import pytest
from django.core.cache import cache

from core import ratelimit


@pytest.fixture
def redis_cache(shared_cache):
    """The default cache on Redis, as config/settings.py sets it (tests/conftest.py)."""
    return shared_cache


def test_the_limit_holds_and_the_wait_is_what_is_left(redis_cache):
    subject = uuid.uuid4().hex
    assert [ratelimit.hit("r-window", subject, limit=2, window=30) for _ in range(2)] == [
        None,
        None,
    ]
    assert 1 <= ratelimit.hit("r-window", subject, limit=2, window=30) <= 30
    # The counter is Django's own (an int), with the window as its expiry.
    assert cache.get(f"ratelimit:r-window:{subject}") == 3
    raw = redis_cache._cache.get_client(write=True)
    assert 0 < raw.ttl(redis_cache.make_key(f"ratelimit:r-window:{subject}")) <= 30


def test_a_counter_left_without_its_window_opens_a_new_one(redis_cache):
    # A counter with no expiry and no window start (what Django's EXISTS-then-INCR can
    # leave): the next use opens a new window instead of refusing the subject for ever.
    subject = uuid.uuid4().hex
    cache.set(f"ratelimit:r-orphan:{subject}", 10, timeout=None)
    assert [ratelimit.hit("r-orphan", subject, limit=3, window=60) for _ in range(3)] == [
        None,
        None,
        None,
    ]
    assert ratelimit.hit("r-orphan", subject, limit=3, window=60) == 60


def test_several_counters_are_counted_in_one_round_trip(redis_cache, monkeypatch):
    subject = uuid.uuid4().hex
    calls = []
    real = ratelimit._run_script

    def counted(cache, keys, args):
        calls.append(keys)
        return real(cache, keys, args)

    monkeypatch.setattr(ratelimit, "_run_script", counted)
    counters = [("r-a", subject, 1, 30), ("r-b", subject, 2, 30)]
    assert ratelimit.hits(counters) == [None, None]
    second = ratelimit.hits(counters)
    assert second[0] is not None and second[1] is None  # each its own limit
    assert len(calls) == 2 and all(len(keys) == 4 for keys in calls)


def test_the_first_refusal_of_a_window_is_reported_once(redis_cache):
    subject = uuid.uuid4().hex
    reported = []
    for _ in range(4):
        ratelimit.hit("r-flood", subject, limit=1, window=30, on_first_refusal=reported.append)
    assert len(reported) == 1 and 1 <= reported[0] <= 30

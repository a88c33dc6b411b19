"""core.ratelimit.hit: the shared counter behind every limit (API keys, webhooks, sign-up)."""

import uuid

from django.core.cache import cache

from core.ratelimit import hit


def test_a_counter_left_without_its_window_opens_a_new_one():
    # What Redis leaves when the counter expires between Django's EXISTS and INCR: a
    # counter past the limit, with no expiry and no window start. It must not refuse the
    # subject for ever: the next use opens a new window.
    subject = uuid.uuid4().hex  # the cache may be a shared Redis
    cache.set(f"ratelimit:test-orphan:{subject}", 10, timeout=None)
    assert hit("test-orphan", subject, limit=3, window=60) is None
    assert [hit("test-orphan", subject, limit=3, window=60) for _ in range(2)] == [None, None]
    assert hit("test-orphan", subject, limit=3, window=60) == 60  # the fourth in the window


def test_past_the_limit_the_wait_is_what_is_left_of_the_window():
    subject = uuid.uuid4().hex
    assert [hit("test-window", subject, limit=2, window=30) for _ in range(2)] == [None, None]
    assert 1 <= hit("test-window", subject, limit=2, window=30) <= 30

"""When a not-eligible completion is asked again: recheck_time (no database)."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from claims.engine.rechecks import RECHECK_BACKOFF_MAX, recheck_time
from claims.models import Claim

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.parametrize("interval", [None, datetime.timedelta(0)])
def test_no_interval_means_no_recheck(interval):
    assert recheck_time(Claim(recheck_interval=interval), 0) is None
    assert recheck_time(Claim(recheck_interval=interval), 5) is None


@pytest.mark.parametrize(
    ("rechecks", "factor"), [(0, 1), (1, 2), (2, 4), (5, 32), (6, 64), (7, 64), (16, 64)]
)
def test_each_fruitless_recheck_doubles_the_wait_up_to_the_cap(rechecks, factor):
    assert recheck_time(Claim(recheck_interval=HOUR), rechecks) == NOW + factor * HOUR


@pytest.mark.parametrize("rechecks", [17, 1000, 10**12])
def test_a_huge_count_waits_the_cap_without_overflowing(rechecks):
    when = recheck_time(Claim(recheck_interval=HOUR), rechecks)
    assert when == NOW + RECHECK_BACKOFF_MAX * HOUR


def test_the_cap_is_sixty_four_intervals():
    assert RECHECK_BACKOFF_MAX == 64


def test_the_time_is_aware_and_from_now():
    when = recheck_time(Claim(recheck_interval=datetime.timedelta(minutes=10)), 0)
    assert timezone.is_aware(when)
    assert when - timezone.now() == datetime.timedelta(minutes=10)

"""The engine's waits, from settings: backoff, lease, attempts, polls (no database)."""

import datetime
import random

import pytest

from claims.engine.timing import (
    lease_duration,
    max_attempts,
    poll_deadline,
    poll_interval,
    retry_delay,
    unknown_outcome_wait,
)


@pytest.fixture
def backoff(settings):
    settings.CLAIMS_RETRY_BASE = 30.0
    settings.CLAIMS_RETRY_MAX = 3600.0
    return settings


@pytest.fixture
def no_jitter(monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: 1.0)


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 30), (2, 60), (3, 120), (4, 240), (7, 1920), (8, 3600), (9, 3600)],
)
def test_the_delay_doubles_per_attempt_up_to_the_ceiling(backoff, no_jitter, attempts, seconds):
    assert retry_delay(attempts) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("attempts", [0, -1, -1000])
def test_no_attempt_yet_or_a_nonsense_count_waits_the_base(backoff, no_jitter, attempts):
    assert retry_delay(attempts) == datetime.timedelta(seconds=30)


@pytest.mark.parametrize("attempts", [64, 65, 1025, 10**6])
def test_a_huge_attempt_count_waits_the_ceiling_without_overflowing(backoff, no_jitter, attempts):
    assert retry_delay(attempts) == datetime.timedelta(seconds=3600)


def test_the_jitter_spans_half_to_one_and_a_half_times(backoff, monkeypatch):
    bounds = []

    def uniform(low, high):
        bounds.append((low, high))
        return low

    monkeypatch.setattr(random, "uniform", uniform)
    assert retry_delay(3) == datetime.timedelta(seconds=60)
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    assert retry_delay(3) == datetime.timedelta(seconds=180)
    assert bounds == [(0.5, 1.5)]


def test_with_real_jitter_the_delay_stays_within_its_bounds(backoff):
    for attempts in range(1, 12):
        nominal = min(3600.0, 30.0 * 2 ** (attempts - 1))
        delay = retry_delay(attempts).total_seconds()
        assert 0.5 * nominal <= delay <= 1.5 * nominal


def test_the_settings_set_base_and_ceiling(settings, no_jitter):
    settings.CLAIMS_RETRY_BASE = 5
    settings.CLAIMS_RETRY_MAX = 12
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [5.0, 10.0, 12.0, 12.0]


def test_max_attempts_is_the_setting_but_never_below_one(settings):
    settings.CLAIMS_MAX_ATTEMPTS = 6
    assert max_attempts() == 6
    for nonsense in (0, -3):
        settings.CLAIMS_MAX_ATTEMPTS = nonsense
        assert max_attempts() == 1


def test_polls_read_their_settings_as_floats(settings):
    settings.CLAIMS_POLL_INTERVAL = "0.25"
    settings.CLAIMS_POLL_DEADLINE = 7
    assert poll_interval() == 0.25
    assert poll_deadline() == 7.0
    assert isinstance(poll_deadline(), float)


def test_polls_have_defaults_when_unset(settings):
    del settings.CLAIMS_POLL_INTERVAL
    del settings.CLAIMS_POLL_DEADLINE
    assert poll_interval() == 2.0
    assert poll_deadline() == 30.0


def test_the_lease_outlasts_a_whole_delivery(settings):
    """The poll, three rounds of both services' timeouts, and a minute's margin."""
    settings.CLAIMS_POLL_DEADLINE = 30
    settings.BITBADGES_TIMEOUT = 10
    settings.PIPEDREAM_TIMEOUT = 5
    assert lease_duration() == datetime.timedelta(seconds=30 + 3 * 15 + 60)


def test_the_lease_is_never_under_a_minute(settings):
    settings.CLAIMS_POLL_DEADLINE = -1000
    settings.BITBADGES_TIMEOUT = 0
    settings.PIPEDREAM_TIMEOUT = 0
    assert lease_duration() == datetime.timedelta(seconds=60)


def test_the_unknown_outcome_wait_is_its_setting(settings):
    settings.CLAIMS_UNKNOWN_OUTCOME_WAIT = 45
    assert unknown_outcome_wait() == datetime.timedelta(seconds=45)
    del settings.CLAIMS_UNKNOWN_OUTCOME_WAIT
    assert unknown_outcome_wait() == datetime.timedelta(minutes=5)

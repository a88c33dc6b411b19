"""Fixtures for the BitBadges client's tests: a client on a fake clock, `responses`."""

import pytest
import responses

from claims.bitbadges import BitBadgesClient
from claims.bitbadges import attempts as bitbadges_attempts
from tests.claims.bitbadges_support import FakeClock, make_client


@pytest.fixture(autouse=True)
def _forget_status_method():
    bitbadges_attempts._status_methods.clear()
    yield
    bitbadges_attempts._status_methods.clear()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(clock) -> BitBadgesClient:
    return make_client(clock)


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps

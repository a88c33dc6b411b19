"""Fixtures of the host sign-on tests (tests/hostsso/host_support.py drives them)."""

import pytest

from tests.hostsso.host_support import host_on


@pytest.fixture
def host(settings, live_server):
    """Host sign-on on, against the sandbox's provider served by live_server."""
    host_on(settings, live_server)
    return live_server

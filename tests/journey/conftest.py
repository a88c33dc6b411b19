"""Fixtures of the journey tests."""

import pytest

from tests.siwbb.siwbb_support import siwbb_on


@pytest.fixture
def siwbb_sandbox(settings, live_server):
    """Sign in with BitBadges on, against the sandbox served by live_server."""
    siwbb_on(settings, live_server)
    return live_server

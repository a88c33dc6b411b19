"""Fixtures for the connections tests (the `pd` fixture is in tests/conftest.py)."""

import pytest
import responses

from connections import signals
from connections.models import App
from tests.connections.pipedream_support import oauth_body
from tests.connections.views_support import API


@pytest.fixture
def github(db):
    return App.objects.create(slug="github", name="GitHub", enabled=True)


@pytest.fixture
def api():
    """Pipedream's API answered by `responses`; the OAuth token is always there."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(f"{API}/v1/oauth/token", json=oauth_body())
        yield rsps


@pytest.fixture
def received():
    """Signals sent, as (name, kwargs) in order."""
    got = []

    def receiver(signal_name):
        def handler(sender, **kwargs):
            kwargs.pop("signal", None)
            got.append((signal_name, kwargs))

        return handler

    handlers = {
        name: receiver(name)
        for name in ("account_connected", "account_disconnected", "account_health_changed")
    }
    for name, handler in handlers.items():
        getattr(signals, name).connect(handler, weak=False, dispatch_uid=f"test-{name}")
    yield got
    for name in handlers:
        getattr(signals, name).disconnect(dispatch_uid=f"test-{name}")

import pytest

from core import webhooks
from tests.webhooks import receiver_support
from webhooks.models import Endpoint


@pytest.fixture
def receiver():
    """receiver(statuses=()) -> a Receiver on 127.0.0.1 (tests/webhooks/receiver_support.py)."""
    yield from receiver_support.receivers()


@pytest.fixture
def endpoint_to():
    """endpoint_to(url, **fields) -> (Endpoint, its secret): an enabled endpoint."""

    def make(url, **fields):
        secret = webhooks.new_secret()
        endpoint = Endpoint(name=fields.pop("name", "Community site"), url=url, **fields)
        endpoint.set_secret(secret)
        endpoint.save()
        return endpoint, secret

    return make

"""Fixtures of the read API's tests (tests/api/api_support.py holds the helpers)."""

import pytest
from django.contrib.auth import get_user_model

from claims.models import Claim
from tests.api.api_support import ApiClient, host_signed_on, make_key


@pytest.fixture
def key(db):
    """A key with every scope: (the key, its row)."""
    return make_key()


@pytest.fixture
def api(client, key):
    """The API, called with `key`."""
    return ApiClient(client, key[0])


@pytest.fixture
def alice(member):
    """alice, whom the host site knows as host-alice-0001."""
    return host_signed_on(member, "host-alice-0001")


@pytest.fixture
def claim(db):
    return Claim.objects.create(slug="github-starter", name="GitHub starter", delivery="bitbadges")


@pytest.fixture
def make_members(db):
    def make(count: int, start: int = 0):
        users = get_user_model().objects
        return [users.create(username=f"m{start + i}") for i in range(count)]

    return make

"""Fixtures of the users tests."""

import pytest

from tests.members_support import verify_email


@pytest.fixture
def alice(django_user_model):
    """A member with a confirmed email and the demo's password."""
    return verify_email(
        django_user_model.objects.create_user(
            username="alice", email="alice@example.com", password="connect-demo"
        )
    )

"""Fixtures shared by the whole suite."""

import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.members_support import verify_email


def pytest_configure(config):
    # Tests serve static files from the source folders (no collectstatic step), the way
    # DEBUG does, while every other setting stays as in production.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    settings.STATIC_ROOT = tempfile.mkdtemp(prefix="cc-static-")
    # Hashing a password the production way takes most of a second; tests make many.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _close_upstream_connections():
    """A kept-alive connection to live_server would pin one of its request threads, and
    that thread's database connection, past the test (PostgreSQL then cannot drop the
    test database)."""
    yield
    from claims.bitbadges import close_shared_session as close_bitbadges_session
    from connections.pipedream import close_shared_session

    close_shared_session()
    close_bitbadges_session()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (tokens, rate limits)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def member(django_user_model):
    """alice, with her email address confirmed (as seed_demo's members are)."""
    return verify_email(
        django_user_model.objects.create_user(
            username="alice", email="alice@example.com", password="connect-demo"
        )
    )


@pytest.fixture
def unverified_member(django_user_model):
    """carol, who signed up but has not opened the confirmation link yet."""
    from allauth.account.models import EmailAddress

    user = django_user_model.objects.create_user(
        username="carol", email="carol@example.com", password="connect-demo"
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    return user


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium through Playwright, one for the whole run.

    One only: Playwright's sync API runs an event loop in the main thread for as long as
    it is open, and a second one started beside it refuses to start.
    """
    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, MISSING

    if not Path(CHROMIUM).exists():
        pytest.fail(MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A page in a fresh browser context (its own cookies), desktop-sized."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
